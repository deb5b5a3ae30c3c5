import { describe, expect, it } from 'vitest';
import { openSecret, SealError, sealSecret } from '#lib/secrets/seal.ts';

const KEY = 'a-random-string-from-secrets-manager-0123456789';

describe('sealSecret / openSecret', () => {
  it('opens what it sealed, and the sealed form does not contain the secret', async () => {
    const sealed = await sealSecret('s3cr3t-Pässword', KEY);

    expect(sealed.split('.')).toHaveLength(5);
    expect(sealed).not.toContain('s3cr3t');
    expect(await openSecret(sealed, KEY)).toBe('s3cr3t-Pässword');
  });

  it('seals the same secret differently each time (fresh IV)', async () => {
    expect(await sealSecret('same', KEY)).not.toBe(await sealSecret('same', KEY));
  });

  it('refuses to open under another key', async () => {
    const sealed = await sealSecret('s3cr3t', KEY);
    await expect(openSecret(sealed, `${KEY}-other`)).rejects.toBeInstanceOf(SealError);
  });

  it('refuses a tampered ciphertext', async () => {
    const [header, key, iv, ciphertext, tag] = (await sealSecret('s3cr3t', KEY)).split('.');
    const bytes = Buffer.from(ciphertext ?? '', 'base64url');
    bytes[0] = (bytes[0] ?? 0) ^ 0x01;
    const tampered = [header, key, iv, bytes.toString('base64url'), tag].join('.');

    await expect(openSecret(tampered, KEY)).rejects.toThrow(/cannot be opened/);
  });

  it('refuses a token with another algorithm in its header', async () => {
    const [, ...rest] = (await sealSecret('s3cr3t', KEY)).split('.');
    const header = Buffer.from(JSON.stringify({ alg: 'dir', enc: 'A128GCM' })).toString('base64url');
    await expect(openSecret([header, ...rest].join('.'), KEY)).rejects.toBeInstanceOf(SealError);
  });

  it('refuses missing key material', async () => {
    await expect(sealSecret('s3cr3t', '')).rejects.toThrow(/key material/);
  });
});
