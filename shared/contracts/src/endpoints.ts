import { z } from 'zod';
import { AuditLagReply, AuditQueryReply, AuditQueryRequest, RegistryAuditQueryReply, RegistryAuditQueryRequest } from './audit-messages.ts';
import { StoreDeployReply, StoreDeployRequest } from './deploy-messages.ts';
import {
  ArtifactStore,
  DeletedReply,
  ResolvedStore,
  SecretCreateRequest,
  SecretDeleteRequest,
  SecretDescription,
  SecretListReply,
  SecretNameRequest,
  SecretResealReply,
  SecretResealRequest,
  SecretSummary,
  SecretUpdateRequest,
  Stack,
  StackChangeRequest,
  StackListReply,
  StackNameRequest,
  StackRegisterRequest,
  StoreDeleteRequest,
  StoreListReply,
  StoreNameRequest,
  StoreRegisterRequest,
  StoreRenameRequest,
  StoreResolveRequest,
  StoreUpdateRequest,
} from './registry-messages.ts';
import { endpoint } from './rpc.ts';
import { subjects } from './subjects.ts';
import {
  CancelReply,
  CancelRequest,
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
    storeUpdate: endpoint(subjects.registry.storeUpdate, StoreUpdateRequest, ArtifactStore),
    storeRename: endpoint(subjects.registry.storeRename, StoreRenameRequest, ArtifactStore),
    storeResolve: endpoint(subjects.registry.storeResolve, StoreResolveRequest, ResolvedStore),
    secretCreate: endpoint(subjects.registry.secretCreate, SecretCreateRequest, SecretSummary),
    secretList: endpoint(subjects.registry.secretList, Empty, SecretListReply),
    secretDelete: endpoint(subjects.registry.secretDelete, SecretDeleteRequest, DeletedReply),
    secretUpdate: endpoint(subjects.registry.secretUpdate, SecretUpdateRequest, SecretSummary),
    secretDescribe: endpoint(subjects.registry.secretDescribe, SecretNameRequest, SecretDescription),
    secretReseal: endpoint(subjects.registry.secretReseal, SecretResealRequest, SecretResealReply),
    stackRegister: endpoint(subjects.registry.stackRegister, StackRegisterRequest, Stack),
    stackList: endpoint(subjects.registry.stackList, Empty, StackListReply),
    stackDescribe: endpoint(subjects.registry.stackDescribe, StackNameRequest.partial(), Stack),
    stackSet: endpoint(subjects.registry.stackSet, StackChangeRequest, Stack),
    stackDelete: endpoint(subjects.registry.stackDelete, StackChangeRequest, DeletedReply),
  },
  transfer: {
    upload: endpoint(subjects.transfer.upload, UploadRequest, UploadAccepted),
    download: endpoint(subjects.transfer.download, DownloadRequest, DownloadAccepted),
    stat: endpoint(subjects.transfer.stat, StatRequest, StatReply),
    list: endpoint(subjects.transfer.list, ListRequest, ListReply),
    delete: endpoint(subjects.transfer.delete, DeleteRequest, DeleteReply),
    cancel: endpoint(subjects.transfer.cancel, CancelRequest, CancelReply),
    deploy: endpoint(subjects.transfer.deploy, StoreDeployRequest, StoreDeployReply),
  },
  audit: {
    query: endpoint(subjects.audit.query, AuditQueryRequest, AuditQueryReply),
    lag: endpoint(subjects.audit.lag, z.object({}), AuditLagReply),
    registryQuery: endpoint(subjects.audit.registryQuery, RegistryAuditQueryRequest, RegistryAuditQueryReply),
  },
} as const;
