import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_PORTAL_CSP } from '#lib/local/portal.ts';
import type { Stint } from '#lib/local/stint.ts';
import { collectPageErrors, expectAccessible, newPerson, signIn, startPortalStint } from '../../support/browser.ts';

let stint: Stint;
let browser: Browser;

beforeAll(async () => {
  ({ stint, browser } = await startPortalStint('serve'));
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stint?.stop();
});

describe('the portal on the local runtime', () => {
  it('serves index.html at / with the strict CSP and the security headers, and the API beside it', async () => {
    const page = await fetch(`${stint.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toBe(LOCAL_PORTAL_CSP);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(await page.text()).toContain('<div id="root">');
    const config = await fetch(`${stint.url}/config.json`);
    expect(await config.json()).toEqual({ mode: 'local', apiUrl: '' });
    // The API's own paths are untouched: /requests without a token is the authorizer's 401.
    expect((await fetch(`${stint.url}/requests`)).status).toBe(401);
  });

  it('signs a person in locally and shows the pages their roles allow, with no console error', async () => {
    const context = await newPerson(browser);
    const page = await context.newPage();
    const errors = collectPageErrors(page);
    await page.goto(`${stint.url}/`);
    await expect.poll(() => page.getByText('Local runtime only.').isVisible()).toBe(true);
    await expectAccessible(page, 'the sign-in page');
    await signIn(page, stint.url, { sub: 'alice', email: 'alice@example.com' });
    const nav = page.getByRole('navigation', { name: 'Main' });
    await expect.poll(() => nav.getByRole('link', { name: 'My requests' }).isVisible()).toBe(true);
    expect(await nav.getByRole('link', { name: 'Flows' }).count()).toBe(0);
    await expectAccessible(page, 'the catalog');
    expect(errors).toEqual([]);
    await context.close();
  });
});
