/**
 * `npm run bench`: uploads and downloads one random artifact through the stack (client → NATS →
 * transfer worker → store) to s3rver and to the local store, and the same bytes directly from this
 * process (AWS SDK, fs streams), in the same run; prints MB/s of each, the ratio stack/direct, the
 * CPU seconds both spent (all processes together), and the transfer worker's peak resident set.
 * A benchmark, not a test: it exits 0 whatever the figures, and 1 only when it could not measure
 * (a service failed, a byte came back wrong).
 *
 *   npm run bench -- [--size-mib 1024] [--runs 1] [--only s3|local|azure|copy] [--profile-worker DIR]
 *
 * Rows: s3 (s3rver) and azure (Azurite) upload and download, local upload and download, and a
 * store-to-store copy s3 → azure (a copy job on the worker) against the same copy done directly
 * with both SDKs in this process.
 *
 * --profile-worker writes a V8 CPU profile of the transfer worker into DIR when it stops
 * (open it in Chrome DevTools or speedscope).
 *
 * The worker's tuning comes from the same variables as in production (ABUS_PART_SIZE_BYTES,
 * ABUS_PARTS_IN_FLIGHT, ABUS_CHUNK_SIZE_BYTES, ABUS_WINDOW_CHUNKS); the direct S3 upload uses
 * the same part size and parallelism, and the client's download window is ABUS_WINDOW_CHUNKS.
 */
import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { chunkSizeFor, loadConfig } from '@artifact-bus/contracts';
import { TransferEnv } from '@artifact-bus/transfer';
import { tempDir } from '../harness/index.ts';
import { flushDirtyPages, removeWhenGone, sha256OfFile, writeRandomFile } from './bench-files.ts';
import { BENCH_AZURE_STORE, BENCH_BUCKET, BENCH_CONTAINER, BENCH_S3_STORE, startBenchStack, type WorkerTuning } from './bench-stack.ts';
import { CpuMeter, procStatusBytes, RssSampler } from './process-usage.ts';
import { formatTable, megabytesPerSecond, summariseRow, summariseRss, totalCpuSeconds, type RowMeasurements } from './report.ts';
import {
  copyDirectS3ToAzure,
  copyFileStream,
  downloadDirectFromAzure,
  downloadDirectFromS3,
  downloadThroughStack,
  uploadDirectToAzure,
  uploadDirectToS3,
  uploadThroughStack,
} from './transfers.ts';

const MiB = 1024 * 1024;
const WORKER_MAX_RSS_MiB = 200;

const BenchOptions = z.object({
  'size-mib': z.coerce.number().int().min(1).max(65_536).default(1024),
  runs: z.coerce.number().int().min(1).max(20).default(1),
  only: z.enum(['s3', 'local', 'azure', 'copy']).optional(),
  'profile-worker': z.string().min(1).optional(),
});
type BenchOptions = z.infer<typeof BenchOptions>;

/** The worker's own variables and defaults, read once here and passed to the worker explicitly. */
const TuningEnv = TransferEnv.pick({ ABUS_PART_SIZE_BYTES: true, ABUS_PARTS_IN_FLIGHT: true, ABUS_CHUNK_SIZE_BYTES: true, ABUS_WINDOW_CHUNKS: true });

function readOptions(): BenchOptions {
  const { values } = parseArgs({
    options: { 'size-mib': { type: 'string' }, runs: { type: 'string' }, only: { type: 'string' }, 'profile-worker': { type: 'string' } },
    strict: true,
  });
  const parsed = BenchOptions.safeParse(values);
  if (!parsed.success) throw new Error(`bad option: ${parsed.error.issues.map((issue) => `--${issue.path.join('.')}: ${issue.message}`).join('; ')}`);
  return parsed.data;
}

function readTuning(): WorkerTuning {
  const env = loadConfig(TuningEnv);
  return {
    partSizeBytes: env.ABUS_PART_SIZE_BYTES,
    partsInFlight: env.ABUS_PARTS_IN_FLIGHT,
    chunkSizeBytes: env.ABUS_CHUNK_SIZE_BYTES,
    windowChunks: env.ABUS_WINDOW_CHUNKS,
  };
}

const log = (line: string) => process.stderr.write(`${line}\n`);

/** Stop functions of everything started, run last-first at the end, on error and on Ctrl-C. */
const stops: (() => Promise<void>)[] = [];
const STOP_TIMEOUT_MS = 20_000;
let stopping: Promise<void> | undefined;
function stopEverything(): Promise<void> {
  stopping ??= (async () => {
    for (const stop of stops.reverse()) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`a stop took longer than ${STOP_TIMEOUT_MS} ms`)), STOP_TIMEOUT_MS);
      });
      // One stop that hangs must not keep the others (temp folders, child processes) from running.
      await Promise.race([stop(), timeout])
        .catch((error: unknown) => log(`cleanup: ${(error as Error).message}`))
        .finally(() => clearTimeout(timer));
    }
  })();
  return stopping;
}

