export { TransferWorker, type TransferWorkerOptions } from './transfer-worker.ts';
