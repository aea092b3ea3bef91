import { z } from 'zod';
import { AuditQueryReply, AuditQueryRequest } from './audit-messages.ts';
import {
  ArtifactStore,
  DeletedReply,
  ResolvedStore,
  SecretCreateRequest,
  SecretListReply,
  SecretSummary,
  Stack,
  StackListReply,
  StackNameRequest,
  StackRegisterRequest,
  StoreDeleteRequest,
  StoreListReply,
  StoreNameRequest,
  StoreRegisterRequest,
  StoreResolveRequest,
} from './registry-messages.ts';
import { endpoint } from './rpc.ts';
import { subjects } from './subjects.ts';
import {
  DeleteReply,
  DeleteRequest,
  DownloadAccepted,
  DownloadRequest,
  ListReply,
  ListRequest,
  StatReply,
  StatRequest,
  UploadAccepted,
  UploadRequest,
} from './transfer-messages.ts';

const Empty = z.object({});

/** Every request/reply endpoint of Artifact Bus. */
export const endpoints = {
  registry: {
    storeRegister: endpoint(subjects.registry.storeRegister, StoreRegisterRequest, ArtifactStore),
    storeList: endpoint(subjects.registry.storeList, Empty, StoreListReply),
    storeDescribe: endpoint(subjects.registry.storeDescribe, StoreNameRequest, ArtifactStore),
    storeDelete: endpoint(subjects.registry.storeDelete, StoreDeleteRequest, DeletedReply),
    storeResolve: endpoint(subjects.registry.storeResolve, StoreResolveRequest, ResolvedStore),
    secretCreate: endpoint(subjects.registry.secretCreate, SecretCreateRequest, SecretSummary),
    secretList: endpoint(subjects.registry.secretList, Empty, SecretListReply),
    secretDelete: endpoint(subjects.registry.secretDelete, StoreNameRequest, DeletedReply),
    stackRegister: endpoint(subjects.registry.stackRegister, StackRegisterRequest, Stack),
    stackList: endpoint(subjects.registry.stackList, Empty, StackListReply),
    stackDescribe: endpoint(subjects.registry.stackDescribe, StackNameRequest.partial(), Stack),
    stackSet: endpoint(subjects.registry.stackSet, StackNameRequest, Stack),
    stackDelete: endpoint(subjects.registry.stackDelete, StackNameRequest, DeletedReply),
  },
  transfer: {
    upload: endpoint(subjects.transfer.upload, UploadRequest, UploadAccepted),
    download: endpoint(subjects.transfer.download, DownloadRequest, DownloadAccepted),
    stat: endpoint(subjects.transfer.stat, StatRequest, StatReply),
    list: endpoint(subjects.transfer.list, ListRequest, ListReply),
    delete: endpoint(subjects.transfer.delete, DeleteRequest, DeleteReply),
  },
  audit: {
    query: endpoint(subjects.audit.query, AuditQueryRequest, AuditQueryReply),
  },
} as const;
