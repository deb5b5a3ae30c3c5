import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh folder under /tmp (embedded PostgreSQL's initdb runs as `postgres` when we are root). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  chmodSync(dir, 0o755); // so that `postgres` can reach a data folder created inside it
  return dir;
}
