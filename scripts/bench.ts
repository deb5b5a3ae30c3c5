/**
 * `npm run bench`: N lifecycles through the local runtime over HTTP, then the Lambda bundles.
 * Prints p50/p95 of create→ACTIVE (self-serve), approve→ACTIVE and revoke→REVOKED; state transitions and
 * DynamoDB calls per lifecycle by operation (Scan must be 0: the run fails otherwise); bundle size and cold
 * import time of every Lambda. Timings are observed as the audit events arrive on the local bus.
 * The Slack interaction handler's handling time (a signed `block_actions` Approve through the local runtime, with a
 * Slack stand-in) is measured in a child process (BENCH_PART=slack), so Slack's notify function stays out of the
 * per-lifecycle counts above. Then the portal's first-load size (BENCH_PART=portal prints only that), and last how
 * long `stint --help` takes in a fresh node (BENCH_PART=cli prints only that; the goal is under 150 ms).
 */
import '#lib/local/polyfills.ts';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import * as z from 'zod';
import { signSlackRequest } from '#lib/channels/slack/verify.ts';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { type Stint, startStint } from '#lib/local/stint.ts';
import { CLI_BIN, ensureCliBuilt } from '../cli/build.ts';
import { ensurePortalBuilt } from '../portal/build.ts';
import { SlackStandIn } from '../test/fixtures/slack/server.ts';
import { bundleFunctions, functionEntries } from './bundles.ts';

const N = z.coerce.number().int().min(1).max(1000).default(20).parse(process.env.BENCH_N);

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}
function line(name: string, values: number[]): string {
  return `  ${name.padEnd(28)} p50 ${percentile(values, 50).toFixed(0).padStart(5)} ms   p95 ${percentile(values, 95).toFixed(0).padStart(5)} ms   (n=${values.length})`;
}

const Detail = z.object({ request: z.object({ id: z.string() }) });

/** Resolves when the bus carries `type` for `requestId`. */
function eventFor(stint: Stint, requestId: string, type: string): Promise<number> {
  return new Promise((resolve) => {
    const seen = stint.runtime
      .events()
      .find((e) => e['detail-type'] === type && Detail.safeParse(e.detail).data?.request.id === requestId);
    if (seen !== undefined) return resolve(performance.now());
    const off = stint.runtime.subscribe((e) => {
      if (e['detail-type'] === type && Detail.safeParse(e.detail).data?.request.id === requestId) {
        off();
        resolve(performance.now());
      }
    });
  });
}

