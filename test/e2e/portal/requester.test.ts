import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_PORTAL_CSP } from '#lib/local/portal.ts';
import { DEMO } from '#lib/local/seed.ts';
import type { Stint } from '#lib/local/stint.ts';
import {
  collectPageErrors,
  expectAccessible,
  newPerson,
  screenshot,
  signIn,
  startPortalStint,
} from '../../support/browser.ts';
import { call } from '../../support/http.ts';

/**
 * The requester's and the approver's pages in real Chromium against the local runtime: a request made, approved
 * from the inbox, used with psql, revoked, all through the browser (the API is only read, to cross-check).
 */

const run = promisify(execFile);
const PSQL = '/usr/bin/psql';
/** How long a live page may take to show a change the workflow makes (polling with backoff reaches 15 s). */
const LIVE = { timeout: 60_000 };
/** Each test's bound: the suite runs four files at once on two cores, and these wait on real grants and revokes. */
const SLOW = 180_000;

const alice = { sub: 'alice', email: 'alice@example.com' };
const bob = { sub: 'bob', email: 'bob@example.com', groups: [DEMO.approverGroup] };
const carol = { sub: 'carol', email: 'carol@example.com', groups: [DEMO.approverGroup] };
const root = { sub: 'root', email: 'root@example.com', groups: [DEMO.adminGroup] };

let stint: Stint;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  ({ stint, browser } = await startPortalStint('requester'));
}, 180_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await stint?.stop();
});

async function person(who: { sub: string; email: string; groups?: string[] }, width?: number): Promise<Page> {
  const context = await newPerson(browser, width === undefined ? {} : { width });
  contexts.push(context);
  const page = await context.newPage();
  await signIn(page, stint.url, who);
  return page;
}

async function go(page: Page, link: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: link }).click();
}

