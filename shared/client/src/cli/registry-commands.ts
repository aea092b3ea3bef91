import { Command, Option } from 'commander';
import { AbusError, StoreFlavor, type ArtifactStore } from '@artifact-bus/contracts';
import type { ArtifactBusClient } from '../client.ts';
import { outputOption, printJson, printRecord, printRecords, type OutputFormat } from './output.ts';
import { readSecretValues } from './secret-values.ts';

type WithClient = <T>(run: (client: ArtifactBusClient) => Promise<T>) => Promise<T>;

type JsonOptions = Record<string, unknown>;

/** Parses a `--client_kwargs`-style JSON object flag, naming the flag when it does not parse. */
function jsonObject(flag: string) {
  return (value: string): Record<string, unknown> => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch (error) {
      throw new AbusError('INVALID_STORE_OPTION', `${flag} is not valid JSON: ${(error as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new AbusError('INVALID_STORE_OPTION', `${flag} must be a JSON object, like '{"endpoint_url": "http://minio:9000"}'`);
    }
    return parsed as Record<string, unknown>;
  };
}

/** `--key=value` and `--key value` pairs left over after commander's own options. */
export function keyValuePairs(args: string[]): Record<string, string> {
  const values: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const match = /^--([^=]+)(?:=(.*))?$/s.exec(arg);
    // The argument is not echoed: it may be a value typed without its --key=.
    if (!match?.[1]) throw new AbusError('BAD_REQUEST', `expected --key=value pairs, got argument ${i + 1} without a leading "--"`);
    const value = match[2] ?? args[++i];
    if (value === undefined) throw new AbusError('BAD_REQUEST', `--${match[1]} needs a value`);
    values[match[1]] = value;
  }
  return values;
}

const storeColumns: [string, (s: ArtifactStore) => string][] = [
  ['NAME', (s) => s.name],
  ['FLAVOR', (s) => s.flavor],
  ['PATH', (s) => s.path],
  ['SECRET', (s) => s.authenticationSecret ?? ''],
];

export function artifactStoreCommands(withClient: WithClient): Command {
  const stores = new Command('artifact-store').description('register and manage artifact stores (s3, azure, local)');
  stores
    .command('register')
    .description('register an artifact store')
    .argument('<name>')
    .addOption(new Option('-f, --flavor <flavor>', 'store flavor').choices(StoreFlavor.options).makeOptionMandatory())
    .requiredOption('--path <uri>', 'root path: s3://bucket[/prefix], az://container[/prefix] or an absolute directory')
    .option('--authentication_secret <secret>', 'secret holding the credentials')
    .option('--client_kwargs <json>', 'client options, e.g. {"endpoint_url": ..., "region_name": ...}', jsonObject('--client_kwargs'))
    .option('--config_kwargs <json>', 'client config, e.g. {"s3": {"addressing_style": "path"}}', jsonObject('--config_kwargs'))
    .option('--s3_additional_kwargs <json>', 'applied to every write, e.g. {"ServerSideEncryption": "AES256"}', jsonObject('--s3_additional_kwargs'))
    .addOption(outputOption())
    .action(async (name: string, options: { flavor: StoreFlavor; path: string; authentication_secret?: string; client_kwargs?: Record<string, unknown>; config_kwargs?: Record<string, unknown>; s3_additional_kwargs?: Record<string, unknown>; output: OutputFormat }) => {
      const store = await withClient((client) =>
        client.stores.register(name, {
          flavor: options.flavor,
          path: options.path,
          authenticationSecret: options.authentication_secret,
          clientKwargs: options.client_kwargs,
          configKwargs: options.config_kwargs,
          s3AdditionalKwargs: options.s3_additional_kwargs,
        }),
      );
      printRecord(options.output, store);
    });
  stores
    .command('update')
    .description('change a store: each option given replaces the stored one, checked like a registration')
    .argument('<name>')
    .option('--path <uri>', 'new root path (same flavor)')
    .addOption(new Option('--authentication_secret <secret>', 'secret holding the credentials').conflicts('removeAuthenticationSecret'))
    .option('--remove-authentication-secret', 'use no secret: the worker\'s implicit credentials')
    .option('--client_kwargs <json>', 'replaces the client options; {} removes them', jsonObject('--client_kwargs'))
    .option('--config_kwargs <json>', 'replaces the client config; {} removes it', jsonObject('--config_kwargs'))
    .option('--s3_additional_kwargs <json>', 'replaces the write options; {} removes them', jsonObject('--s3_additional_kwargs'))
    .addOption(outputOption())
    .action(
      async (
        name: string,
        options: { path?: string; authentication_secret?: string; removeAuthenticationSecret?: boolean; client_kwargs?: JsonOptions; config_kwargs?: JsonOptions; s3_additional_kwargs?: JsonOptions; output: OutputFormat },
      ) => {
        const store = await withClient((client) =>
          client.stores.update(name, {
            path: options.path,
            authenticationSecret: options.removeAuthenticationSecret ? null : options.authentication_secret,
            clientKwargs: options.client_kwargs,
            configKwargs: options.config_kwargs,
            s3AdditionalKwargs: options.s3_additional_kwargs,
          }),
        );
        printRecord(options.output, store);
      },
    );
  stores
    .command('rename')
    .description('rename a store; the stacks that use it follow')
    .argument('<name>')
    .argument('<new-name>')
    .addOption(outputOption())
    .action(async (name: string, newName: string, options: { output: OutputFormat }) => printRecord(options.output, await withClient((c) => c.stores.rename(name, newName))));
  stores
    .command('deploy')
    .description('create the bucket, container or folder that the store\'s path points to, when missing')
    .argument('<name>')
    .addOption(outputOption())
    .action(async (name: string, options: { output: OutputFormat }) => {
      const deployed = await withClient((c) => c.stores.deploy(name));
      if (options.output === 'json') printJson(deployed);
      else process.stderr.write(deployed.created ? `created ${deployed.resource} for artifact store ${name}\n` : `${deployed.resource} already exists; nothing to do\n`);
    });
  stores
    .command('list')
    .addOption(outputOption())
    .action(async (options: { output: OutputFormat }) => printRecords(options.output, await withClient((c) => c.stores.list()), storeColumns));
  stores
    .command('describe')
    .argument('<name>')
    .addOption(outputOption())
    .action(async (name: string, options: { output: OutputFormat }) => printRecord(options.output, await withClient((c) => c.stores.describe(name))));
  stores
    .command('delete')
    .argument('<name>')
    .option('--force', 'also delete the stacks that use it')
    .action(async (name: string, options: { force?: boolean }) => {
      await withClient((c) => c.stores.delete(name, { force: options.force }));
      process.stderr.write(`deleted artifact store ${name}\n`);
    });
  return stores;
}

/** Values from `--values` (a JSON or YAML mapping), then from `--key=value` pairs, which win. */
async function secretValues(rest: string[], source: string | undefined): Promise<Record<string, string>> {
  return { ...(source === undefined ? {} : await readSecretValues(source)), ...keyValuePairs(rest) };
}

const VALUES_HELP = 'JSON or YAML mapping of key: value: @FILE, @- for standard input, or the text itself';

export function secretCommands(withClient: WithClient): Command {
  const secrets = new Command('secret').description('secrets: values are encrypted at rest and never printed');
  secrets
    .command('create')
    .description('create a secret: abus secret create NAME --aws_access_key_id=... --aws_secret_access_key=...')
    .argument('<name>')
    .argument('[values...]', '--key=value pairs')
    .option('--values <source>', VALUES_HELP)
    .allowUnknownOption()
    .addOption(outputOption())
    .action(async (name: string, rest: string[], options: { values?: string; output: OutputFormat }) => {
      const values = await secretValues(rest, options.values);
      if (Object.keys(values).length === 0) throw new AbusError('BAD_REQUEST', 'a secret needs at least one --key=value (or --values)');
      printRecord(options.output, await withClient((c) => c.secrets.create(name, values)));
    });
  secrets
    .command('update')
    .description('set keys (--key=value, --values) and remove keys (--remove-keys); the other keys stay')
    .argument('<name>')
    .argument('[values...]', '--key=value pairs')
    .option('--values <source>', VALUES_HELP)
    .option('--remove-keys <keys>', 'comma-separated keys to remove')
    .allowUnknownOption()
    .addOption(outputOption())
    .action(async (name: string, rest: string[], options: { values?: string; removeKeys?: string; output: OutputFormat }) => {
      const values = await secretValues(rest, options.values);
      const removeKeys = (options.removeKeys ?? '').split(',').map((key) => key.trim()).filter(Boolean);
      printRecord(options.output, await withClient((c) => c.secrets.update(name, { values, removeKeys })));
    });
  secrets
    .command('describe')
    .description('keys, dates and the stores that use it; never values')
    .argument('<name>')
    .addOption(outputOption())
    .action(async (name: string, options: { output: OutputFormat }) => printRecord(options.output, await withClient((c) => c.secrets.describe(name))));
  secrets
    .command('list')
    .addOption(outputOption())
    .action(async (options: { output: OutputFormat }) =>
      printRecords(options.output, await withClient((c) => c.secrets.list()), [
        ['NAME', (s) => s.name],
        ['KEYS', (s) => s.keys.join(', ')],
        ['UPDATED', (s) => s.updatedAt],
      ]),
    );
  secrets
    .command('delete')
    .argument('<name>')
    .action(async (name: string) => {
      await withClient((c) => c.secrets.delete(name));
      process.stderr.write(`deleted secret ${name}\n`);
    });
  secrets
    .command('rotate-key')
    .description('re-seal every secret under the registry\'s current ABUS_SECRET_KEY, so that the previous keys can be dropped')
    .addOption(outputOption())
    .action(async (options: { output: OutputFormat }) => {
      const result = await withClient((c) => c.secrets.rotateKey());
      if (options.output === 'json') printJson(result);
      else process.stderr.write(`re-sealed ${result.resealed} secret(s) under key ${result.keyId}; ${result.unchanged} already were\n`);
      if (result.unreadable.length > 0) {
        process.stderr.write(
          `error: no configured key opens ${result.unreadable.join(', ')}: keep their key in ABUS_SECRET_KEYS_PREVIOUS and run rotate-key again, or re-create them\n`,
        );
        process.exitCode = 1;
      }
    });
  return secrets;
}

export function stackCommands(withClient: WithClient): Command {
  const stacks = new Command('stack').description('stacks: the active stack gives the default artifact store');
  stacks
    .command('register')
    .argument('<name>')
    .requiredOption('-a, --artifact-store <store>', 'the stack\'s artifact store')
    .option('--set', 'make it the active stack')
    .addOption(outputOption())
    .action(async (name: string, options: { artifactStore: string; set?: boolean; output: OutputFormat }) =>
      printRecord(options.output, await withClient((c) => c.stacks.register(name, options.artifactStore, { setActive: options.set }))),
    );
  stacks
    .command('list')
    .addOption(outputOption())
    .action(async (options: { output: OutputFormat }) =>
      printRecords(options.output, await withClient((c) => c.stacks.list()), [
        ['ACTIVE', (s) => (s.active ? '*' : '')],
        ['NAME', (s) => s.name],
        ['ARTIFACT STORE', (s) => s.artifactStore],
      ]),
    );
  stacks
    .command('describe')
    .argument('[name]', 'a stack; the active one when left out')
    .addOption(outputOption())
    .action(async (name: string | undefined, options: { output: OutputFormat }) => printRecord(options.output, await withClient((c) => c.stacks.describe(name))));
  stacks
    .command('set')
    .argument('<name>')
    .action(async (name: string) => {
      await withClient((c) => c.stacks.set(name));
      process.stderr.write(`active stack: ${name}\n`);
    });
  stacks
    .command('delete')
    .argument('<name>')
    .action(async (name: string) => {
      await withClient((c) => c.stacks.delete(name));
      process.stderr.write(`deleted stack ${name}\n`);
    });
  return stacks;
}
