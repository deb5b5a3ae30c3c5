import { readFileSync } from 'node:fs';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

let stint: Stint;
let browser: Browser;
const contexts: BrowserContext[] = [];

type Person = { sub: string; email: string; groups: string[] };

const ADMIN: Person = { sub: 'ada-admin', email: 'ada@example.com', groups: [DEMO.adminGroup] };
const ADMIN_TWO: Person = { sub: 'ben-admin', email: 'ben@example.com', groups: [DEMO.adminGroup] };
const AUDITOR: Person = { sub: 'cy-auditor', email: 'cy@example.com', groups: ['stint-auditors'] };
const REQUESTER: Person = { sub: 'rita', email: 'rita@example.com', groups: ['e2e-requesters'] };
const OTHER: Person = { sub: 'oscar', email: 'oscar@example.com', groups: [] };
const FLOW_ID = 'e2e-portal-flow';
/** A justification a spreadsheet would run as a formula, with a comma and quotes the CSV must quote. */
const TRICKY = '=HYPERLINK("https://evil.example"), "quoted" reason';

/** How long a wait for the page may last (an outcome awaited, not a timing asserted): Playwright's default. */
const WAIT = { timeout: 20_000 };

const tokenOf = (who: Person) => stint.token(who);
const api = async (who: Person, method: string, path: string, body?: unknown) =>
  call(stint.url, method, path, { token: await tokenOf(who), ...(body === undefined ? {} : { body }) });

beforeAll(async () => {
  ({ stint, browser } = await startPortalStint('admin'));
  // Requests for the auditor to filter: two by Rita, one by Oscar, all waiting for a DBA (so they stay PENDING).
  for (const [who, justification] of [
    [REQUESTER, TRICKY],
    [REQUESTER, 'second ask'],
    [OTHER, 'oscar asks too'],
  ] as const) {
    const res = await api(who, 'POST', '/requests', { flowId: 'demo-admin', durationMinutes: 10, justification });
    expect(res.status, res.text).toBe(201);
  }
  // A directory user in a directory group, for the directory pages.
  expect(
    (
      await api(ADMIN, 'PUT', '/directory/users/dora', {
        userName: 'dora@example.com',
        emails: ['dora@example.com'],
        displayName: 'Dora Directory',
      })
    ).status,
  ).toBe(200);
  expect(
    (await api(ADMIN, 'PUT', '/directory/groups/e2e-oncall', { displayName: 'oncall', members: ['dora'] })).status,
  ).toBe(200);
}, 180_000);

afterAll(async () => {
  for (const c of contexts) await c.close();
  await browser?.close();
  await stint?.stop();
});

async function personPage(who: Person, width?: number): Promise<{ page: Page; errors: string[] }> {
  const context = await newPerson(browser, width === undefined ? {} : { width });
  contexts.push(context);
  const page = await context.newPage();
  const errors = collectPageErrors(page);
  await signIn(page, stint.url, who);
  return { page, errors };
}

/** The message the form shows under a control (its aria-describedby text), once the control is marked invalid. */
async function errorOf(control: Locator): Promise<string> {
  await expect.poll(() => control.getAttribute('aria-invalid'), WAIT).toBe('true');
  const ids = ((await control.getAttribute('aria-describedby')) ?? '').split(' ').filter((s) => s.endsWith('-error'));
  expect(ids).toHaveLength(1);
  return (await control.page().locator(`[id="${ids[0]}"]`).textContent()) ?? '';
}

/** How wide the page's content is: more than the viewport means the page scrolls sideways. */
async function pageWidth(page: Page): Promise<number> {
  return Number(await page.evaluate('document.documentElement.scrollWidth'));
}

async function go(page: Page, hash: string, heading: string | RegExp): Promise<void> {
  await page.goto(`${stint.url}/#${hash}`);
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}

async function getFlow(id: string) {
  return api(ADMIN, 'GET', `/flows/${id}`);
}

