/**
 * `npm start`: the whole stack on this machine. NATS from NATS_URL, else the server already on
 * 127.0.0.1:4222, else a `nats-server -js` started here with its data in the data folder; then
 * the registry, audit and transfer services as child processes. Ctrl-C stops them all.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { callEndpoint, CommonEnv, connectNats, endpoints, loadConfig } from '@artifact-bus/contracts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const env = loadConfig(CommonEnv);
const dataDir = path.resolve(env.ABUS_DATA_DIR);
const children: { name: string; child: ChildProcess }[] = [];
let stopping = false;

function say(line: string): void {
  process.stderr.write(`[abus] ${line}\n`);
}

function reachable(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function run(name: string, command: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(command, args, { cwd: root, env: { ...process.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', (line) => process.stderr.write(`[${name}] ${line}\n`));
  }
  child.once('exit', (code, signal) => {
    if (!stopping) {
      say(`${name} exited (${signal ?? `code ${code}`}); stopping the stack`);
      void stopAll(1);
    }
  });
  children.push({ name, child });
  return child;
}

async function stopAll(exitCode: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  // Services first (they drain their work), NATS last.
  for (const group of [children.filter((c) => c.name !== 'nats'), children.filter((c) => c.name === 'nats')]) {
    await Promise.all(
      group.map(async ({ child }) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
  say('stopped');
  process.exit(exitCode);
}

process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

let natsUrl = process.env.NATS_URL;
if (natsUrl) {
  say(`using NATS at ${natsUrl} (NATS_URL)`);
} else if (await reachable(4222)) {
  natsUrl = 'nats://127.0.0.1:4222';
  say(`using the NATS server already answering on ${natsUrl}`);
} else {
  if (spawnSync('nats-server', ['--version']).error) {
    say('no NATS server on 127.0.0.1:4222 and no nats-server on PATH.');
    say('Install it (Debian/Ubuntu: `sudo apt-get install nats-server`; macOS: `brew install nats-server`;');
    say('or a release from https://github.com/nats-io/nats-server/releases), or set NATS_URL.');
    process.exit(1);
  }
  mkdirSync(path.join(dataDir, 'nats'), { recursive: true });
  natsUrl = 'nats://127.0.0.1:4222';
  run('nats', 'nats-server', ['-js', '-a', '127.0.0.1', '-p', '4222', '-sd', path.join(dataDir, 'nats')]);
  say(`started nats-server -js on 127.0.0.1:4222, data in ${path.join(dataDir, 'nats')}`);
}

const serviceEnv = { NATS_URL: natsUrl, ABUS_DATA_DIR: dataDir };
for (const service of ['registry', 'audit', 'transfer']) {
  run(service, process.execPath, ['--import', 'tsx', path.join(root, 'services', service, 'src', 'main.ts')], serviceEnv);
}
say(`data folder: ${dataDir}${process.env.DATABASE_URL ? '; databases in DATABASE_URL' : ' (embedded PostgreSQL)'}`);

// Ready when the registry answers (the embedded databases take a few seconds the first time).
const nc = await connectNats({ url: natsUrl, name: 'abus-start', waitForServer: true });
for (;;) {
  if (stopping) break;
  try {
    await callEndpoint(nc, endpoints.registry.stackDescribe, {}, { timeoutMs: 2_000 });
    await callEndpoint(nc, endpoints.audit.query, { limit: 1 }, { timeoutMs: 2_000 });
    say('Artifact Bus is up. Try:  npx abus artifact upload ./model.bin default:runs/1/model.bin');
    break;
  } catch {
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
await nc.close();
