import { ensureCliBuilt } from '../../cli/build.ts';
import { synthTemplate } from '../../lib/local/synth.ts';
import { ensurePortalBuilt } from '../../portal/build.ts';

/**
 * Vitest global setup: builds the portal and bundles the CLI once before any test file runs (each a no-op when its
 * build matches the current sources, as after `npm ci`), so parallel workers never build at once; and synthesizes
 * the default stack once into the template cache (lib/local/synth.ts), which the end-to-end files that start Stint
 * without config overrides then read instead of each synthesizing it at the same moment.
 */
export default async function setup(): Promise<void> {
  await ensurePortalBuilt();
  await ensureCliBuilt();
  await synthTemplate();
}
