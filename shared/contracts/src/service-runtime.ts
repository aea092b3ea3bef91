import { AbusError } from './errors.ts';
import { createLogger, type Logger } from './logger.ts';

export interface RunningService {
  /** Stop taking work, finish what is held, release connections. */
  stop(): Promise<void>;
}

/**
 * The one `main` of every service: start it, stop it cleanly on SIGTERM/SIGINT, and turn a
 * start-up failure (a bad variable, an unreachable database) into a one-line message and exit 1.
 */
export async function runService(name: string, start: (logger: Logger) => Promise<RunningService>): Promise<void> {
  const logger = createLogger(name);
  let service: RunningService;
  try {
    service = await start(logger);
  } catch (error) {
    const message = error instanceof AbusError ? `${error.code}: ${error.message}` : String((error as Error)?.stack ?? error);
    logger.fatal({ code: (error as AbusError).code }, message);
    process.stderr.write(`${name}: ${message}\n`);
    process.exit(1);
  }
  logger.info('started');
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    try {
      await service.stop();
      logger.info('stopped');
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'unclean stop');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
