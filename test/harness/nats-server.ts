import type { ChildProcess } from 'node:child_process';
import { freePort, startProcess, stopProcess, tempDir, waitForPort } from './processes.ts';

export interface TestNatsServer {
  url: string;
  port: number;
  /** Stops the server and starts it again on the same port and store (JetStream data survives). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** A nats-server with JetStream of the test's own, on a free port, with its own store folder. */
export async function startNatsServer(extraArgs: string[] = []): Promise<TestNatsServer> {
  const port = await freePort();
  const store = await tempDir('nats');
  let child: ChildProcess;
  const launch = async () => {
    child = startProcess('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', store.path, ...extraArgs], { logName: 'nats-server' });
    await waitForPort(port);
  };
  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    async restart() {
      await stopProcess(child);
      await launch();
    },
    async stop() {
      await stopProcess(child);
      await store.remove();
    },
  };
}
