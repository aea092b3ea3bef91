export { startAudit, type AuditService } from './audit-service.ts';
export { migrations, type AuditDatabase } from './db.ts';
