export { TransferWorker, type TransferWorkerOptions } from './transfer-worker.ts';
export { TransferEnv } from './config.ts';
