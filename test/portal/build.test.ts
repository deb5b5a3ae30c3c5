import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PORTAL_DIST } from '../../portal/build.ts';

/**
 * The global setup builds the portal under vitest, where NODE_ENV is `test`; the build must still be the
 * production one that `npm start`, CloudFront and the bundle-size benchmark serve and measure.
 */
describe('the portal build', () => {
  it("bundles React's production build, also when built with NODE_ENV=test", () => {
    expect(process.env.NODE_ENV).toBe('test');
    const assets = join(PORTAL_DIST, 'assets');
    const scripts = readdirSync(assets).filter((f) => f.endsWith('.js'));
    expect(scripts.length).toBeGreaterThan(0);
    const code = scripts.map((f) => readFileSync(join(assets, f), 'utf8')).join('\n');
    // A message only React's development build carries (its DOM nesting check).
    expect(code).not.toContain('In HTML, %s cannot be a child');
    expect(code).toContain('react');
  });
});
