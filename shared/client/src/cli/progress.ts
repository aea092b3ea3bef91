import { SingleBar, Presets } from 'cli-progress';

export interface Progress {
  update(bytes: number): void;
  stop(): void;
}

/** A progress bar on stderr when it is a terminal; silent otherwise (pipes, CI, `-` as output). */
export function progressBar(label: string, totalBytes: number | undefined, enabled: boolean): Progress {
  if (!enabled || !process.stderr.isTTY) return { update() {}, stop() {} };
  const bar = new SingleBar(
    {
      format: `${label} [{bar}] {percentage}% | {value}/{total} MiB | {speed} MiB/s | ETA {eta_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      formatValue: (value, _options, type) => (type === 'value' || type === 'total' ? (value / 1048576).toFixed(1) : String(value)),
    },
    Presets.shades_classic,
  );
  const started = Date.now();
  bar.start(totalBytes ?? 0, 0, { speed: '0.0' });
  return {
    update(bytes) {
      if (totalBytes === undefined) bar.setTotal(bytes);
      bar.update(bytes, { speed: (bytes / 1048576 / Math.max(0.001, (Date.now() - started) / 1000)).toFixed(1) });
    },
    stop() {
      bar.stop();
    },
  };
}
