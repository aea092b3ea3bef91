import { Command, CommanderError } from 'commander';
import { AbusError, exitCodeFor } from '@artifact-bus/contracts';
import { ArtifactBusClient } from '../client.ts';
import { artifactCommands } from './artifact-commands.ts';
import { auditCommands, eventCommands } from './audit-commands.ts';
import { artifactStoreCommands, secretCommands, stackCommands } from './registry-commands.ts';

const program = new Command('abus')
  .description('Artifact Bus: artifacts in S3, S3-compatible and local stores, over NATS')
  .option('--nats-url <url>', 'NATS server (default: $NATS_URL or nats://127.0.0.1:4222)')
  .showHelpAfterError()
  .exitOverride();

/** Runs `run` with a connected client and always closes it. */
async function withClient<T>(run: (client: ArtifactBusClient) => Promise<T>): Promise<T> {
  const client = await ArtifactBusClient.connect({ natsUrl: program.opts<{ natsUrl?: string }>().natsUrl });
  try {
    return await run(client);
  } finally {
    await client.close().catch(() => undefined);
  }
}

program.addCommand(artifactCommands(withClient));
program.addCommand(artifactStoreCommands(withClient));
program.addCommand(secretCommands(withClient));
program.addCommand(stackCommands(withClient));
program.addCommand(auditCommands(withClient));
program.addCommand(eventCommands(withClient));

// Commands added with addCommand do not inherit exitOverride: without it a usage error (an unknown
// flag, a flavor not among the choices) exits 1 from inside commander instead of 2.
const overrideExits = (command: Command): void => {
  command.exitOverride();
  command.commands.forEach(overrideExits);
};
overrideExits(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version exit 0; usage errors were already printed by commander.
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else if (error instanceof AbusError) {
    process.stderr.write(`error: ${error.code}: ${error.message}\n`);
    process.exitCode = exitCodeFor[error.code];
  } else {
    process.stderr.write(`error: ${(error as Error)?.message ?? String(error)}\n`);
    process.exitCode = 1;
  }
}
