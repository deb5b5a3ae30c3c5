import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { expect } from 'vitest';
import * as z from 'zod';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { REPO_ROOT, type Stint, startStint } from '#lib/local/stint.ts';
import { PORTAL_DIST } from '../../portal/build.ts';

/**
 * Real Chromium for the portal's browser tests: Debian's /usr/bin/chromium (CHROMIUM_PATH overrides) driven by
 * playwright-core; .ci/run installs it with apt-get when it is missing. The portal is built once per test run
 * (test/setup/builds.ts) into PORTAL_DIST, which the local runtime serves at `/`.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export { PORTAL_DIST };

export function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `The browser tests drive Chromium at ${CHROMIUM}, which is missing: apt-get install -y chromium (what .ci/run ` +
        'does), or set CHROMIUM_PATH',
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    // Without the networking flags Chromium keeps dialling Google's services, which this machine refuses.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-dev-shm-usage',
    ],
  });
}

/** A fresh context (its own sessionStorage: one person per context), at a phone's or a laptop's width. */
export async function newPerson(browser: Browser, options: { width?: number } = {}): Promise<BrowserContext> {
  const context = await browser.newContext({
    viewport: { width: options.width ?? 1280, height: 900 },
    permissions: [],
    acceptDownloads: true,
  });
  context.setDefaultTimeout(20_000);
  return context;
}

/** Signs in through the portal's local sign-in form, as a person would. */
export async function signIn(
  page: Page,
  url: string,
  person: { sub: string; email: string; groups?: string[] },
): Promise<void> {
  await page.goto(`${url}/`);
  await page.getByLabel('User id').fill(person.sub);
  await page.getByLabel('Email').fill(person.email);
  await page.getByLabel('Groups').fill((person.groups ?? []).join('\n'));
  await page.getByRole('button', { name: 'Sign in (local)' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** axe-core on the page as it is now: no serious or critical violation (each listed with its nodes if any). */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(bad, `accessibility of ${what}`).toEqual([]);
}

/**
 * A screenshot for the docs when STINT_SCREENSHOTS=1 (docs/images/portal/<name>.png, linked from the README);
 * nothing otherwise, so a test run does not rewrite tracked files.
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (process.env.STINT_SCREENSHOTS !== '1') return;
  const dir = join(REPO_ROOT, 'docs', 'images', 'portal');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}

/**
 * Errors the page logged or threw while on `origin` (default: any page): a test ends by expecting none (a CSP
 * refusal shows up here too). Each names the page it happened on.
 */
export function collectPageErrors(page: Page, origin?: string): string[] {
  const errors: string[] = [];
  const here = () => page.url();
  const mine = (url: string) => origin === undefined || url.startsWith(origin);
  page.on('pageerror', (e) => {
    if (mine(here())) errors.push(`pageerror on ${here()}: ${e.message}`);
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && mine(here())) errors.push(`console on ${here()}: ${m.text()}`);
  });
  return errors;
}

const StorageKeys = z.object({ session: z.array(z.string()), local: z.array(z.string()) });

/** The keys the page keeps in sessionStorage and localStorage (evaluated in the page). */
export async function storageKeys(page: Page): Promise<z.infer<typeof StorageKeys>> {
  return StorageKeys.parse(
    await page.evaluate('({ session: Object.keys(sessionStorage), local: Object.keys(localStorage) })'),
  );
}

/** Stint on the local runtime with the built portal at `/`, and a Chromium: one of each per browser test file. */
export async function startPortalStint(name: string): Promise<{ stint: Stint; browser: Browser }> {
  const stint = await startStint({
    pgDataDir: join(await clusterParentDir(`stint-e2e-portal-${name}`), 'pg'),
    pgPort: await freePort(),
    port: 0,
    portalDir: PORTAL_DIST,
  });
  try {
    return { stint, browser: await launchBrowser() };
  } catch (error) {
    await stint.stop();
    throw error;
  }
}
