export * from './processes.ts';
export * from './nats-server.ts';
export * from './s3-server.ts';
export * from './database.ts';
export * from './stack.ts';
export * from './fixtures.ts';
export * from './events.ts';
export * from './azurite.ts';
