import { Command, Option } from 'commander';
import { AbusError, ArtifactEventType } from '@artifact-bus/contracts';
import type { ArtifactBusClient } from '../client.ts';
import { humanBytes, outputOption, printRecords, type OutputFormat } from './output.ts';

type WithClient = <T>(run: (client: ArtifactBusClient) => Promise<T>) => Promise<T>;

function time(value: string): Date {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new AbusError('BAD_REQUEST', `"${value}" is not a time (use ISO 8601, e.g. 2026-01-31T12:00:00Z)`);
  return date;
}

export function auditCommands(withClient: WithClient): Command {
  const audit = new Command('audit').description('query the audit trail of artifact events');
  audit
    .command('query')
    .option('--store <store>', 'only this store')
    .option('--key <prefix>', 'only keys starting with this prefix')
    .addOption(new Option('--type <type>', 'only this event type').choices(ArtifactEventType.options))
    .option('--since <time>', 'only events at or after this time (ISO 8601)', time)
    .option('--limit <n>', 'at most this many rows', (v) => Number(v), 1000)
    .addOption(outputOption())
    .action(async (options: { store?: string; key?: string; type?: ArtifactEventType; since?: Date; limit: number; output: OutputFormat }) => {
      const records = await withClient((c) =>
        c.audit.query({ store: options.store, key: options.key, type: options.type, since: options.since?.toISOString(), limit: options.limit }),
      );
      printRecords(options.output, records, [
        ['TIME', (r) => r.time],
        ['TYPE', (r) => r.type],
        ['OPERATION', (r) => r.operation],
        ['STORE', (r) => r.store ?? ''],
        ['KEY', (r) => r.key ?? ''],
        ['SIZE', (r) => humanBytes(r.sizeBytes)],
        ['REQUESTER', (r) => r.requester ?? ''],
        ['ERROR', (r) => (r.error ? `${r.error.code}: ${r.error.message}` : '')],
      ]);
    });
  return audit;
}

export function eventCommands(withClient: WithClient): Command {
  const events = new Command('events').description('artifact lifecycle events');
  events
    .command('tail')
    .description('print events as they happen, until Ctrl-C')
    .option('--since <time>', 'start from this time instead of now', time)
    .addOption(outputOption())
    .action(async (options: { since?: Date; output: OutputFormat }) => {
      const stop = new AbortController();
      process.once('SIGINT', () => stop.abort());
      process.once('SIGTERM', () => stop.abort());
      await withClient(async (client) => {
        for await (const event of client.tailEvents({ since: options.since, signal: stop.signal })) {
          if (options.output === 'json') process.stdout.write(`${JSON.stringify(event)}\n`);
          else {
            const what = [event.time, event.type.padEnd(9), event.operation.padEnd(8), `${event.store ?? '-'}:${event.key ?? '-'}`];
            if (event.sizeBytes !== null) what.push(humanBytes(event.sizeBytes));
            if (event.error) what.push(`${event.error.code}: ${event.error.message}`);
            process.stdout.write(`${what.join('  ')}\n`);
          }
        }
      });
    });
  return events;
}