async function post(stint: Stint, token: string, path: string, body: unknown): Promise<{ id: string }> {
  const res = await fetch(`${stint.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = z.object({ id: z.string() }).safeParse(await res.json());
  if (!res.ok || !json.success) throw new Error(`${path} answered ${res.status}`);
  return json.data;
}

function diff(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(after).map((k) => [k, (after[k] ?? 0) - (before[k] ?? 0)]));
}

async function lifecycles(): Promise<void> {
  const dir = await clusterParentDir('stint-bench');
  const stint = await startStint({
    pgDataDir: join(dir, 'pg'),
    pgPort: await freePort(),
    port: 0,
    log: () => undefined,
  });
  try {
    const alice = await stint.token({ sub: 'alice', email: 'alice@example.com', groups: [] });
    const dba = await stint.token({ sub: 'dba1', email: 'dba1@example.com', groups: ['dba'] });
    const createToActive: number[] = [];
    const approveToActive: number[] = [];
    const revokeToRevoked: number[] = [];

    // Self-serve lifecycles: create → ACTIVE → revoke → REVOKED, measured for calls per lifecycle.
    const before = stint.runtime.stats();
    for (let i = 0; i < N; i++) {
      const t0 = performance.now();
      const { id } = await post(stint, alice, '/requests', {
        flowId: 'demo-readonly',
        durationMinutes: 5,
        justification: 'bench',
      });
      createToActive.push((await eventFor(stint, id, 'grant.active')) - t0);
      const t1 = performance.now();
      await post(stint, alice, `/requests/${id}/revoke`, {});
      revokeToRevoked.push((await eventFor(stint, id, 'grant.revoked')) - t1);
    }
    const after = stint.runtime.stats();

    // Approved lifecycles: approve → ACTIVE.
    for (let i = 0; i < N; i++) {
      const { id } = await post(stint, alice, '/requests', {
        flowId: 'demo-admin',
        durationMinutes: 5,
        justification: 'bench',
      });
      await eventFor(stint, id, 'request.created');
      const t0 = performance.now();
      await post(stint, dba, `/requests/${id}/approve`, {});
      approveToActive.push((await eventFor(stint, id, 'grant.active')) - t0);
      await post(stint, alice, `/requests/${id}/revoke`, {});
      await eventFor(stint, id, 'grant.revoked');
    }

    console.log(`\nLifecycles through the local runtime over HTTP (N=${N}, PostgreSQL grants on a real server):`);
    console.log(line('create → ACTIVE (self-serve)', createToActive));
    console.log(line('approve → ACTIVE', approveToActive));
    console.log(line('revoke → REVOKED', revokeToRevoked));
    console.log(`\nPer self-serve lifecycle (create, grant, revoke), averaged over ${N}:`);
    console.log(`  state transitions           ${((after.stateTransitions - before.stateTransitions) / N).toFixed(1)}`);
    const calls = diff(after.dynamodb, before.dynamodb);
    for (const [op, count] of Object.entries(calls).sort())
      console.log(`  DynamoDB ${op.padEnd(19)} ${(count / N).toFixed(1)}`);
    const invocations = diff(after.invocations, before.invocations);
    console.log(
      `  Lambda invocations          ${(Object.values(invocations).reduce((a, b) => a + b, 0) / N).toFixed(1)}`,
    );
    if ((calls.Scan ?? 0) > 0) {
      console.error('FAIL: a lifecycle issued Scan');
      process.exitCode = 1;
    }
  } finally {
    await stint.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The Slack interaction handler, warm, through the local runtime over HTTP: from sending a signed Approve click
 * until the handler answers (signature check, replay claim, identity from the directory, the vote with its
 * SendTaskSuccess, the update of the approver's message copy). Approver and requester provisioned through SCIM.
 */
async function slackHandling(): Promise<void> {
  const secret = 'bench-signing-secret';
  const slack = await SlackStandIn.start();
  slack.addUser({ id: 'UALICE', teamId: 'TBENCH', email: 'alice@example.com' });
  slack.addUser({ id: 'UDBA1', teamId: 'TBENCH', email: 'dba1@example.com' });
  const dir = await clusterParentDir('stint-bench-slack');
  const stint = await startStint({
    pgDataDir: join(dir, 'pg'),
    pgPort: await freePort(),
    port: 0,
    log: () => undefined,
    env: { BENCH_SLACK_SIGNING: secret, BENCH_SLACK_BOT: 'xoxb-bench' },
    config: {
      slack: { signingSecretRef: 'env:BENCH_SLACK_SIGNING', botTokenRef: 'env:BENCH_SLACK_BOT', apiUrl: slack.apiUrl },
    },
  });
  try {
    const scim = async (path: string, body: unknown) => {
      const res = await fetch(`${stint.url}/scim/v2${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stint.scimToken}`, 'content-type': 'application/scim+json' },
        body: JSON.stringify(body),
      });
      if (res.status !== 201) throw new Error(`SCIM ${path} answered ${res.status}`);
    };
    for (const [sub, email] of [
      ['alice', 'alice@example.com'],
      ['dba1', 'dba1@example.com'],
    ])
      await scim('/Users', { userName: email, externalId: sub, emails: [{ value: email, primary: true }] });
    await scim('/Groups', { displayName: 'dba', members: [{ value: 'dba1' }] });
    const alice = await stint.token({ sub: 'alice', email: 'alice@example.com', groups: [] });

    const handling: number[] = [];
    for (let i = 0; i < N; i++) {
      const { id } = await post(stint, alice, '/requests', {
        flowId: 'demo-admin',
        durationMinutes: 5,
        justification: 'bench',
      });
      // The approver's DM is posted by the notify function; the click comes after it, as in Slack.
      while (!slack.callsOf('chat.postMessage').some((c) => JSON.stringify(c.params.blocks).includes(id)))
        await new Promise((r) => setTimeout(r, 10));
      const at = Math.floor(Date.now() / 1000);
      const raw = `payload=${encodeURIComponent(
        JSON.stringify({
          type: 'block_actions',
          team: { id: 'TBENCH' },
          user: { id: 'UDBA1', team_id: 'TBENCH' },
          response_url: slack.responseUrl(id),
          actions: [{ action_id: 'stint_approve', value: id, type: 'button', action_ts: String(Date.now()) }],
        }),
      )}`;
      const t0 = performance.now();
      const res = await fetch(`${stint.url}/webhooks/slack/interactions`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-slack-request-timestamp': String(at),
          'x-slack-signature': signSlackRequest(secret, at, raw),
        },
        body: raw,
      });
      await res.text();
      handling.push(performance.now() - t0);
      if (res.status !== 200) throw new Error(`the Slack interaction answered ${res.status}`);
      await eventFor(stint, id, 'grant.active');
      await post(stint, alice, `/requests/${id}/revoke`, {});
      await eventFor(stint, id, 'grant.revoked');
    }
    const approved = slack.responses.filter((r) => r.body.text === 'Approved: Stint is granting the access.').length;
    console.log(`
Slack interaction handler, warm, through the local runtime over HTTP (N=${N}):`);
    console.log(line('signed Approve → answered', handling));
    console.log(
      `  first click (links the Slack account) ${handling[0]?.toFixed(0)} ms; ${approved}/${N} clicks approved`,
    );
    if (approved !== N) process.exitCode = 1;
  } finally {
    await stint.stop();
    await slack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Each entry bundled as `cdk deploy` bundles it, then imported cold in a fresh Node process. */
async function bundles(): Promise<void> {
  const out = mkdtempSync(join(tmpdir(), 'stint-bundles-'));
  console.log(
    '\nLambda bundles (esbuild, ESM, minified, AWS SDK included) and cold import time (fresh node, median of 3):',
  );
  try {
    for (const { entry, bytes, outfile } of await bundleFunctions(functionEntries(), { outdir: out })) {
      const times = [0, 1, 2].map(() => {
        const ms = execFileSync(
          process.execPath,
          [
            '--input-type=module',
            '-e',
            `const t=performance.now(); await import(${JSON.stringify(outfile)}); console.log(performance.now()-t)`,
          ],
          { env: { ...process.env, AWS_REGION: 'us-east-1', POWERTOOLS_LOG_LEVEL: 'ERROR' }, encoding: 'utf8' },
        );
        return Number.parseFloat(ms.trim().split('\n').pop() ?? 'NaN');
      });
      const kb = bytes / 1024;
      console.log(
        `  ${entry.padEnd(40)} ${kb.toFixed(0).padStart(6)} KiB   cold import ${percentile(times, 50).toFixed(0).padStart(4)} ms`,
      );
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/**
 * What a browser downloads to show the portal's first page: the scripts and stylesheets index.html names (entry
 * and modulepreload links), raw and compressed as CloudFront serves them (gzip, and brotli where the browser
 * accepts it). The goal is under 200 KB of JavaScript gzipped.
 */
async function portalBundle(): Promise<void> {
  const dist = await ensurePortalBuilt();
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  const files = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1] ?? '');
  console.log('\nPortal first load (portal/dist, what index.html loads):');
  const total = { js: [0, 0, 0], css: [0, 0, 0] };
  for (const file of files) {
    const body = readFileSync(join(dist, file));
    const sizes = [body.length, gzipSync(body).length, brotliCompressSync(body).length];
    const kind = file.endsWith('.js') ? total.js : total.css;
    sizes.forEach((size, i) => {
      kind[i] = (kind[i] ?? 0) + size;
    });
    const [raw, gz, br] = sizes.map((b) => (b / 1024).toFixed(1).padStart(7));
    console.log(`  ${file.padEnd(40)} ${raw} KiB raw ${gz} KiB gzip ${br} KiB brotli`);
  }
  for (const [kind, [raw, gz, br]] of Object.entries(total)) {
    const kib = (b: number | undefined) => ((b ?? 0) / 1024).toFixed(1).padStart(7);
    console.log(`  ${`total ${kind}`.padEnd(40)} ${kib(raw)} KiB raw ${kib(gz)} KiB gzip ${kib(br)} KiB brotli`);
  }
}

/**
 * `stint --help` as a person runs it: the real binary in a fresh node process, wall time from spawn to exit, N runs
 * after one warm-up, interleaved with runs of an empty `node -e ''` so the noise of this machine shows in both and
 * the difference is the CLI's own. p50, p95 and max.
 */
async function cliHelp(): Promise<void> {
  await ensureCliBuilt();
  const runs = Number(process.env.BENCH_CLI_N ?? 30);
  const time = (args: string[]) => {
    const started = performance.now();
    execFileSync(process.execPath, args, { stdio: 'ignore' });
    return performance.now() - started;
  };
  time([CLI_BIN, '--help']);
  const help: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < runs; i++) {
    help.push(time([CLI_BIN, '--help']));
    bare.push(time(['-e', '']));
  }
  const stats = (times: number[]) => {
    const sorted = times.toSorted((a, b) => a - b);
    const at = (q: number) => (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(0);
    return `p50 ${at(0.5)} ms, p95 ${at(0.95)} ms, max ${at(1)} ms`;
  };
  console.log(`\nCLI, ${runs} runs each in a fresh node (goal: stint --help under 150 ms):`);
  console.log(`  stint --help   ${stats(help)}`);
  console.log(`  node -e ''     ${stats(bare)}  (node's own start, for comparison)`);
}

if (process.env.BENCH_PART === 'portal') {
  await portalBundle();
} else if (process.env.BENCH_PART === 'cli') {
  await cliHelp();
} else if (process.env.BENCH_PART === 'slack') {
  await slackHandling();
} else {
  await lifecycles();
  // A fresh process: one local runtime per process, and its handlers' configuration is read once.
  execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
    env: { ...process.env, BENCH_PART: 'slack' },
    stdio: 'inherit',
  });
  await bundles();
  await portalBundle();
  await cliHelp();
}
