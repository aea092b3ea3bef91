import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** A field of /proc/<pid>/status in bytes (VmHWM: peak resident set so far; VmRSS: current), or undefined once the process is gone. */
export function procStatusBytes(pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(text);
  return match?.[1] === undefined ? undefined : Number(match[1]) * 1024;
}

/** Samples a process's resident set while one measurement runs: the peak of that phase (VmHWM is the peak of the process's life). */
export class RssSampler {
  private peakBytes = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    intervalMs = 50,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    this.peakBytes = Math.max(this.peakBytes, procStatusBytes(this.pid, 'VmRSS') ?? 0);
  }

  /** Stops sampling; returns the peak resident set seen, in bytes. */
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peakBytes;
  }
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on every Linux that runs Node). */
const TICKS_PER_SECOND = 100;

function cpuSecondsOf(pid: number | 'self'): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the command name (which may hold spaces) start at the state, field 3; utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

function childrenOf(pid: number): { pid: number; name: string }[] {
  const children: { pid: number; name: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== pid) continue;
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      children.push({ pid: Number(entry), name: processName(argv) });
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

/** A short name for a child of the benchmark: nats-server, s3rver, or the service whose main.ts it runs. */
function processName(argv: string[]): string {
  const service = argv.map((arg) => /services\/([^/]+)\/src\/main\.ts$/.exec(arg)?.[1]).find(Boolean);
  if (service) return service;
  if (argv.some((arg) => arg.endsWith('s3rver.js'))) return 's3rver';
  return path.basename(argv[0] ?? 'unknown');
}

/**
 * CPU seconds (user + system) that this process ("client": the benchmark, which hosts the client
 * and the direct transfers) and each of its children spent from construction to `stop()`.
 */
export class CpuMeter {
  private readonly atStart = new Map<string, { pid: number | 'self'; seconds: number }>();

  constructor() {
    this.atStart.set('client', { pid: 'self', seconds: cpuSecondsOf('self') ?? 0 });
    for (const child of childrenOf(process.pid)) this.atStart.set(child.name, { pid: child.pid, seconds: cpuSecondsOf(child.pid) ?? 0 });
  }

  /** Seconds by process name; processes that used none are left out. */
  stop(): Record<string, number> {
    const spent: Record<string, number> = {};
    for (const [name, start] of this.atStart) {
      const seconds = Number(((cpuSecondsOf(start.pid) ?? start.seconds) - start.seconds).toFixed(2));
      if (seconds > 0) spent[name] = seconds;
    }
    return spent;
  }
}