/** Through the catalog and the form, as a person does; answers the new request's id from its page. */
async function askFor(
  page: Page,
  flowName: string,
  input: { minutes: number; justification: string },
): Promise<string> {
  await go(page, 'Request access');
  await page.getByRole('link', { name: `Request ${flowName}` }).click();
  await page.getByLabel('Duration (minutes)').fill(String(input.minutes));
  await page.getByLabel('Justification').fill(input.justification);
  await page.getByRole('button', { name: 'Submit request' }).click();
  await page.waitForURL(/#\/requests\/[^/]+$/);
  const id = decodeURIComponent(new URL(page.url()).hash.replace('#/requests/', ''));
  await page.getByRole('heading', { level: 1, name: `Request ${id}` }).waitFor();
  return id;
}

/** The page's status line shows this status (it updates by itself: no reload). */
async function statusShows(page: Page, status: string): Promise<void> {
  await page
    .getByRole('status')
    .filter({ hasText: status.replace('_', ' ') })
    .first()
    .waitFor(LIVE);
}

/** The text of a revealed credential by its label (the <dd> after the <dt>). */
async function credential(page: Page, label: string): Promise<string> {
  const dt = page.locator('.credentials dt').filter({ hasText: new RegExp(`^${label}$`) });
  return (await dt.locator('xpath=following-sibling::dd[1]//code').textContent()) ?? '';
}

async function psql(
  login: { host: string; port: string; database: string; username: string; password: string },
  ...commands: string[]
) {
  // The password travels in the environment only, as the page's hint says; never in argv.
  return run(
    PSQL,
    [
      '-h',
      login.host,
      '-p',
      login.port,
      '-U',
      login.username,
      '-d',
      login.database,
      '-w',
      '-X',
      '-A',
      '-t',
      '-v',
      'ON_ERROR_STOP=1',
      ...commands.flatMap((c) => ['-c', c]),
    ],
    { env: { PATH: process.env.PATH ?? '', PGPASSWORD: login.password, PGCONNECT_TIMEOUT: '10' } },
  );
}

async function readRequest(id: string, as: { sub: string; email: string; groups?: string[] }) {
  const res = await call(stint.url, 'GET', `/requests/${encodeURIComponent(id)}`, { token: await stint.token(as) });
  expect(res.status).toBe(200);
  return res.json as { status: string; votes: { by: string; vote: string; reason?: string }[]; expiresAt?: string };
}

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

describe('the requester and approver pages', () => {
  it(
    'asks for demo-admin, is approved from the inbox, uses the credentials with psql, and revokes them',
    async () => {
      // Alice finds the flow in the catalog, with who approves it.
      const page = await person(alice);
      const errors = collectPageErrors(page);
      const card = page.getByRole('article', { name: /Demo: admin, approved by dba/ });
      await card.waitFor();
      expect(await card.textContent()).toContain('up to 1 h');
      await expectAccessible(page, 'the catalog');
      await screenshot(page, 'catalog');

      // The form: the only target preselected, duration and justification typed.
      await card.getByRole('link', { name: 'Request Demo: admin, approved by dba' }).click();
      await page.getByRole('heading', { level: 1, name: 'Request: Demo: admin, approved by dba' }).waitFor();
      expect(await page.getByRole('checkbox', { name: 'admin on demo (demo-postgres)' }).isChecked()).toBe(true);
      expect(await page.getByLabel('Duration (minutes)').inputValue()).toBe('30');
      await page.getByLabel('Duration (minutes)').fill('10');
      await page.getByLabel('Justification').fill('Fix the total of order 1 (ticket OPS-7)');
      await expectAccessible(page, 'the request form');
      await screenshot(page, 'request-form');
      await page.getByRole('button', { name: 'Submit request' }).click();
      await page.waitForURL(/#\/requests\/[^/]+$/);
      const id = decodeURIComponent(new URL(page.url()).hash.replace('#/requests/', ''));
      await statusShows(page, 'PENDING');
      expect(await page.getByRole('button', { name: 'Cancel request' }).isVisible()).toBe(true);
      await expectAccessible(page, 'a pending request');

      // Bob, a dba in another browser context, finds it in his inbox and approves with a reason.
      const approver = await person(bob);
      const approverErrors = collectPageErrors(approver);
      await go(approver, 'Approvals');
      const item = approver.getByRole('article').filter({ hasText: id });
      await item.waitFor(LIVE);
      const facts = (await item.textContent()) ?? '';
      expect(facts).toContain('alice (alice@example.com)');
      expect(facts).toContain('admin on demo (demo-postgres)');
      expect(facts).toContain('10 min');
      expect(facts).toContain('Fix the total of order 1 (ticket OPS-7)');
      expect(facts).toContain('you are in group dba');
      await expectAccessible(approver, 'the approvals inbox');
      await screenshot(approver, 'approvals');
      await item.getByLabel('Reason').fill('Checked OPS-7');
      await item.getByRole('button', { name: 'Approve' }).click();
      await approver
        .getByRole('status')
        .filter({ hasText: `Approved ${id}` })
        .waitFor();
      expect(await approver.getByRole('article').filter({ hasText: id }).count()).toBe(0);
      await expectAccessible(approver, 'the inbox after a decision');

      // Alice's page turns ACTIVE by itself, and reveals the credentials.
      await statusShows(page, 'ACTIVE');
      expect((await readRequest(id, alice)).status).toBe('ACTIVE');
      expect(await page.locator('.credentials code').count()).toBe(0);
      await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stint.url });
      await page.getByRole('button', { name: 'Reveal credentials' }).click();
      await page.getByRole('button', { name: 'Copy password' }).waitFor();
      const login = {
        host: await credential(page, 'Host'),
        port: await credential(page, 'Port'),
        database: await credential(page, 'Database'),
        username: await credential(page, 'Username'),
        password: await credential(page, 'Password'),
      };
      expect(login.database).toBe(DEMO.database);
      expect(login.username).toMatch(/^stint_/);
      expect(login.password.length).toBeGreaterThanOrEqual(16);
      const command = (await page.locator('.command pre').first().textContent()) ?? '';
      expect(command).toBe(
        `psql "host=${login.host} port=${login.port} dbname=${login.database} user=${login.username}"`,
      );
      expect(command).not.toContain(login.password);
      await page.getByRole('button', { name: 'Copy password' }).click();
      await page.getByRole('status').filter({ hasText: 'Copied' }).waitFor();
      expect(await page.evaluate<string>('navigator.clipboard.readText()')).toBe(login.password);
      await expectAccessible(page, 'an active request with its credentials');
      await screenshot(page, 'request-detail');

      // The credentials work: psql writes and reads the demo table as the granted role.
      const used = await psql(
        login,
        "UPDATE orders SET customer = 'Ada Lovelace' WHERE id = 1",
        'SELECT customer FROM orders WHERE id = 1',
      );
      expect(used.stdout.trim().split('\n')).toEqual(['UPDATE 1', 'Ada Lovelace']);

      // My requests lists it, ACTIVE, with the time left.
      await go(page, 'My requests');
      const row = page.getByRole('row').filter({ hasText: id });
      await row.waitFor();
      expect(await row.textContent()).toContain('ACTIVE');
      expect(await row.locator('time').last().textContent()).toMatch(/^in (10 min 0 s|[1-9] min \d+ s)$/);
      await expectAccessible(page, 'my requests');
      await screenshot(page, 'my-requests');

      // Alice revokes from the request's page: REVOKED, the credentials gone from the page, and from PostgreSQL.
      await row.getByRole('link', { name: id }).click();
      await statusShows(page, 'ACTIVE');

      // She extends it: too long first (the API's message under the field), then 5 minutes.
      const before = (await readRequest(id, alice)).expiresAt ?? '';
      await page.getByRole('button', { name: 'Extend access' }).click();
      const extendBy = page.getByLabel('Extend by (minutes)');
      await extendBy.fill('90');
      await page.getByRole('button', { name: 'Confirm extension' }).click();
      await page.getByText('an extension can be at most 60 minutes').waitFor();
      expect(await extendBy.getAttribute('aria-invalid')).toBe('true');
      await expectAccessible(page, 'the extend form with a field error');
      await extendBy.fill('5');
      await page.getByLabel('Reason for the extension').fill('Verify the fix');
      await page.getByRole('button', { name: 'Confirm extension' }).click();
      await page.locator('ol.timeline').getByText('Extended by 5 min').waitFor();
      const after = (await readRequest(id, alice)).expiresAt ?? '';
      expect(Date.parse(after) - Date.parse(before)).toBe(5 * 60_000);
      expect(await page.locator('ol.timeline').textContent()).toContain('Verify the fix');
      await page.getByRole('button', { name: 'Revoke access' }).click();
      await page.getByLabel('Reason (optional)').fill('Fixed');
      await page.getByRole('button', { name: 'Confirm revoke' }).click();
      await statusShows(page, 'REVOKED');
      expect(await page.getByRole('button', { name: 'Reveal credentials' }).count()).toBe(0);
      expect(await page.locator('.credentials').count()).toBe(0);
      expect(await page.content()).not.toContain(login.password);
      const timeline = (await page.locator('ol.timeline').textContent()) ?? '';
      expect(timeline).toContain('Approved by bob via portal');
      expect(timeline).not.toContain('Decision: approved');
      expect(timeline).toContain('Checked OPS-7');
      expect(timeline).toContain('Revoked');
      await expectAccessible(page, 'a revoked request');
      await expect(psql(login, 'SELECT 1')).rejects.toThrow(/password authentication failed|does not exist/);

      const stored = await readRequest(id, alice);
      expect(stored.status).toBe('REVOKED');
      expect(stored.votes).toEqual([expect.objectContaining({ by: 'bob', vote: 'approve', reason: 'Checked OPS-7' })]);
      expect(unexpected(errors)).toEqual([]);
      expect(approverErrors).toEqual([]);
    },
    SLOW,
  );

  it(
    'says in the catalog who approves a flow: its approver sets',
    async () => {
      const page = await person(alice);
      const card = page.getByRole('article', { name: /Demo: admin, approved by dba/ });
      await card.waitFor();
      expect(await card.textContent()).toContain('DBAs: group dba');
    },
    SLOW,
  );

  it(
    "shows the API's refusal under the field it names: a duration over the maximum, a missing justification",
    async () => {
      const page = await person(alice);
      const errors = collectPageErrors(page);
      await page.getByRole('link', { name: 'Request Demo: admin, approved by dba' }).click();
      const duration = page.getByLabel('Duration (minutes)');
      expect(await page.getByLabel('Grantee user id').count()).toBe(0);
      await duration.fill('90');
      await page.getByLabel('Justification').fill('Long migration');
      await page.getByRole('button', { name: 'Submit request' }).click();
      const message = 'the duration can be at most 60 minutes under this flow';
      await page.getByText(message).waitFor();
      expect(await duration.getAttribute('aria-invalid')).toBe('true');
      const describedBy = (await duration.getAttribute('aria-describedby')) ?? '';
      const under = await page.locator(`[id="${describedBy.split(' ').at(-1)}"]`).textContent();
      expect(under).toBe(message);
      expect(await page.getByRole('alert').textContent()).toContain('see the messages under the fields');
      expect(new URL(page.url()).hash).toBe('#/request/demo-admin');
      await expectAccessible(page, 'the request form with a field error');

      await duration.fill('20');
      await page.getByLabel('Justification').fill('');
      await page.getByRole('button', { name: 'Submit request' }).click();
      const justification = page.getByLabel('Justification');
      await page.getByText('this flow requires a justification').waitFor();
      expect(await justification.getAttribute('aria-invalid')).toBe('true');
      expect(await duration.getAttribute('aria-invalid')).toBe('false');
      expect(unexpected(errors)).toEqual([]);
    },
    SLOW,
  );

  it(
    "puts a rejected request's reason in the requester's timeline",
    async () => {
      const page = await person(alice);
      const id = await askFor(page, 'Demo: admin, approved by dba', { minutes: 5, justification: 'Quick look' });
      const approver = await person(bob);
      await go(approver, 'Approvals');
      const item = approver.getByRole('article').filter({ hasText: id });
      await item.waitFor(LIVE);
      await item.getByLabel('Reason').fill('Not during the change freeze');
      await item.getByRole('button', { name: 'Reject' }).click();
      await approver
        .getByRole('status')
        .filter({ hasText: `Rejected ${id}` })
        .waitFor();
      expect(await approver.getByRole('article').filter({ hasText: id }).count()).toBe(0);

      await statusShows(page, 'REJECTED');
      const timeline = page.locator('ol.timeline');
      await timeline.getByText('Rejected').first().waitFor();
      const text = (await timeline.textContent()) ?? '';
      expect(text).toContain('Rejected by bob via portal');
      expect(text).toContain('Not during the change freeze');
      expect(await page.getByRole('button', { name: 'Cancel request' }).count()).toBe(0);
      expect((await readRequest(id, alice)).votes).toEqual([
        expect.objectContaining({ by: 'bob', vote: 'reject', reason: 'Not during the change freeze' }),
      ]);
      await expectAccessible(page, 'a rejected request');

      // Her next one she withdraws herself: CANCELLED, with her reason, and out of Bob's inbox.
      const withdrawn = await askFor(page, 'Demo: admin, approved by dba', { minutes: 5, justification: 'Second try' });
      await approver.reload();
      await approver.getByRole('article').filter({ hasText: withdrawn }).waitFor(LIVE);
      await page.getByRole('button', { name: 'Cancel request' }).click();
      await page.getByLabel('Reason (optional)').fill('Asked the wrong flow');
      await page.getByRole('button', { name: 'Confirm cancel' }).click();
      await statusShows(page, 'CANCELLED');
      const cancelled = (await page.locator('ol.timeline').textContent()) ?? '';
      expect(cancelled).toContain('Cancelled by alice via portal');
      expect(cancelled).toContain('Asked the wrong flow');
      // The inbox polls while it lists something pending: the withdrawn request leaves it without a reload.
      await approver
        .getByRole('article')
        .filter({ hasText: withdrawn })
        .waitFor({ state: 'detached', ...LIVE });
      await approver.getByText('Nothing is waiting for your decision.').waitFor();
    },
    SLOW,
  );

  it(
    "shows the API's refusal of a decision: a reason the flow requires, a request someone else decided",
    async () => {
      const admin = await stint.token(root);
      const put = await call(stint.url, 'PUT', '/flows/demo-reasoned', {
        token: admin,
        body: {
          name: 'Demo: reasoned approvals',
          requestors: { everyone: true },
          targets: [{ integrationId: DEMO.integrationId, resource: DEMO.database, permission: 'readonly' }],
          approval: {
            mode: 'manual',
            sets: [{ name: 'DBAs', groups: [DEMO.approverGroup] }],
            rule: { type: 'anyOf' },
            timeoutMinutes: 30,
            reasonRequired: true,
          },
          defaultMinutes: 5,
          maxMinutes: 15,
          justificationRequired: false,
        },
      });
      expect(put.status, put.text).toBe(200);
      const page = await person(alice);
      const first = await askFor(page, 'Demo: reasoned approvals', { minutes: 5, justification: 'One' });
      const second = await askFor(page, 'Demo: reasoned approvals', { minutes: 5, justification: 'Two' });

      const approver = await person(bob);
      const errors = collectPageErrors(approver);
      await go(approver, 'Approvals');
      const item = approver.getByRole('article').filter({ hasText: first });
      await item.waitFor(LIVE);
      await item.getByRole('button', { name: 'Approve' }).click();
      await item.getByText('this flow requires approvers to give a reason').waitFor();
      expect(await item.getByLabel('Reason').getAttribute('aria-invalid')).toBe('true');
      await expectAccessible(approver, 'the inbox with a reason error');
      // From the keyboard: the reason field, Tab to Approve, Enter.
      await item.getByLabel('Reason').focus();
      await approver.keyboard.type('Read-only, fine');
      await approver.keyboard.press('Tab');
      expect(await approver.evaluate<string | undefined>('document.activeElement?.textContent')).toBe('Approve');
      await approver.keyboard.press('Enter');
      await approver
        .getByRole('status')
        .filter({ hasText: `Approved ${first}` })
        .waitFor();

      // Carol decides the second one through the API while Bob's inbox still shows it: his click is refused.
      const other = approver.getByRole('article').filter({ hasText: second });
      await other.waitFor();
      const decided = await call(stint.url, 'POST', `/requests/${encodeURIComponent(second)}/reject`, {
        token: await stint.token(carol),
        body: { reason: 'Duplicate' },
      });
      expect(decided.status, decided.text).toBe(200);
      await other.getByLabel('Reason').fill('Also fine');
      await other.getByRole('button', { name: 'Approve' }).click();
      await other.getByRole('alert').filter({ hasText: 'votes are only taken while PENDING' }).waitFor();
      await expectAccessible(approver, 'the inbox with a refused decision');
      expect(unexpected(errors)).toEqual([]);
    },
    SLOW,
  );

  it(
    'lets an admin ask on behalf of someone, with the API checking the grantee',
    async () => {
      const page = await person(root);
      const errors = collectPageErrors(page);
      await page.getByRole('link', { name: 'Request Demo: read-only, self-serve' }).click();
      await page.getByRole('group', { name: 'On behalf of (administrators)' }).waitFor();
      await page.getByLabel('Justification').fill('Erin starts today');
      await page.getByLabel('Grantee user id').fill('erin');
      await page.getByLabel('Grantee email').fill('not an email');
      await page.getByRole('button', { name: 'Submit request' }).click();
      const email = page.getByLabel('Grantee email');
      await expect.poll(() => email.getAttribute('aria-invalid'), LIVE).toBe('true');
      expect(await page.getByLabel('Grantee user id').getAttribute('aria-invalid')).toBe('false');
      await expectAccessible(page, 'the request form with a grantee error');

      await email.fill('erin@example.com');
      await page.getByRole('button', { name: 'Submit request' }).click();
      await page.waitForURL(/#\/requests\/[^/]+$/);
      await statusShows(page, 'ACTIVE');
      expect(await page.locator('dl.facts').textContent()).toContain('Granteeerin (erin@example.com)');
      // Credentials are the grantee's alone: the admin who asked sees none, but may revoke.
      expect(await page.getByRole('button', { name: 'Reveal credentials' }).count()).toBe(0);
      expect(await page.getByRole('button', { name: 'Revoke access' }).isVisible()).toBe(true);
      expect(await page.locator('ol.timeline').textContent()).toContain('on behalf of erin');
      expect(unexpected(errors)).toEqual([]);
    },
    SLOW,
  );

  it(
    'shows a request it cannot read as an error, and an empty inbox and list as such',
    async () => {
      const page = await person({ sub: 'dave', email: 'dave@example.com' });
      await page.goto(`${stint.url}/#/requests/no-such-request`);
      await page.getByRole('alert').filter({ hasText: "No request 'no-such-request'" }).waitFor();
      await expectAccessible(page, 'a request that cannot be read');
      await go(page, 'My requests');
      await page.getByText('You have made no request yet.').waitFor();
      await expectAccessible(page, 'my requests, empty');
      await go(page, 'Approvals');
      await page.getByText('Nothing is waiting for your decision.').waitFor();
      await expectAccessible(page, 'an empty inbox');
    },
    SLOW,
  );

  it(
    'fits a 375 px wide screen: catalog, form, request with credentials, inbox',
    async () => {
      const fits = async (page: Page, what: string) => {
        const width = await page.evaluate<number>('document.documentElement.scrollWidth');
        expect(width, `${what} at 375 px`).toBeLessThanOrEqual(375);
      };
      const page = await person(alice, 375);
      await page.getByRole('link', { name: 'Request Demo: admin, approved by dba' }).waitFor();
      await fits(page, 'the catalog');
      const pending = await askFor(page, 'Demo: admin, approved by dba', { minutes: 5, justification: 'Phone check' });
      await page.getByRole('link', { name: '← My requests' }).waitFor();
      await go(page, 'Request access');
      await page.getByRole('link', { name: 'Request Demo: read-only, self-serve' }).click();
      await page.getByLabel('Duration (minutes)').waitFor();
      await fits(page, 'the request form');
      await page.getByLabel('Justification').fill('Read the orders from my phone');
      await page.getByRole('button', { name: 'Submit request' }).click();
      await statusShows(page, 'ACTIVE');
      await page.getByRole('button', { name: 'Reveal credentials' }).click();
      await page.getByRole('button', { name: 'Copy password' }).waitFor();
      await fits(page, 'a request with its credentials');
      await expectAccessible(page, 'a request with its credentials at 375 px');
      // Hide drops them from the page; revealing again reads them anew.
      const password = await credential(page, 'Password');
      await page.getByRole('button', { name: 'Hide credentials' }).click();
      await page.getByRole('button', { name: 'Reveal credentials' }).waitFor();
      expect(await page.content()).not.toContain(password);
      await page.getByRole('button', { name: 'Reveal credentials' }).click();
      expect(await credential(page, 'Password')).toBe(password);
      await go(page, 'My requests');
      await page.getByRole('row').filter({ hasText: pending }).waitFor();
      await fits(page, 'my requests');

      const approver = await person(bob, 375);
      await go(approver, 'Approvals');
      await approver.getByRole('article').filter({ hasText: pending }).waitFor(LIVE);
      await fits(approver, 'the inbox');
    },
    SLOW,
  );
});

/** Page errors but the browser's own line for an HTTP error answer the page shows (a 4xx problem it renders). */
function unexpected(errors: string[]): string[] {
  return errors.filter(
    (e) => !/^console on \S+: Failed to load resource: the server responded with a status of 4\d\d/.test(e),
  );
}