/** RFC 4180: quoted fields (with "" for a quote, commas and line breaks inside), CRLF between records. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 1;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i += 1;
    } else cell += ch;
  }
  if (cell !== '' || row.length > 0) rows.push([...row, cell]);
  return rows;
}

describe('the admin pages in Chromium', () => {
  it('creates a flow through the form editor, showing each wrong field next to it, and the flow is requestable', async () => {
    const { page, errors } = await personPage(ADMIN);
    await go(page, '/admin/flows', 'Access flows');
    const table = page.getByRole('table', { name: 'Access flows' });
    await table.getByRole('link', { name: 'Demo: admin, approved by dba' }).waitFor();
    expect(await table.getByRole('row', { name: /Demo: admin/ }).textContent()).toContain(
      'Manual, anyOf, 1 approver set',
    );
    await expectAccessible(page, 'the flows list');
    await screenshot(page, 'admin-flows');

    await page.getByRole('link', { name: 'New flow' }).click();
    await page.getByRole('heading', { level: 1, name: 'New flow' }).waitFor();
    await page.getByLabel('Id', { exact: true }).fill(FLOW_ID);
    await page.getByLabel('Requestor groups').fill('e2e-requesters');
    await page.getByRole('button', { name: 'Add target' }).click();
    const target = page.getByRole('group', { name: 'Target 1' });
    await target.getByLabel('Integration').fill(DEMO.integrationId);
    await target.getByLabel('Resource').fill(DEMO.database);
    await target.getByLabel('Permission').fill('readonly');
    await page.getByLabel('Approval mode').selectOption('manual');
    const set = page.getByRole('group', { name: 'Approver set 1' });
    await set.getByLabel('Set name').fill('DBAs');
    await set.getByLabel('Approver groups').fill(DEMO.approverGroup);
    await page.getByLabel('Default minutes').fill('20');
    await page.getByLabel('Max minutes').fill('10');

    // The name is empty: the API's problem+json names it, and the form shows it under the Name field.
    await page.getByRole('button', { name: 'Create flow' }).click();
    expect(await errorOf(page.getByLabel('Name', { exact: true }))).toContain('>=1 characters');
    expect((await getFlow(FLOW_ID)).status).toBe(404);

    // Default above max: the message sits next to Default minutes, and the name's is gone.
    await page.getByLabel('Name', { exact: true }).fill('E2E: read-only via the portal');
    await page.getByRole('button', { name: 'Create flow' }).click();
    expect(await errorOf(page.getByLabel('Default minutes'))).toContain('maxMinutes');
    expect(await page.getByLabel('Name', { exact: true }).getAttribute('aria-invalid')).toBe('false');
    await expectAccessible(page, 'the flow editor showing field errors');

    await page.getByLabel('Max minutes').fill('30');
    await page.getByRole('button', { name: 'Create flow' }).click();
    await page.getByText(`Created flow ${FLOW_ID}.`).waitFor();
    expect(page.url()).toContain(`#/admin/flows/${FLOW_ID}`);

    const stored = await getFlow(FLOW_ID);
    expect(stored.status).toBe(200);
    expect(stored.json).toMatchObject({
      name: 'E2E: read-only via the portal',
      requestors: { everyone: false, groups: ['e2e-requesters'], users: [] },
      targets: [{ integrationId: DEMO.integrationId, resource: DEMO.database, permission: 'readonly' }],
      approval: { mode: 'manual', sets: [{ name: 'DBAs', groups: [DEMO.approverGroup] }], rule: { type: 'anyOf' } },
      defaultMinutes: 20,
      maxMinutes: 30,
    });
    const list = await api(ADMIN, 'GET', '/flows');
    expect((list.json as { items: { id: string }[] }).items.map((f) => f.id)).toContain(FLOW_ID);
    // A member of the requestor group sees it in their catalog; someone else does not.
    const catalogIds = async (who: Person) =>
      ((await api(who, 'GET', '/catalog')).json as { flows: { id: string }[] }).flows.map((f) => f.id);
    expect(await catalogIds(REQUESTER)).toContain(FLOW_ID);
    expect(await catalogIds(OTHER)).not.toContain(FLOW_ID);
    await screenshot(page, 'admin-flow-editor');
    expect(errors.filter((e) => !e.includes('status of 4'))).toEqual([]);
  });

  it('round-trips the raw JSON view both ways, refuses invalid JSON on that field, and lists the API errors above it', async () => {
    const { page } = await personPage(ADMIN);
    await go(page, `/admin/flows/${FLOW_ID}`, 'Flow E2E: read-only via the portal');
    await page.getByLabel('Description').fill('typed in the form');
    await page.getByRole('button', { name: 'Raw JSON' }).click();
    const raw = page.getByLabel('Raw JSON');
    const shown = JSON.parse(await raw.inputValue()) as Record<string, unknown>;
    const { id: _i, version: _v, lastChange: _l, ...stored } = (await getFlow(FLOW_ID)).json as Record<string, unknown>;
    expect(shown).toEqual({ ...stored, description: 'typed in the form' });
    await expectAccessible(page, 'the flow editor, raw JSON view');
    await screenshot(page, 'admin-flow-editor-raw');

    // Edits in the raw view reach the form.
    await raw.fill(JSON.stringify({ ...shown, description: 'edited as JSON', maxExtensions: 3 }, null, 2));
    await page.getByRole('button', { name: 'Form' }).click();
    await expect.poll(() => page.getByLabel('Description').inputValue(), WAIT).toBe('edited as JSON');
    expect(await page.getByLabel('Max extensions').inputValue()).toBe('3');

    // Text that is not JSON stays in the raw view with its error on that field.
    await page.getByRole('button', { name: 'Raw JSON' }).click();
    await raw.fill('{ "name": ');
    await page.getByRole('button', { name: 'Form' }).click();
    expect(await errorOf(raw)).toContain('Not valid JSON');
    expect(await page.getByRole('button', { name: 'Raw JSON' }).getAttribute('aria-pressed')).toBe('true');

    // The API's errors for a raw body are all listed above the text.
    await raw.fill(JSON.stringify({ ...shown, description: 'edited as JSON', maxExtensions: 3, maxMinutes: 0 }));
    await page.getByRole('button', { name: 'Save flow' }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'The flow was not saved' });
    await alert.waitFor();
    expect(await alert.textContent()).toContain('maxMinutes');

    // A valid raw body saves.
    await raw.fill(JSON.stringify({ ...shown, description: 'edited as JSON', maxExtensions: 3 }));
    await page.getByRole('button', { name: 'Save flow' }).click();
    await page.getByText(/Saved flow e2e-portal-flow/).waitFor();
    expect((await getFlow(FLOW_ID)).json).toMatchObject({ description: 'edited as JSON', maxExtensions: 3 });
  });

  it('refuses a stale edit with a reload offer and keeps the first save', async () => {
    const first = await personPage(ADMIN);
    const second = await personPage(ADMIN_TWO);
    for (const { page } of [first, second]) await go(page, `/admin/flows/${FLOW_ID}`, /^Flow /);

    await first.page.getByLabel('Description').fill('saved first');
    await first.page.getByRole('button', { name: 'Save flow' }).click();
    await first.page.getByText(/Saved flow e2e-portal-flow/).waitFor();

    await second.page.getByLabel('Description').fill('saved second, from a stale copy');
    await second.page.getByRole('button', { name: 'Save flow' }).click();
    const stale = second.page
      .getByRole('alert')
      .filter({ hasText: 'Someone else changed this flow since you opened it' });
    await stale.waitFor();
    expect((await getFlow(FLOW_ID)).json).toMatchObject({ description: 'saved first' });
    await expectAccessible(second.page, 'the flow editor refusing a stale edit');

    await second.page.getByRole('button', { name: 'Reload the flow' }).click();
    await expect.poll(() => second.page.getByLabel('Description').inputValue(), WAIT).toBe('saved first');
    await second.page.getByLabel('Description').fill('saved second, after reloading');
    await second.page.getByRole('button', { name: 'Save flow' }).click();
    await second.page.getByText(/Saved flow e2e-portal-flow/).waitFor();
    expect((await getFlow(FLOW_ID)).json).toMatchObject({ description: 'saved second, after reloading' });
  });

  it('creates a bundle, edits an integration and deletes a flow only after confirmation', async () => {
    const { page } = await personPage(ADMIN);
    await go(page, '/admin/bundles/new', 'New bundle');
    await page.getByLabel('Id', { exact: true }).fill('e2e-bundle');
    await page.getByLabel('Name', { exact: true }).fill('E2E bundle');
    await page.getByRole('button', { name: 'Add unit' }).click();
    const unit = page.getByRole('group', { name: 'Unit 1' });
    await unit.getByLabel('Integration').fill(DEMO.integrationId);
    await unit.getByLabel('Resource').fill(DEMO.database);
    await unit.getByLabel('Permission').fill('readonly');
    await page.getByRole('button', { name: 'Create bundle' }).click();
    await page.getByText('Created bundle e2e-bundle.').waitFor();
    expect((await api(ADMIN, 'GET', '/bundles/e2e-bundle')).json).toMatchObject({
      name: 'E2E bundle',
      units: [{ integrationId: DEMO.integrationId, resource: DEMO.database, permission: 'readonly' }],
    });
    await go(page, '/admin/bundles', 'Bundles');
    await page.getByRole('link', { name: 'E2E bundle' }).waitFor();

    // The integration editor: a config that is not JSON is held back on its field; the name saves.
    await go(page, `/admin/integrations/${DEMO.integrationId}`, /^Integration /);
    const config = page.getByLabel('Config (JSON)');
    const before = await config.inputValue();
    await config.fill('{ "host": ');
    await page.getByRole('button', { name: 'Save integration' }).click();
    expect(await errorOf(config)).toContain('Not valid JSON');
    await config.fill(before);
    await page.getByLabel('Name', { exact: true }).fill('Demo PostgreSQL (renamed in the portal)');
    await page.getByRole('button', { name: 'Save integration' }).click();
    await page.getByText(/Saved integration demo-postgres/).waitFor();
    expect((await api(ADMIN, 'GET', `/integrations/${DEMO.integrationId}`)).json).toMatchObject({
      name: 'Demo PostgreSQL (renamed in the portal)',
      config: JSON.parse(before) as object,
    });

    // Delete: cancelling the dialog keeps the flow; confirming deletes it.
    await go(page, `/admin/flows/${FLOW_ID}`, /^Flow /);
    await page.getByRole('button', { name: 'Delete flow' }).click();
    const dialog = page.getByRole('dialog', { name: `Delete flow ${FLOW_ID}?` });
    await dialog.waitFor();
    await expectAccessible(page, 'the delete confirmation');
    // Focus starts on Cancel, and Escape closes the dialog (keyboard only).
    await expect
      .poll(() => dialog.getByRole('button', { name: 'Cancel' }).evaluate((b) => b === b.ownerDocument.activeElement))
      .toBe(true);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    await page.getByRole('button', { name: 'Delete flow' }).click();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect((await getFlow(FLOW_ID)).json).not.toHaveProperty('deleted', true);

    await page.getByRole('button', { name: 'Delete flow' }).click();
    await dialog.getByRole('button', { name: 'Delete flow' }).click();
    await page.getByRole('heading', { level: 1, name: 'Access flows' }).waitFor();
    const gone = await getFlow(FLOW_ID);
    expect(gone.status === 404 || (gone.json as { deleted?: boolean }).deleted === true, gone.text).toBe(true);
    expect(await page.getByRole('link', { name: 'E2E: read-only via the portal' }).count()).toBe(0);
  });

  it('shows directory users with their groups and links their chat accounts', async () => {
    const { page } = await personPage(ADMIN);
    await go(page, '/admin/directory/users', 'Directory users');
    const row = page.getByRole('row', { name: /Dora Directory/ });
    await row.waitFor();
    await expect.poll(() => row.textContent(), WAIT).toContain('oncall');
    await page.getByLabel('Find a user').fill('dora@example.com');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect
      .poll(() => page.getByRole('table', { name: 'Directory users' }).getByRole('row').count(), WAIT)
      .toBe(2);

    await row.getByRole('link', { name: 'Dora Directory' }).click();
    await page.getByRole('heading', { level: 1, name: 'User Dora Directory' }).waitFor();
    await page.getByLabel('Entra ID object id').fill('not-a-guid');
    await page.getByRole('button', { name: 'Save linked accounts' }).click();
    expect(await errorOf(page.getByLabel('Entra ID object id'))).toMatch(/GUID/);

    await page.getByLabel('Entra ID object id').fill('');
    await page.getByLabel('Slack workspace (team) id').fill('T0E2E');
    await page.getByLabel('Slack user id').fill('U0DORA');
    await page.getByLabel('Atlassian account id').fill('5b10a2844c20165700ede21g');
    await page.getByRole('button', { name: 'Save linked accounts' }).click();
    await page.getByText('Saved the linked accounts.').waitFor();
    expect(((await api(ADMIN, 'GET', '/directory/users/dora')).json as { accounts: unknown[] }).accounts).toEqual([
      { kind: 'slack', teamId: 'T0E2E', userId: 'U0DORA' },
      { kind: 'jira', accountId: '5b10a2844c20165700ede21g' },
    ]);

    await go(page, '/admin/directory/groups/e2e-oncall', 'Group oncall');
    expect(await page.getByRole('link', { name: 'dora' }).count()).toBe(1);
  });
});

describe('the audit page in Chromium', () => {
  it('filters by status and requester and downloads exactly those rows as CSV', async () => {
    const { page, errors } = await personPage(AUDITOR);
    await go(page, '/audit', 'Audit');
    // One listing at a time: the first (every status) is loaded before the status filter asks for another.
    await page
      .getByRole('status')
      .filter({ hasText: /Showing \d+ of \d+ requests loaded/ })
      .waitFor();
    await page.getByLabel('Status').selectOption('PENDING');
    await page.getByLabel('Requester').fill('rita');
    await page
      .getByRole('status')
      .filter({ hasText: /Showing 2 of \d+ requests/ })
      .waitFor();
    await expectAccessible(page, 'the audit page');
    await screenshot(page, 'audit');

    // What the API answers for the same filter: status on the server, requester over every page.
    const expected: Record<string, unknown>[] = [];
    let cursor: string | null = null;
    do {
      const query = `/requests?scope=all&status=PENDING${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
      const res = await api(AUDITOR, 'GET', query);
      expect(res.status, res.text).toBe(200);
      const body = res.json as { items: Record<string, unknown>[]; cursor: string | null };
      expected.push(...body.items.filter((r) => (r.requester as { sub: string }).sub === REQUESTER.sub));
      cursor = body.cursor;
    } while (cursor !== null);
    expect(expected).toHaveLength(2);

    const table = page.getByRole('table', { name: 'Requests matching the filters' });
    expect(await table.getByRole('row').count()).toBe(1 + expected.length);

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: /Download CSV/ }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/^stint-requests-\d{4}-\d{2}-\d{2}\.csv$/);
    const path = await download.path();
    const text = readFileSync(path, 'utf8');
    expect(text.endsWith('\r\n')).toBe(true);
    const [header, ...rows] = parseCsv(text);
    expect(header).toEqual(
      expect.arrayContaining(['id', 'status', 'flowId', 'requester', 'grantee', 'justification', 'createdAt']),
    );
    const col = (name: string) => (header ?? []).indexOf(name);
    const records = rows.map((r) => Object.fromEntries((header ?? []).map((h, i) => [h, r[i]])));
    expect(records.map((r) => r.id).sort()).toEqual(expected.map((r) => r.id).sort());
    for (const want of expected) {
      const got = records.find((r) => r.id === want.id);
      expect(got).toMatchObject({
        status: 'PENDING',
        flowId: 'demo-admin',
        requester: REQUESTER.email,
        grantee: REQUESTER.email,
        createdAt: want.createdAt,
        units: `${DEMO.integrationId}/${DEMO.database}/admin`,
        // A cell a spreadsheet would evaluate is defused with a leading quote; the rest is the API's text.
        justification: want.justification === TRICKY ? `'${TRICKY}` : want.justification,
      });
    }
    // The header has the same columns as the table, in the same order.
    const columns = await table.getByRole('columnheader').allTextContents();
    expect(columns).toEqual(header);
    expect(col('id')).toBe(0);

    // The time range filters the loaded requests too: none was created after 2099.
    await page.getByLabel('Created from').fill('2099-01-01T00:00');
    await page.getByText('No request matches these filters.').waitFor();
    await page
      .getByRole('status')
      .filter({ hasText: /Showing 0 of \d+ requests/ })
      .waitFor();
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.getByLabel('Created from').fill('2000-01-01T00:00');
    await page
      .getByRole('status')
      .filter({ hasText: /Showing 3 of 3 requests/ })
      .waitFor();
    expect(errors).toEqual([]);
  });
});

describe('every admin and audit page at 375 px', () => {
  it('has no horizontal page scroll and no serious accessibility violation', async () => {
    const { page } = await personPage({ ...ADMIN, groups: [DEMO.adminGroup, 'stint-auditors'] }, 375);
    const pages: [string, string | RegExp][] = [
      ['/admin/flows', 'Access flows'],
      ['/admin/flows/new', 'New flow'],
      ['/admin/flows/demo-admin', /^Flow /],
      ['/admin/integrations', 'Integrations'],
      ['/admin/integrations/new', 'New integration'],
      [`/admin/integrations/${DEMO.integrationId}`, /^Integration /],
      ['/admin/bundles', 'Bundles'],
      ['/admin/bundles/new', 'New bundle'],
      ['/admin/directory/users', 'Directory users'],
      ['/admin/directory/users/dora', 'User Dora Directory'],
      ['/admin/directory/groups', 'Directory groups'],
      ['/admin/directory/groups/e2e-oncall', 'Group oncall'],
      ['/audit', 'Audit'],
    ];
    for (const [hash, heading] of pages) {
      await go(page, hash, heading);
      await page.waitForLoadState('networkidle');
      const width = await pageWidth(page);
      expect(width, `page width of ${hash}`).toBeLessThanOrEqual(375);
      await expectAccessible(page, hash);
    }
    // The raw JSON view too.
    await go(page, '/admin/flows/demo-admin', /^Flow /);
    await page.getByRole('button', { name: 'Raw JSON' }).click();
    expect(await pageWidth(page)).toBeLessThanOrEqual(375);
    await expectAccessible(page, 'the raw JSON view at 375 px');
  });
});
