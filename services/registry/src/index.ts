export { startRegistry, type RegistryService } from './registry-service.ts';
export { SecretBox } from './secret-box.ts';
export { migrations, type RegistryDatabase } from './db.ts';
