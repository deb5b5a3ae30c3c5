import { createHash } from 'node:crypto';
import { CompactEncrypt, compactDecrypt } from 'jose';

/**
 * Issued credentials are never stored in plain text: they are sealed as a compact JWE (`dir` + `A256GCM`)
 * under a 256-bit key derived from the stack's key material (a random string kept in Secrets Manager,
 * resolved through STINT_CREDENTIALS_KEY_REF). A tampered token or a wrong key fails to open.
 */
export class SealError extends Error {
  override readonly name = 'SealError';
}

const ALG = 'dir';
const ENC = 'A256GCM';

function keyFrom(keyMaterial: string): Uint8Array {
  if (keyMaterial.length < 16) throw new SealError('the sealing key material is missing or too short');
  return new Uint8Array(createHash('sha256').update(keyMaterial, 'utf8').digest());
}

export async function sealSecret(plain: string, keyMaterial: string): Promise<string> {
  const key = keyFrom(keyMaterial);
  return await new CompactEncrypt(new TextEncoder().encode(plain))
    .setProtectedHeader({ alg: ALG, enc: ENC })
    .encrypt(key);
}

export async function openSecret(sealed: string, keyMaterial: string): Promise<string> {
  const key = keyFrom(keyMaterial);
  try {
    const { plaintext } = await compactDecrypt(sealed, key, {
      keyManagementAlgorithms: [ALG],
      contentEncryptionAlgorithms: [ENC],
    });
    return new TextDecoder('utf-8', { fatal: true }).decode(plaintext);
  } catch {
    throw new SealError('the sealed secret cannot be opened (tampered, or sealed under another key)');
  }
}