interface Side {
  run: () => Promise<void>;
  /** Untimed, after the timed part: verification and removal of what it wrote. */
  after?: () => Promise<void>;
}

async function main(): Promise<void> {
  const options = readOptions();
  const tuning = readTuning();
  const sizeBytes = options['size-mib'] * MiB;

  const work = await tempDir('bench');
  stops.push(() => work.remove());
  removeWhenGone(work.path);
  // The harness's temp folders (NATS store, s3rver data, the services' data folder) go inside the
  // work folder from here on, so that removing it removes them all.
  const systemTmpDir = tmpdir();
  process.env.TMPDIR = work.path;
  const sourceFile = path.join(work.path, 'source.bin');
  const downloadFile = path.join(work.path, 'download.bin');
  const directStore = path.join(work.path, 'direct-store');
  await mkdir(directStore);
  log(`writing ${options['size-mib']} MiB of random bytes to ${sourceFile}`);
  const sourceSha256 = await writeRandomFile(sourceFile, sizeBytes);

  log('starting nats-server, s3rver and the registry, audit and transfer services');
  const workerProfileDir = options['profile-worker'] ? path.resolve(options['profile-worker']) : undefined;
  const stack = await startBenchStack({ tuning, workerProfileDir, servicesTmpDir: systemTmpDir }, (stop) => stops.push(stop));
  const workerAtRestBytes = procStatusBytes(stack.workerPid, 'VmRSS') ?? NaN;
  const { client } = stack;
  const s3 = stack.s3.client();
  stops.push(async () => s3.destroy());
  const azure = stack.azurite.client().getContainerClient(BENCH_CONTAINER);

  const chunkSizeBytes = chunkSizeFor(client.nc, tuning.chunkSizeBytes);
  const maxPayloadBytes = client.nc.info?.max_payload ?? NaN;
  log(
    `size ${options['size-mib']} MiB, ${options.runs} run(s); part ${tuning.partSizeBytes / MiB} MiB x ${tuning.partsInFlight} in flight; ` +
      `chunk ${chunkSizeBytes} B (NATS max_payload ${maxPayloadBytes}) x window ${tuning.windowChunks}; database ${stack.database}; ` +
      `node ${process.version}; ${availableParallelism()} cpus; worker RSS at rest ${(workerAtRestBytes / MiB).toFixed(1)} MiB`,
  );

  const verifyDownload = async () => {
    const sha256 = await sha256OfFile(downloadFile);
    if (sha256 !== sourceSha256) throw new Error(`the downloaded file's sha256 is ${sha256}, the source's ${sourceSha256}`);
    await rm(downloadFile);
  };
  const expectSourceDigest = (sha256: string) => {
    if (sha256 !== sourceSha256) throw new Error(`the stack stored sha256 ${sha256}, the source's is ${sourceSha256}`);
  };

  const rows = new Map<string, RowMeasurements>();
  /** Times both sides of a row; which side goes first alternates between runs. */
  const measure = async (name: string, baseline: string, minRatio: number, run: number, stackSide: Side, directSide: Side) => {
    let row = rows.get(name);
    if (!row) rows.set(name, (row = { name, baseline, minRatio, stack: [], direct: [], workerPeakRssBytes: [] }));
    const sides = [
      ['stack', stackSide],
      ['direct', directSide],
    ] as const;
    for (const [which, side] of run % 2 === 1 ? sides : [...sides].reverse()) {
      await flushDirtyPages();
      const rss = which === 'stack' ? new RssSampler(stack.workerPid) : undefined;
      const cpu = new CpuMeter();
      const startedAt = performance.now();
      await side.run();
      const elapsedMs = performance.now() - startedAt;
      const cpuSeconds = cpu.stop();
      const rssBytes = rss?.stop();
      const MBps = megabytesPerSecond(sizeBytes, elapsedMs);
      row[which].push({ MBps: Number(MBps.toFixed(1)), cpuSeconds });
      if (rssBytes !== undefined) row.workerPeakRssBytes.push(rssBytes);
      const busy = Object.entries(cpuSeconds)
        .filter(([, seconds]) => seconds >= 0.05)
        .map(([process, seconds]) => `${process} ${seconds}`)
        .join(', ');
      log(
        `run ${run} ${name} ${which}: ${(elapsedMs / 1000).toFixed(2)} s, ${MBps.toFixed(1)} MB/s; ` +
          `CPU ${totalCpuSeconds(cpuSeconds).toFixed(2)} s (${busy})${rssBytes === undefined ? '' : `; worker RSS peak ${(rssBytes / MiB).toFixed(1)} MiB`}`,
      );
      await side.after?.();
    }
  };

  for (let run = 1; run <= options.runs; run++) {
    const stackKey = `bench/stack-${run}.bin`;
    const wants = (row: 's3' | 'local' | 'azure' | 'copy') => options.only === undefined || options.only === row;
    if (wants('s3') || wants('copy')) {
      const directKey = `bench/direct-${run}.bin`;
      await measure(
        's3 upload',
        'lib-storage Upload, same part size and parallelism',
        0.8,
        run,
        { run: async () => expectSourceDigest(await uploadThroughStack(client, BENCH_S3_STORE, stackKey, sourceFile, sizeBytes)) },
        { run: () => uploadDirectToS3(s3, BENCH_BUCKET, directKey, sourceFile, tuning) },
      );
      if (!wants('s3')) rows.delete('s3 upload');
      if (wants('copy')) {
        await measure(
          'copy s3 → azure',
          'GetObject streamed into staged blocks by both SDKs in one process',
          0.8,
          run,
          {
            run: async () => {
              const job = await client.copy({ store: BENCH_S3_STORE, key: stackKey }, { store: BENCH_AZURE_STORE, key: `copied-${run}.bin` });
              if (job.state !== 'completed' || job.copied[0]?.sha256 !== sourceSha256) throw new Error(`the copy job ended ${job.state}: ${JSON.stringify(job.failed)}`);
            },
            after: async () => void (await client.delete(BENCH_AZURE_STORE, `copied-${run}.bin`)),
          },
          {
            run: () => copyDirectS3ToAzure(s3, BENCH_BUCKET, directKey, azure, `direct-copied-${run}.bin`, tuning),
            after: async () => void (await azure.getBlockBlobClient(`direct-copied-${run}.bin`).delete()),
          },
        );
      }
      if (wants('s3')) {
        await measure(
          's3 download',
          'GetObject streamed to a file',
          0.8,
          run,
          { run: () => downloadThroughStack(client, BENCH_S3_STORE, stackKey, downloadFile), after: verifyDownload },
          { run: () => downloadDirectFromS3(s3, BENCH_BUCKET, directKey, downloadFile), after: verifyDownload },
        );
      }
      await client.delete(BENCH_S3_STORE, stackKey);
      await s3.send(new DeleteObjectCommand({ Bucket: BENCH_BUCKET, Key: directKey }));
    }
    if (wants('azure')) {
      const directBlob = `direct-${run}.bin`;
      await measure(
        'azure upload',
        'BlockBlobClient.uploadStream, same block size and parallelism',
        0.8,
        run,
        { run: async () => expectSourceDigest(await uploadThroughStack(client, BENCH_AZURE_STORE, stackKey, sourceFile, sizeBytes)) },
        { run: () => uploadDirectToAzure(azure, directBlob, createReadStream(sourceFile), tuning) },
      );
      await measure(
        'azure download',
        'BlobClient.download streamed to a file',
        0.8,
        run,
        { run: () => downloadThroughStack(client, BENCH_AZURE_STORE, stackKey, downloadFile), after: verifyDownload },
        { run: () => downloadDirectFromAzure(azure, directBlob, downloadFile), after: verifyDownload },
      );
      await client.delete(BENCH_AZURE_STORE, stackKey);
      await azure.getBlockBlobClient(directBlob).delete();
    }
    if (wants('local')) {
      const directFile = path.join(directStore, `direct-${run}.bin`);
      await measure(
        'local upload',
        'fs stream copy, fsync before close',
        0.5,
        run,
        { run: async () => expectSourceDigest(await uploadThroughStack(client, 'default', stackKey, sourceFile, sizeBytes)) },
        { run: () => copyFileStream(sourceFile, directFile, { durable: true }) },
      );
      await measure(
        'local download',
        'fs stream copy',
        0.5,
        run,
        { run: () => downloadThroughStack(client, 'default', stackKey, downloadFile), after: verifyDownload },
        { run: () => copyFileStream(directFile, downloadFile, { durable: false }), after: verifyDownload },
      );
      await client.delete('default', stackKey);
      await rm(directFile);
    }
  }

  const workerPeakBytes = procStatusBytes(stack.workerPid, 'VmHWM');
  if (workerPeakBytes === undefined) throw new Error(`the transfer worker (pid ${stack.workerPid}) is gone`);
  const summaries = [...rows.values()].map(summariseRow);
  const rss = summariseRss(workerPeakBytes, workerAtRestBytes, WORKER_MAX_RSS_MiB);
  process.stdout.write(`\n${formatTable(summaries, rss)}\n\n`);
  const summary = {
    benchmark: 'transfer',
    sizeMiB: options['size-mib'],
    runs: options.runs,
    tuning: { ...tuning, effectiveChunkSizeBytes: chunkSizeBytes, natsMaxPayloadBytes: maxPayloadBytes },
    database: stack.database,
    rows: summaries,
    workerRss: rss,
    benchProcessPeakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    pass: summaries.every((row) => row.pass) && rss.pass,
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    log(`\n${signal}: stopping everything the benchmark started`);
    void stopEverything().finally(() => process.exit(130));
  });
}

try {
  await main();
} catch (error) {
  if (!interrupted) {
    log(`transfer bench failed: ${(error as Error).stack ?? String(error)}`);
    process.exitCode = 1;
  }
} finally {
  await stopEverything();
}
// An SDK client's keep-alive socket must not hold the process open once everything is stopped.
process.exit(interrupted ? 130 : (process.exitCode ?? 0));
