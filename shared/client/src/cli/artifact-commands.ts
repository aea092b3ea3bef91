import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Command, Option } from 'commander';
import { exitCodeFor, parseStoreKey, type JobState } from '@artifact-bus/contracts';
import type { ArtifactBusClient } from '../client.ts';
import { humanBytes, outputOption, printJson, printRecord, printRecords, type OutputFormat } from './output.ts';
import { progressBar } from './progress.ts';

type WithClient = <T>(run: (client: ArtifactBusClient) => Promise<T>) => Promise<T>;

function metadataOption(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const at = value.indexOf('=');
  if (at <= 0) throw new Error(`--metadata takes key=value, got "${value}"`);
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
}

const wholeNumber = (value: string) => {
  if (!/^\d+$/.test(value)) throw new Error(`expected a whole number, got "${value}"`);
  return Number(value);
};

export function artifactCommands(withClient: WithClient): Command {
  const artifact = new Command('artifact').description('upload, download, list, inspect and delete artifacts');

  artifact
    .command('upload')
    .description('stream FILE (or - for stdin) into a store; without STORE: the active stack\'s store')
    .argument('<file>', 'a file, or - for standard input')
    .argument('<target>', '[STORE:]KEY')
    .option('--content-type <type>', 'content type recorded with the object')
    .option('--metadata <key=value>', 'user metadata (repeatable)', metadataOption)
    .option('--sha256 <hex>', 'expected sha256: the upload commits only if the bytes match')
    .option('--request-id <id>', 'the request id (default: a new uuid, printed first): `abus artifact cancel ID` stops the upload')
    .option('-q, --quiet', 'no progress bar')
    .action(async (file: string, target: string, options: { contentType?: string; metadata?: Record<string, string>; sha256?: string; requestId?: string; quiet?: boolean }) => {
      const { store, key } = parseStoreKey(target);
      const requestId = options.requestId ?? randomUUID();
      if (!options.quiet) process.stderr.write(`request id: ${requestId}\n`);
      const sizeBytes = file === '-' ? undefined : (await stat(file)).size;
      const source = file === '-' ? process.stdin : createReadStream(file, { highWaterMark: 1024 * 1024 });
      const progress = progressBar(`upload ${key}`, sizeBytes, !options.quiet);
      try {
        const result = await withClient((client) =>
          client.upload(store, key, source, {
            requestId,
            sizeBytes,
            contentType: options.contentType,
            metadata: options.metadata,
            sha256: options.sha256,
            onProgress: (n) => progress.update(n),
          }),
        );
        progress.stop();
        process.stderr.write(`uploaded ${result.uri} (${humanBytes(result.sizeBytes)}, sha256 ${result.sha256})\n`);
      } finally {
        progress.stop();
      }
    });

  artifact
    .command('download')
    .description('stream an artifact into FILE (or - for stdout)')
    .argument('<source>', '[STORE:]KEY')
    .argument('<file>', 'a file, or - for standard output')
    .option('--offset <bytes>', 'first byte to read', wholeNumber)
    .option('--length <bytes>', 'bytes to read', wholeNumber)
    .option('-q, --quiet', 'no progress bar')
    .action(async (source: string, file: string, options: { offset?: number; length?: number; quiet?: boolean }) => {
      const { store, key } = parseStoreKey(source);
      await withClient(async (client) => {
        let progress = progressBar('', 0, false);
        const stream = await client.download(store, key, { offset: options.offset, length: options.length, onProgress: (n) => progress.update(n) });
        progress = progressBar(`download ${key}`, stream.info.sizeBytes, !options.quiet && file !== '-');
        try {
          if (file === '-') {
            await pipeline(stream, process.stdout);
            return;
          }
          // Written beside the target and renamed at the end: a failed download leaves no half file.
          const partial = `${file}.abus-partial`;
          try {
            await pipeline(stream, createWriteStream(partial));
            await rename(partial, file);
          } catch (error) {
            await rm(partial, { force: true });
            throw error;
          }
        } finally {
          progress.stop();
        }
        process.stderr.write(`downloaded ${stream.info.uri} to ${file} (${humanBytes(stream.info.sizeBytes)})\n`);
      });
    });

  artifact
    .command('ls')
    .description('list artifacts under a prefix')
    .argument('[prefix]', '[STORE:]PREFIX', '')
    .addOption(outputOption())
    .addOption(new Option('--page-size <n>', 'objects per request').argParser(wholeNumber).default(1000))
    .action(async (prefixArg: string, options: { output: OutputFormat; pageSize: number }) => {
      const { store, key: prefix } = parseStoreKey(prefixArg);
      const objects = await withClient(async (client) => {
        const all = [];
        let pageToken: string | undefined;
        do {
          const page = await client.list(store, prefix, { pageSize: options.pageSize, pageToken });
          all.push(...page.objects);
          pageToken = page.nextPageToken;
        } while (pageToken);
        return all;
      });
      printRecords(options.output, objects, [
        ['KEY', (o) => o.key],
        ['SIZE', (o) => humanBytes(o.sizeBytes)],
        ['MODIFIED', (o) => o.modifiedAt],
      ]);
    });

  artifact
    .command('stat')
    .description('size, sha256, content type and metadata of an artifact')
    .argument('<target>', '[STORE:]KEY')
    .addOption(outputOption())
    .action(async (target: string, options: { output: OutputFormat }) => {
      const { store, key } = parseStoreKey(target);
      const reply = await withClient((client) => client.stat(store, key));
      printRecord(options.output, options.output === 'json' ? reply : { store: reply.store, uri: reply.uri, ...reply.object, size: humanBytes(reply.object.sizeBytes) });
    });

  artifact
    .command('cp')
    .description('copy between stores (any flavors) as a durable job; with --recursive, SOURCE and TARGET are prefixes')
    .argument('<source>', 'SRC_STORE:KEY')
    .argument('<target>', 'DST_STORE:KEY')
    .option('-r, --recursive', 'copy every object under the source prefix')
    .option('--overwrite', 'copy even objects that are already identical at the destination')
    .addOption(outputOption())
    .action(async (sourceArg: string, targetArg: string, options: { recursive?: boolean; overwrite?: boolean; output: OutputFormat }) => {
      const source = parseStoreKey(sourceArg);
      const destination = parseStoreKey(targetArg);
      const printed = { copied: 0, skipped: 0, failed: 0 };
      const report = (state: JobState) => {
        if (options.output === 'json') return;
        for (const item of state.copied.slice(printed.copied)) process.stderr.write(`copied   ${item.key} (${humanBytes(item.sizeBytes)})\n`);
        for (const key of state.skipped.slice(printed.skipped)) process.stderr.write(`skipped  ${key} (identical at the destination)\n`);
        for (const item of state.failed.slice(printed.failed)) process.stderr.write(`failed   ${item.key}: ${item.error.code}: ${item.error.message}\n`);
        printed.copied = state.copied.length;
        printed.skipped = state.skipped.length;
        printed.failed = state.failed.length;
      };
      const state = await withClient((client) => client.copy(source, destination, { recursive: options.recursive, overwrite: options.overwrite, onProgress: report }));
      if (options.output === 'json') printJson(state);
      else {
        process.stderr.write(
          `${state.state}: ${state.objectsCopied} copied (${humanBytes(state.bytesCopied)}), ${state.objectsSkipped} skipped, ${state.objectsFailed} failed of ${state.objectsTotal}` +
            (state.error ? ` (${state.error.code}: ${state.error.message})` : '') +
            '\n',
        );
      }
      const firstError = state.error ?? state.failed[0]?.error;
      if (state.state !== 'completed') process.exitCode = firstError ? exitCodeFor[firstError.code] : 1;
    });

  artifact
    .command('cancel')
    .description('cancel a running upload, download or copy job by its request or job id')
    .argument('<request-id>')
    .action(async (requestId: string) => {
      const reply = await withClient((client) => client.cancel(requestId));
      process.stderr.write(`cancelled ${requestId} on ${reply.workerId}\n`);
    });

  artifact
    .command('rm')
    .description('delete an artifact')
    .argument('<target>', '[STORE:]KEY')
    .action(async (target: string) => {
      const { store, key } = parseStoreKey(target);
      const reply = await withClient((client) => client.delete(store, key));
      process.stderr.write(reply.deleted ? `deleted ${reply.uri}\n` : `nothing to delete at ${reply.uri}\n`);
    });

  return artifact;
}
