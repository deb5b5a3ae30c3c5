import { ensurePortalBuilt } from '../../portal/build.ts';

/**
 * Vitest global setup: builds the portal once before any test file runs (a no-op when portal/dist already holds
 * a build of the current sources, as after `npm ci`), so browser tests in parallel workers never build at once.
 */
export default async function setup(): Promise<void> {
  await ensurePortalBuilt();
}
