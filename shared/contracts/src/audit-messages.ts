import { z } from 'zod';
import { ArtifactEvent, ArtifactEventType } from './events.ts';
import { RegistryEvent, RegistryEventType, RegistryResourceKind } from './registry-events.ts';

export const AuditQueryRequest = z.object({
  store: z.string().max(63).optional(),
  /** Key prefix. */
  key: z.string().max(1024).optional(),
  type: ArtifactEventType.optional(),
  requestId: z.string().max(128).optional(),
  jobId: z.string().max(64).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  limit: z.int().min(1).max(10000).default(1000),
});
export type AuditQueryRequest = z.input<typeof AuditQueryRequest>;

export const AuditRecord = ArtifactEvent.extend({
  /** Position of the event in the ABUS_EVENTS stream. */
  streamSequence: z.int().min(0),
  recordedAt: z.iso.datetime({ offset: true }),
});
export type AuditRecord = z.infer<typeof AuditRecord>;

export const AuditQueryReply = z.object({ records: z.array(AuditRecord) });

/** Registry changes in the audit trail. `name` matches a resource's name or, for renames, its previous name. */
export const RegistryAuditQueryRequest = z.object({
  kind: RegistryResourceKind.optional(),
  name: z.string().max(63).optional(),
  type: RegistryEventType.optional(),
  requester: z.string().max(256).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  limit: z.int().min(1).max(10000).default(1000),
});
export type RegistryAuditQueryRequest = z.input<typeof RegistryAuditQueryRequest>;

export const RegistryAuditRecord = RegistryEvent.extend({
  /** Position of the event in the ABUS_EVENTS stream. */
  streamSequence: z.int().min(0),
  recordedAt: z.iso.datetime({ offset: true }),
});
export type RegistryAuditRecord = z.infer<typeof RegistryAuditRecord>;

export const RegistryAuditQueryReply = z.object({ records: z.array(RegistryAuditRecord) });

/** How far the audit trail is behind the events stream. */
export const AuditLagReply = z.object({
  /** Events in the stream that the audit service has not been given yet. */
  pendingEvents: z.int().min(0),
  /** Events given to it and not yet recorded (written and acked). */
  unackedEvents: z.int().min(0),
  /** Sequence of the newest event in the stream. */
  streamLastSequence: z.int().min(0),
  /** Every event up to this sequence is recorded. */
  recordedThroughSequence: z.int().min(0),
});
export type AuditLagReply = z.infer<typeof AuditLagReply>;
