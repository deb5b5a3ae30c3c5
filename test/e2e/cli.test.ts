import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { type Stint, startStint } from '#lib/local/stint.ts';
import { cliReady, configDirFor, runCli, runCliOnTerminal } from '../support/cli.ts';
import { until } from '../support/http.ts';
import { canLogin } from '../support/postgres.ts';
import { mcpSuite } from './cli/mcp.ts';

/**
 * The `stint` command line, run as a child process (the real binary, stdin not a terminal) against the local
 * runtime over HTTP: sign-in, request and wait, connect with psql, approvals, revoke, and how it fails.
 */
let stint: Stint;
const dirs: Record<string, string> = {};

const Request = z.looseObject({ id: z.string(), status: z.string(), expiresAt: z.string().optional() });
const Access = z.looseObject({
  host: z.string(),
  port: z.number(),
  database: z.string(),
  username: z.string(),
  password: z.string(),
});

const as = (who: string, args: string[], env: Record<string, string> = {}) =>
  runCli(args, { configDir: dirs[who] as string, env });

async function signIn(who: string, groups: string[] = []): Promise<string> {
  dirs[who] ??= configDirFor(who);
  const res = await as(who, [
    'login',
    '--local',
    '--url',
    stint.url,
    '--user',
    who,
    ...groups.flatMap((g) => ['--group', g]),
  ]);
  expect(res, res.stderr).toMatchObject({ code: 0 });
  return dirs[who] as string;
}

async function status(who: string, id: string): Promise<string> {
  const res = await as(who, ['show', id, '--output', 'json']);
  expect(res.code, res.stderr).toBe(0);
  return Request.parse(JSON.parse(res.stdout)).status;
}

beforeAll(async () => {
  await cliReady();
  stint = await startStint({
    pgDataDir: join(await clusterParentDir('stint-e2e-cli'), 'pg'),
    pgPort: await freePort(),
  });
  await Promise.all([signIn('alice'), signIn('carol'), signIn('bob', ['dba'])]);
});

afterAll(async () => {
  await stint?.stop();
});

