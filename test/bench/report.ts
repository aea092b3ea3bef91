const MiB = 1024 * 1024;

/** CPU seconds by process name ("client" is the benchmark's own process). */
export type CpuSeconds = Record<string, number>;

/** One timed transfer. */
export interface Sample {
  MBps: number;
  cpuSeconds: CpuSeconds;
}

/** One line of the table: the same transfer through the stack and directly, over every run. */
export interface RowMeasurements {
  name: string;
  /** What the stack is compared with. */
  baseline: string;
  /** Least acceptable stack/direct throughput ratio. */
  minRatio: number;
  stack: Sample[];
  direct: Sample[];
  /** The transfer worker's peak resident set while the stack transfer ran, per run. */
  workerPeakRssBytes: number[];
}

export interface RowSummary {
  name: string;
  baseline: string;
  stackMBps: number;
  directMBps: number;
  ratio: number;
  minRatio: number;
  pass: boolean;
  /** CPU seconds of all processes together; less sensitive than MB/s to other load on the machine. */
  stackCpuSeconds: number;
  directCpuSeconds: number;
  workerPeakRssMiB: number;
  runs: { stack: Sample[]; direct: Sample[] };
}

export interface RssSummary {
  /** VmHWM: the worker's peak over its whole life. */
  peakMiB: number;
  /** After start-up, before the first transfer. */
  atRestMiB: number;
  maxMiB: number;
  pass: boolean;
}

/** MB/s in decimal megabytes (10^6 bytes), as disks and networks are rated. */
export function megabytesPerSecond(sizeBytes: number, elapsedMs: number): number {
  return sizeBytes / 1e6 / (elapsedMs / 1000);
}

export function totalCpuSeconds(cpuSeconds: CpuSeconds): number {
  return Object.values(cpuSeconds).reduce((sum, seconds) => sum + seconds, 0);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? NaN) : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2;
}

const round = (value: number, digits: number) => Number(value.toFixed(digits));

/** With several runs, the median of each column; the ratio is that of the medians. */
export function summariseRow(row: RowMeasurements): RowSummary {
  const stackMBps = median(row.stack.map((s) => s.MBps));
  const directMBps = median(row.direct.map((s) => s.MBps));
  const ratio = stackMBps / directMBps;
  return {
    name: row.name,
    baseline: row.baseline,
    stackMBps: round(stackMBps, 1),
    directMBps: round(directMBps, 1),
    // Rounded down, so that a ratio shown as the target does meet it.
    ratio: Math.floor(ratio * 100) / 100,
    minRatio: row.minRatio,
    pass: ratio >= row.minRatio,
    stackCpuSeconds: round(median(row.stack.map((s) => totalCpuSeconds(s.cpuSeconds))), 2),
    directCpuSeconds: round(median(row.direct.map((s) => totalCpuSeconds(s.cpuSeconds))), 2),
    workerPeakRssMiB: round(Math.max(...row.workerPeakRssBytes) / MiB, 1),
    runs: { stack: row.stack, direct: row.direct },
  };
}

export function summariseRss(peakBytes: number, atRestBytes: number, maxMiB: number): RssSummary {
  return { peakMiB: round(peakBytes / MiB, 1), atRestMiB: round(atRestBytes / MiB, 1), maxMiB, pass: peakBytes < maxMiB * MiB };
}

export function formatTable(rows: RowSummary[], rss: RssSummary): string {
  const header = ['transfer', 'stack MB/s', 'direct MB/s', 'ratio', 'target', 'result', 'CPU s stack', 'CPU s direct', 'worker RSS MiB', 'baseline'];
  const lines = rows.map((row) => [
    row.name,
    row.stackMBps.toFixed(1),
    row.directMBps.toFixed(1),
    row.ratio.toFixed(2),
    `>= ${row.minRatio}`,
    row.pass ? 'pass' : 'FAIL',
    row.stackCpuSeconds.toFixed(1),
    row.directCpuSeconds.toFixed(1),
    row.workerPeakRssMiB.toFixed(1),
    row.baseline,
  ]);
  lines.push([
    'worker peak RSS',
    '',
    '',
    '',
    `< ${rss.maxMiB} MiB`,
    rss.pass ? 'pass' : 'FAIL',
    '',
    '',
    rss.peakMiB.toFixed(1),
    `VmHWM of the transfer worker (${rss.atRestMiB.toFixed(1)} MiB at rest)`,
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => (line[column] ?? '').length)));
  const numeric = new Set([1, 2, 3, 6, 7, 8]);
  const format = (cells: string[]) =>
    cells
      .map((cell, column) => (numeric.has(column) ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  return [format(header), widths.map((width) => '-'.repeat(width)).join('  '), ...lines.map(format)].join('\n');
}
