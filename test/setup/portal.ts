import { ensureCliBuilt } from '../../cli/build.ts';
import { ensurePortalBuilt } from '../../portal/build.ts';

/**
 * Vitest global setup: builds the portal and bundles the CLI once before any test file runs (each a no-op when its
 * build matches the current sources, as after `npm ci`), so parallel workers never build at once.
 */
export default async function setup(): Promise<void> {
  await ensurePortalBuilt();
  await ensureCliBuilt();
}