describe('stint, the command line', () => {
  it('signs in locally and keeps the session in a file only the user can read', async () => {
    const file = join(dirs.alice as string, 'session.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(dirs.alice as string).mode & 0o777).toBe(0o700);
    const me = await as('alice', ['whoami', '--output', 'json']);
    expect(me.code, me.stderr).toBe(0);
    expect(JSON.parse(me.stdout)).toMatchObject({ sub: 'alice', email: 'alice@example.com', url: stint.url });
  });

  it('requests self-serve access, waits until ACTIVE, connects with psql, and revoke ends it', async () => {
    const requested = await as('alice', [
      'request',
      'demo-readonly',
      '--reason',
      'look at orders',
      '--minutes',
      '5',
      '--wait',
      '--output',
      'json',
    ]);
    expect(requested.code, requested.stderr).toBe(0);
    const request = Request.parse(JSON.parse(requested.stdout));
    expect(request.status).toBe('ACTIVE');

    const connected = await as('alice', ['connect', request.id, '--', '-tAc', 'select count(*) > 0 from orders']);
    expect(connected.code, connected.stderr).toBe(0);
    expect(connected.stdout.trim()).toBe('t');

    const access = await as('alice', ['access', request.id, '--output', 'json']);
    const creds = Access.parse(JSON.parse(access.stdout));
    expect(await canLogin(creds)).toBe(true);

    const revoked = await as('alice', ['revoke', request.id, '--reason', 'done', '--output', 'json']);
    expect(revoked.code, revoked.stderr).toBe(0);
    await until(
      () => status('alice', request.id),
      (s) => s === 'REVOKED',
    );
    expect(await canLogin(creds)).toBe(false);
    const after = await as('alice', ['connect', request.id, '--', '-tAc', 'select 1']);
    expect(after.code).toBe(1);
    expect(after.stderr).toBe('stint: Credentials are available while the grant is ACTIVE; it is REVOKED\n');
  });

  it('puts the credentials in the environment of what it runs, never in its arguments', async () => {
    const requested = await as('carol', [
      'request',
      'demo-readonly',
      '--reason',
      'env check',
      '--wait',
      '--output',
      'json',
    ]);
    expect(requested.code, requested.stderr).toBe(0);
    const { id } = Request.parse(JSON.parse(requested.stdout));
    const creds = Access.parse(JSON.parse((await as('carol', ['access', id, '--output', 'json'])).stdout));

    // The child prints its environment's PG* and every argument its parent (the stint process) was started with.
    const probe = await as('carol', [
      'exec',
      id,
      '--',
      process.execPath,
      '-e',
      "const fs=require('fs');console.log(JSON.stringify({env:{PGUSER:process.env.PGUSER,PGPASSWORD:process.env.PGPASSWORD,PGHOST:process.env.PGHOST,PGDATABASE:process.env.PGDATABASE,STINT_REQUEST_ID:process.env.STINT_REQUEST_ID},parent:fs.readFileSync('/proc/'+process.ppid+'/cmdline','utf8').split('\\0')}))",
    ]);
    expect(probe.code, probe.stderr).toBe(0);
    const seen = z
      .object({ env: z.record(z.string(), z.string()), parent: z.array(z.string()) })
      .parse(JSON.parse(probe.stdout));
    expect(seen.env).toEqual({
      PGUSER: creds.username,
      PGPASSWORD: creds.password,
      PGHOST: creds.host,
      PGDATABASE: creds.database,
      STINT_REQUEST_ID: id,
    });
    expect(seen.parent.join(' ')).not.toContain(creds.password);

    // --env prints export lines a shell evaluates to the same values.
    const exported = await as('carol', ['access', id, '--env']);
    expect(exported.code).toBe(0);
    const script = join(configDirFor('carol-env'), 'env.sh');
    writeFileSync(script, `${exported.stdout}\nprintf '%s' "$PGPASSWORD"`);
    const shell = await runShell(script);
    expect(shell).toBe(creds.password);

    // The exit code of what ran is stint's own.
    const failing = await as('carol', ['exec', id, '--', 'sh', '-c', 'exit 7']);
    expect(failing.code).toBe(7);
  });

  it('lets a dba member approve someone else’s demo-admin request, and refuses self-approval with the API’s reason', async () => {
    const created = await as('alice', ['request', 'demo-admin', '--reason', 'fix an order', '--output', 'json']);
    expect(created.code, created.stderr).toBe(0);
    const { id, status: first } = Request.parse(JSON.parse(created.stdout));
    expect(first).toBe('PENDING');

    const self = await as('alice', ['approve', id]);
    expect(self.code).toBe(1);
    expect(self.stderr).toBe('stint: requesters cannot approve their own request\n');
    const selfJson = await as('alice', ['approve', id, '--output', 'json']);
    expect(JSON.parse(selfJson.stderr)).toMatchObject({ error: { status: 403, exitCode: 1 } });

    // Completion offers what each command can act on: bob's approvals, alice's flows.
    const completeId = await as('bob', ['complete', '--', 'approve', '']);
    expect(completeId.stdout).toMatch(new RegExp(`^${id}\tPENDING demo-admin for alice$`, 'm'));
    const completeFlow = await as('alice', ['complete', '--', 'request', '']);
    expect(completeFlow.stdout).toMatch(/^demo-readonly\tDemo: read-only, self-serve$/m);

    const waiting = await as('bob', ['ls', '--approvals', '--output', 'json']);
    expect(
      z
        .object({ requests: z.array(Request) })
        .parse(JSON.parse(waiting.stdout))
        .requests.map((r) => r.id),
    ).toContain(id);

    const approved = await as('bob', ['approve', id, '--reason', 'looks right', '--output', 'json']);
    expect(approved.code, approved.stderr).toBe(0);
    await until(
      () => status('alice', id),
      (s) => s === 'ACTIVE',
    );
    const shown = JSON.parse((await as('alice', ['show', id, '--output', 'json'])).stdout) as {
      timeline: { kind: string; by?: string; channel?: string }[];
    };
    expect(shown.timeline).toContainEqual(expect.objectContaining({ kind: 'vote', by: 'bob', channel: 'cli' }));
    const done = await as('alice', ['revoke', id]);
    expect(done.code, done.stderr).toBe(0);
  });

  it('exits 1 with the reason when a waited-for request is rejected', async () => {
    const created = await as('carol', ['request', 'demo-admin', '--reason', 'please', '--output', 'json']);
    const { id } = Request.parse(JSON.parse(created.stdout));
    const waiting = as('carol', ['request', 'demo-admin', '--reason', 'again', '--wait', '--output', 'json']);
    const rejectAll = async () => {
      const pending = z
        .object({ requests: z.array(Request) })
        .parse(JSON.parse((await as('carol', ['ls', '--status', 'PENDING', '--output', 'json'])).stdout)).requests;
      return pending.length;
    };
    await until(rejectAll, (n) => n >= 2);
    const pending = z
      .object({ requests: z.array(Request) })
      .parse(JSON.parse((await as('carol', ['ls', '--status', 'PENDING', '--output', 'json'])).stdout)).requests;
    for (const r of pending) {
      const res = await as('bob', ['reject', r.id, '--reason', 'not today']);
      expect(res.code, res.stderr).toBe(0);
    }
    const waited = await waiting;
    expect(waited.code).toBe(1);
    expect(waited.stderr).toMatch(/rejected by bob: not today/);
    expect(Request.parse(JSON.parse(waited.stdout)).status).toBe('REJECTED');
    expect(pending.map((r) => r.id)).toContain(id);
  });

  it('asks for the flow and the justification on a terminal, and only there', async () => {
    const onTerminal = await runCliOnTerminal(['request', '--minutes', '5', '--url', stint.url], {
      configDir: dirs.carol as string,
      steps: [
        { expect: 'Which access?', keys: '\x1b[B' }, // down: the second flow, demo-readonly
        { expect: 'self-serve', keys: '\r' },
        { expect: 'Why do you need it?', keys: 'asked on a terminal\r' },
      ],
    });
    expect(onTerminal.code, onTerminal.screen).toBe(0);
    const id = /([0-9A-Z]{26}) {2}(APPROVED|GRANTING|ACTIVE)/.exec(onTerminal.screen)?.[1];
    expect(id, onTerminal.screen).toBeDefined();
    const shown = JSON.parse((await as('carol', ['show', id as string, '--output', 'json'])).stdout) as {
      flowId: string;
      justification: string;
    };
    expect(shown).toMatchObject({ flowId: 'demo-readonly', justification: 'asked on a terminal' });
    expect((await as('carol', ['revoke', id as string])).code).toBe(0);

    const noTerminal = await as('carol', ['request']);
    expect(noTerminal.code).toBe(2);
    expect(noTerminal.stderr).toBe('stint: missing argument: the flow to request (see `stint flows`)\n');
  });

  it('names the flag when the API refuses a value, and exits 2 for usage, 3 when not signed in', async () => {
    const tooLong = await as('alice', ['request', 'demo-readonly', '--reason', 'x', '--minutes', '500']);
    expect(tooLong.code).toBe(1);
    expect(tooLong.stderr).toBe('stint: --minutes: the duration can be at most 15 minutes under this flow\n');

    const badFlag = await as('alice', ['request', 'demo-readonly', '--bogus']);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toContain("unknown option '--bogus'");
    expect(badFlag.stderr).toContain('stint <command> --help');

    const noReason = await as('alice', ['request', 'demo-readonly']);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toBe('stint: flow demo-readonly needs a justification: pass --reason "…"\n');

    const nobody = runCli(['ls'], { configDir: configDirFor('nobody') });
    const signedOut = await nobody;
    expect(signedOut.code).toBe(3);
    expect(signedOut.stderr).toMatch(/^stint: not signed in/);

    const logout = await as('carol', ['logout']);
    expect(logout.code).toBe(0);
    expect((await as('carol', ['whoami'])).code).toBe(3);
    expect(() => readFileSync(join(dirs.carol as string, 'session.json'))).toThrow();
  });
});

async function runShell(script: string): Promise<string> {
  const { execFile } = await import('node:child_process');
  return new Promise((resolve, reject) =>
    execFile('sh', [script], (error, stdout) => (error === null ? resolve(stdout) : reject(error))),
  );
}

// stint mcp, driven by the MCP SDK's client, on the same runtime.
mcpSuite(() => ({ url: stint.url, signIn }));
