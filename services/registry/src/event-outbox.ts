import { EventPublisher, RegistryEvent, type Logger, type NatsConnection } from '@artifact-bus/contracts';
import type { RegistryDb } from './db.ts';

/** How often events that could not be published are offered to JetStream again. */
const RETRY_MS = 5_000;
/** Outbox rows read per query. */
const ROWS_PER_QUERY = 500;

/** Collects the events of one change; they commit with it. */
export type Emit = (...events: RegistryEvent[]) => void;

/**
 * A registry change and its events commit together: `change` runs in one transaction, which
 * also writes the events it emits into the `event_outbox` table; they are published after the
 * commit, in order. A publish that fails (JetStream unavailable) is retried every RETRY_MS,
 * and a registry that crashed in between publishes them on its next start, so no committed
 * change goes without its event. The event id is the JetStream message id and the audit
 * service's key, so an event published twice is still recorded once.
 */
export class RegistryEventOutbox {
  private readonly publisher: EventPublisher;
  private tail: Promise<void> = Promise.resolve();
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    nc: NatsConnection,
    private readonly db: RegistryDb,
    private readonly logger: Logger,
  ) {
    this.publisher = new EventPublisher(nc, logger);
  }

  /** Runs `change` in a transaction with the events it emits; publishes them once it committed. */
  async transaction<T>(change: (trx: RegistryDb, emit: Emit) => Promise<T>): Promise<T> {
    const events: RegistryEvent[] = [];
    const result = await this.db.transaction().execute(async (trx) => {
      const value = await change(trx, (...emitted) => events.push(...emitted));
      if (events.length > 0) {
        await trx
          .insertInto('event_outbox')
          .values(events.map((event) => ({ event_id: event.id, payload: JSON.stringify(event) })))
          .execute();
      }
      return value;
    });
    if (events.length > 0) await this.flush();
    return result;
  }

  /** Publishes what the outbox holds; resolves when this pass is over, whether or not it published everything. */
  flush(): Promise<void> {
    // One pass at a time, each after the commits that asked for it: a reply is sent after its events.
    this.tail = this.tail.then(() => this.publishPending());
    return this.tail;
  }

  private async publishPending(): Promise<void> {
    if (this.stopped) return;
    try {
      for (;;) {
        const rows = await this.db.selectFrom('event_outbox').select(['seq', 'payload']).orderBy('seq').limit(ROWS_PER_QUERY).execute();
        for (const row of rows) {
          const parsed = RegistryEvent.safeParse(parseJson(row.payload));
          if (parsed.success) await this.publisher.registry(parsed.data, { attempts: 1 });
          else this.logger.error({ seq: row.seq }, 'an outbox row is not a registry event; dropped');
          await this.db.deleteFrom('event_outbox').where('seq', '=', row.seq).execute();
        }
        if (rows.length < ROWS_PER_QUERY) return;
      }
    } catch (error) {
      this.logger.warn({ err: error, retryInMs: RETRY_MS }, 'registry events are waiting in the outbox');
      this.retryTimer ??= setTimeout(() => {
        this.retryTimer = undefined;
        void this.flush();
      }, RETRY_MS);
    }
  }

  /** Stops retrying; waits for the pass under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await this.tail;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
