import { Command, Option } from 'commander';
import { AbusError, ArtifactEventType, RegistryEventType, RegistryResourceKind } from '@artifact-bus/contracts';
import type { ArtifactBusClient } from '../client.ts';
import { humanBytes, outputOption, printRecord, printRecords, type OutputFormat } from './output.ts';

type WithClient = <T>(run: (client: ArtifactBusClient) => Promise<T>) => Promise<T>;

function time(value: string): Date {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new AbusError('BAD_REQUEST', `"${value}" is not a time (use ISO 8601, e.g. 2026-01-31T12:00:00Z)`);
  return date;
}

interface AuditQueryOptions {
  kind: 'artifact' | 'registry';
  store?: string;
  key?: string;
  resource?: RegistryResourceKind;
  name?: string;
  requester?: string;
  type?: string;
  since?: Date;
  limit: number;
  output: OutputFormat;
}

/** Options that filter one kind of record only. */
function refuseOptionsOf(kind: string, options: AuditQueryOptions, names: (keyof AuditQueryOptions)[]): void {
  const given = names.filter((name) => options[name] !== undefined);
  if (given.length > 0) throw new AbusError('BAD_REQUEST', `${given.map((name) => `--${name}`).join(', ')} filter${given.length > 1 ? '' : 's'} ${kind} events only`);
}

export function auditCommands(withClient: WithClient): Command {
  const audit = new Command('audit').description('query the audit trail: artifact events, or registry changes with --kind registry');
  audit
    .command('query')
    .addOption(new Option('--kind <kind>', 'artifact events, or registry changes (stores, secrets, stacks)').choices(['artifact', 'registry']).default('artifact'))
    .option('--store <store>', 'artifact events of this store')
    .option('--key <prefix>', 'artifact events of keys starting with this prefix')
    .addOption(new Option('--resource <kind>', 'registry changes to this kind of resource').choices(RegistryResourceKind.options))
    .option('--name <name>', 'registry changes to the resource of this name (or previous name)')
    .option('--requester <who>', 'registry changes asked for by this requester')
    .addOption(new Option('--type <type>', 'only this event type').choices([...ArtifactEventType.options, ...RegistryEventType.options]))
    .option('--since <time>', 'only events at or after this time (ISO 8601)', time)
    .option('--limit <n>', 'at most this many rows', (v) => Number(v), 1000)
    .addOption(outputOption())
    .action(async (options: AuditQueryOptions) => {
      const since = options.since?.toISOString();
      if (options.kind === 'registry') {
        refuseOptionsOf('artifact', options, ['store', 'key']);
        const type = options.type === undefined ? undefined : RegistryEventType.safeParse(options.type);
        if (type && !type.success) throw new AbusError('BAD_REQUEST', `--type ${options.type} is an artifact event type; registry types are ${RegistryEventType.options.join(', ')}`);
        const records = await withClient((c) =>
          c.audit.queryRegistry({ kind: options.resource, name: options.name, requester: options.requester, type: type?.data, since, limit: options.limit }),
        );
        printRecords(options.output, records, [
          ['TIME', (r) => r.time],
          ['TYPE', (r) => r.type],
          ['NAME', (r) => (r.previousName ? `${r.previousName} -> ${r.name}` : r.name)],
          ['CHANGES', (r) => r.changes.join(', ')],
          ['REQUESTER', (r) => r.requester ?? ''],
        ]);
        return;
      }
      refuseOptionsOf('registry', options, ['resource', 'name', 'requester']);
      const type = options.type === undefined ? undefined : ArtifactEventType.safeParse(options.type);
      if (type && !type.success) throw new AbusError('BAD_REQUEST', `--type ${options.type} is a registry event type: add --kind registry`);
      const records = await withClient((c) => c.audit.query({ store: options.store, key: options.key, type: type?.data, since, limit: options.limit }));
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
  audit
    .command('lag')
    .description('how far the audit trail is behind the events stream')
    .addOption(outputOption())
    .action(async (options: { output: OutputFormat }) => printRecord(options.output, await withClient((c) => c.audit.lag())));
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
