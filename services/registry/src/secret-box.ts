import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { AbusError } from '@artifact-bus/contracts';

/**
 * Seals secret values with AES-256-GCM. The sealed form names the key it was sealed with
 * (`v1.<keyId>.<iv>.<tag>.<ciphertext>`), so keys can be rotated: values sealed under an old key
 * stay readable while that key is still configured.
 */
export class SecretBox {
  private readonly keys = new Map<string, Buffer>();
  private readonly currentId: string;

  /** `keys[0]` seals; every key opens what it sealed. Each is 32 bytes. */
  constructor(keys: Buffer[]) {
    if (keys.length === 0) throw new AbusError('CONFIG_INVALID', 'no secret encryption key');
    for (const key of keys) {
      if (key.length !== 32) throw new AbusError('CONFIG_INVALID', 'ABUS_SECRET_KEY must be 32 bytes, base64-encoded');
      this.keys.set(keyId(key), key);
    }
    this.currentId = keyId(keys[0] as Buffer);
  }

  /** Id of the key that seals: the first 12 hex digits of its sha256 (never the key itself). */
  get currentKeyId(): string {
    return this.currentId;
  }

  /** Whether `sealed` is sealed under the current key (a rotation re-seals the others). */
  isCurrent(sealed: string): boolean {
    return sealed.split('.')[1] === this.currentId;
  }

  seal(values: Record<string, string>): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.currentId) as Buffer, iv);
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(values), 'utf8'), cipher.final()]);
    return ['v1', this.currentId, iv.toString('base64'), cipher.getAuthTag().toString('base64'), ciphertext.toString('base64')].join('.');
  }

  open(sealed: string): Record<string, string> {
    const [version, id, iv, tag, ciphertext] = sealed.split('.');
    const key = id ? this.keys.get(id) : undefined;
    if (version !== 'v1' || !key || !iv || !tag || ciphertext === undefined) {
      throw new AbusError('INTERNAL', 'a secret is sealed with a key this registry does not have');
    }
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    const plain = Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64')), decipher.final()]);
    return JSON.parse(plain.toString('utf8')) as Record<string, string>;
  }
}

function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}
