/**
 * One bench measurement in a process of its own, against the tree this file sits in (scripts/bench.ts copies it
 * into a baseline worktree, so the same measurement is applied to both trees). Writes its result as JSON to
 * `--out`; progress goes to stderr. Run by scripts/bench.ts, not by hand:
 *
 *   tsx scripts/bench/measure.ts --part lifecycles|expiry|slack|bundles|portal|cli --out FILE [--n 20]
 *     [--expiry-n 10] [--cli-n 30]
 *
 * It imports only what every tree the bench compares has (startStint, the Slack stand-in, the portal and CLI
 * builds, scripts/bundles.ts, which is copied along), and reads the runtime's stats loosely: a tree that does not
 * count handler durations or DynamoDB calls by caller reports them as missing.
 */
import '#lib/local/polyfills.ts';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import * as z from 'zod';
import { signSlackRequest } from '#lib/channels/slack/verify.ts';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { type Stint, startStint } from '#lib/local/stint.ts';
import { synthTemplate } from '#lib/local/synth.ts';
import { loadTemplate } from '#lib/local/template.ts';
import { CLI_BIN, ensureCliBuilt } from '../../cli/build.ts';
import { ensurePortalBuilt } from '../../portal/build.ts';
import { SlackStandIn } from '../../test/fixtures/slack/server.ts';
import { canLogin } from '../../test/support/postgres.ts';
import { bundleFunctions, functionEntries } from '../bundles.ts';
import { idleMonthly, type ScheduledRun } from './cost.ts';
import { median } from './stats.ts';
import type {
  BundlesResult,
  CliResult,
  ExpiryResult,
  LifecycleCounts,
  LifecyclesResult,
  PortalResult,
  SlackResult,
  SuiteResult,
} from './types.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const progress = (line: string) => process.stderr.write(`[bench] ${line}\n`);

/** The runtime's stats as any tree has them: fields newer than the tree are optional. */
const Stats = z.object({
  dynamodb: z.record(z.string(), z.number()),
  dynamodbByCaller: z.record(z.string(), z.record(z.string(), z.number())).optional(),
  stateTransitions: z.number(),
  invocations: z.record(z.string(), z.number()),
  durationMs: z.record(z.string(), z.number()).optional(),
  sqs: z.record(z.string(), z.object({ sent: z.number(), received: z.number(), deleted: z.number() })).optional(),
});
type Stats = z.infer<typeof Stats>;

const Detail = z.object({ request: z.object({ id: z.string() }) });
const wallNow = () => performance.timeOrigin + performance.now();

/** Resolves with the wall-clock time (ms) at which the bus carried `type` for `requestId`. */
function eventFor(stint: Stint, requestId: string, type: string): Promise<number> {
  const matches = (e: { 'detail-type': string; detail: unknown }) =>
    e['detail-type'] === type && Detail.safeParse(e.detail).data?.request.id === requestId;
  return new Promise((resolve) => {
    if (stint.runtime.events().some(matches)) return resolve(wallNow());
    const off = stint.runtime.subscribe((e) => {
      if (matches(e)) {
        off();
        resolve(wallNow());
      }
    });
  });
}

/** Counts every call to the API, so the API Gateway line of the cost counts what the lifecycle needed. */
let apiRequests = 0;
async function call(stint: Stint, token: string, method: string, path: string, body?: unknown): Promise<unknown> {
  apiRequests++;
  const res = await fetch(`${stint.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json: unknown = await res.json();
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}`);
  return json;
}
const IdOf = z.object({ id: z.string() });
const post = async (stint: Stint, token: string, path: string, body: unknown) =>
  IdOf.parse(await call(stint, token, 'POST', path, body));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const stats = (stint: Stint): Stats => Stats.parse(stint.runtime.stats());

/** Waits until the runtime stops counting (stream records published, executions at their last state). */
async function settled(stint: Stint): Promise<void> {
  let last = JSON.stringify(stats(stint));
  for (;;) {
    await stint.runtime.queuesIdle();
    await sleep(300);
    const now = JSON.stringify(stats(stint));
    if (now === last) return;
    last = now;
  }
}

function diff(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.keys(after)
      .map((k): [string, number] => [k, (after[k] ?? 0) - (before[k] ?? 0)])
      .filter(([, v]) => v !== 0),
  );
}
const sqsRequests = (s: Stats) =>
  Object.values(s.sqs ?? {}).reduce((sum, q) => sum + q.sent + q.received + q.deleted, 0);

/** What the runtime counted between two snapshots (after `settled`). */
function window(stint: Stint, before: Stats, eventsBefore: number, apiBefore: number, n: number): LifecycleCounts {
  const after = stats(stint);
  return {
    n,
    transitions: after.stateTransitions - before.stateTransitions,
    invocations: diff(after.invocations, before.invocations),
    durationMs: after.durationMs === undefined ? null : diff(after.durationMs, before.durationMs ?? {}),
    dynamodb: diff(after.dynamodb, before.dynamodb),
    dynamodbByCaller:
      after.dynamodbByCaller === undefined
        ? null
        : Object.fromEntries(
            Object.entries(after.dynamodbByCaller)
              .map(([fn, ops]): [string, Record<string, number>] => [
                fn,
                diff(ops, before.dynamodbByCaller?.[fn] ?? {}),
              ])
              .filter(([, ops]) => Object.keys(ops).length > 0),
          ),
    events: stint.runtime.events().length - eventsBefore,
    sqsRequests: sqsRequests(after) - sqsRequests(before),
    apiRequests: apiRequests - apiBefore,
  };
}

async function withStint<T>(
  name: string,
  options: { scheduleEveryMs?: number; slack?: { secret: string; apiUrl: string } },
  work: (stint: Stint) => Promise<T>,
): Promise<T> {
  await ensurePortalBuilt(progress); // the synthesized stack includes the portal's files
  const dir = await clusterParentDir(`stint-bench-${name}`);
  const stint = await startStint({
    pgDataDir: join(dir, 'pg'),
    pgPort: await freePort(),
    port: 0,
    log: () => undefined,
    ...(options.scheduleEveryMs === undefined ? {} : { scheduleEveryMs: options.scheduleEveryMs }),
    ...(options.slack === undefined
      ? {}
      : {
          env: { BENCH_SLACK_SIGNING: options.slack.secret, BENCH_SLACK_BOT: 'xoxb-bench' },
          config: {
            slack: {
              signingSecretRef: 'env:BENCH_SLACK_SIGNING',
              botTokenRef: 'env:BENCH_SLACK_BOT',
              apiUrl: options.slack.apiUrl,
            },
          },
        }),
  });
  try {
    return await work(stint);
  } finally {
    await stint.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

type Resource = { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, unknown> };
const Template = z.object({ Resources: z.record(z.string(), z.custom<Resource>()) });

/** Each function's MemorySize by logical id (what Lambda bills duration by). */
function memoryOf(template: z.infer<typeof Template>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(template.Resources)
      .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
      .map(([id, r]) => [id, typeof r.Properties?.MemorySize === 'number' ? r.Properties.MemorySize : 128]),
  );
}

/** One run of each scheduled rule's target, invoked as EventBridge would, with what it cost. */
async function scheduledRuns(stint: Stint, template: z.infer<typeof Template>): Promise<Record<string, ScheduledRun>> {
  const Target = z.object({
    Arn: z.object({ 'Fn::GetAtt': z.tuple([z.string(), z.literal('Arn')]) }),
    Input: z.string().optional(),
  });
  const runs: Record<string, ScheduledRun> = {};
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type !== 'AWS::Events::Rule' || r.Properties?.ScheduleExpression === undefined) continue;
    const target = z.array(Target).safeParse(r.Properties.Targets).data?.[0];
    if (target === undefined) continue;
    const fn = target.Arn['Fn::GetAtt'][0];
    const event =
      target.Input === undefined
        ? { version: '0', id: id, 'detail-type': 'Scheduled Event', source: 'aws.events', resources: [], detail: {} }
        : JSON.parse(target.Input);
    await settled(stint);
    const before = stats(stint);
    await stint.runtime.invoke(fn, event);
    await settled(stint);
    const after = stats(stint);
    runs[id] = {
      function: fn,
      invocations: Object.values(diff(after.invocations, before.invocations)).reduce((a, b) => a + b, 0),
      durationMs:
        after.durationMs === undefined
          ? undefined
          : Object.values(diff(after.durationMs, before.durationMs ?? {})).reduce((a, b) => a + b, 0),
      dynamodb: diff(after.dynamodb, before.dynamodb),
    };
  }
  return runs;
}

async function lifecycles(n: number): Promise<LifecyclesResult> {
  // The scheduled reconciler stays off while counting (its ticks are a backstop, not part of a lifecycle); its cost
  // is measured on its own below, per scheduled run.
  return withStint('lifecycles', { scheduleEveryMs: 2_000_000_000 }, async (stint) => {
    const alice = await stint.token({ sub: 'alice', email: 'alice@example.com', groups: [] });
    const dba = await stint.token({ sub: 'dba1', email: 'dba1@example.com', groups: ['dba'] });
    const createToActive: number[] = [];
    const approveToActive: number[] = [];
    const revokeToRevoked: number[] = [];
    const body = (flowId: string) => ({ flowId, durationMinutes: 5, justification: 'bench' });

    // Self-serve (demo-readonly): create → ACTIVE → revoke → REVOKED.
    await settled(stint);
    let before = stats(stint);
    let events = stint.runtime.events().length;
    let api = apiRequests;
    for (let i = 0; i < n; i++) {
      const t0 = wallNow();
      const { id } = await post(stint, alice, '/requests', body('demo-readonly'));
      createToActive.push((await eventFor(stint, id, 'grant.active')) - t0);
      const t1 = wallNow();
      await post(stint, alice, `/requests/${id}/revoke`, {});
      revokeToRevoked.push((await eventFor(stint, id, 'grant.revoked')) - t1);
    }
    await settled(stint);
    const selfServe = window(stint, before, events, api, n);
    progress(`self-serve lifecycles done (${n})`);

    // Approved (demo-admin): create → approve by dba1 → ACTIVE → revoke → REVOKED.
    before = stats(stint);
    events = stint.runtime.events().length;
    api = apiRequests;
    for (let i = 0; i < n; i++) {
      const { id } = await post(stint, alice, '/requests', body('demo-admin'));
      await eventFor(stint, id, 'request.created');
      const t0 = wallNow();
      await post(stint, dba, `/requests/${id}/approve`, {});
      approveToActive.push((await eventFor(stint, id, 'grant.active')) - t0);
      await post(stint, alice, `/requests/${id}/revoke`, {});
      await eventFor(stint, id, 'grant.revoked');
    }
    await settled(stint);
    const approved = window(stint, before, events, api, n);
    progress(`approved lifecycles done (${n})`);

    const template = Template.parse(await synthTemplate());
    const memoryMb = memoryOf(template);
    const idle = idleMonthly(template, memoryMb, await scheduledRuns(stint, template));
    return {
      selfServe,
      approved,
      latencyMs: { createToActive, approveToActive, revokeToRevoked },
      memoryMb,
      idle,
    };
  });
}

const Access = z.object({
  host: z.string(),
  port: z.number(),
  database: z.string(),
  username: z.string(),
  password: z.string(),
  expiresAt: z.string(),
});

/**
 * Expiry precision: `k` requests for one minute each, made at once (durations are whole minutes: one wait, many
 * samples). For each, from its `expiresAt` to the `grant.expired` event and to the moment a real login with the
 * issued credentials is refused (polled every 50 ms from a second before `expiresAt`; the figure is the start of
 * the first refused attempt, so it is exact to the polling interval).
 */
async function expiry(k: number): Promise<ExpiryResult> {
  return withStint('expiry', {}, async (stint) => {
    const alice = await stint.token({ sub: 'alice', email: 'alice@example.com', groups: [] });
    const ids = await Promise.all(
      Array.from({ length: k }, () =>
        post(stint, alice, '/requests', { flowId: 'demo-readonly', durationMinutes: 1, justification: 'bench' }),
      ),
    );
    await Promise.all(ids.map(({ id }) => eventFor(stint, id, 'grant.active')));
    const grants = await Promise.all(
      ids.map(async ({ id }) => {
        const access = Access.parse(await call(stint, alice, 'GET', `/requests/${id}/access`));
        if (!(await canLogin(access))) throw new Error(`the credentials of ${id} do not log in while ACTIVE`);
        return { id, access, expiresAt: Date.parse(access.expiresAt) };
      }),
    );
    const first = Math.min(...grants.map((g) => g.expiresAt));
    let expired = 0;
    let refused = 0;
    const ticker = setInterval(() => {
      const left = Math.round((first - Date.now()) / 1000);
      progress(
        left > 0
          ? `expiry: ${k} grants active, the first expires in ${left} s`
          : `expiry: ${expired}/${k} expired, ${refused}/${k} logins refused`,
      );
    }, 5000);
    try {
      const samples = await Promise.all(
        grants.map(async (g) => {
          const expiredAt = eventFor(stint, g.id, 'grant.expired').then((t) => {
            expired++;
            return t;
          });
          await sleep(Math.max(0, g.expiresAt - 1000 - Date.now()));
          let refusedAt: number | undefined;
          while (refusedAt === undefined) {
            const attempt = wallNow();
            if (!(await canLogin(g.access))) refusedAt = attempt;
            else await sleep(50);
          }
          refused++;
          return { expired: (await expiredAt) - g.expiresAt, refused: refusedAt - g.expiresAt };
        }),
      );
      return {
        n: k,
        expiredLagMs: samples.map((s) => s.expired),
        refusedLagMs: samples.map((s) => s.refused),
      };
    } finally {
      clearInterval(ticker);
    }
  });
}

/**
 * The Slack interaction handler, warm, through the local runtime over HTTP: from sending a signed Approve click
 * until the handler answers (signature check, replay claim, identity from the directory, the vote with its
 * SendTaskSuccess, the update of the approver's message copy). Approver and requester provisioned through SCIM.
 */
async function slackHandling(n: number): Promise<SlackResult> {
  const secret = 'bench-signing-secret';
  const slack = await SlackStandIn.start();
  slack.addUser({ id: 'UALICE', teamId: 'TBENCH', email: 'alice@example.com' });
  slack.addUser({ id: 'UDBA1', teamId: 'TBENCH', email: 'dba1@example.com' });
  try {
    return await withStint('slack', { slack: { secret, apiUrl: slack.apiUrl } }, async (stint) => {
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

      const handlingMs: number[] = [];
      for (let i = 0; i < n; i++) {
        const { id } = await post(stint, alice, '/requests', {
          flowId: 'demo-admin',
          durationMinutes: 5,
          justification: 'bench',
        });
        // The approver's DM is posted by the notify function; the click comes after it, as in Slack.
        while (!slack.callsOf('chat.postMessage').some((c) => JSON.stringify(c.params.blocks).includes(id)))
          await sleep(10);
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
        handlingMs.push(performance.now() - t0);
        if (res.status !== 200) throw new Error(`the Slack interaction answered ${res.status}`);
        await eventFor(stint, id, 'grant.active');
        await post(stint, alice, `/requests/${id}/revoke`, {});
        await eventFor(stint, id, 'grant.revoked');
      }
      const approved = slack.responses.filter((r) => r.body.text === 'Approved: Stint is granting the access.').length;
      return { n, handlingMs, approved };
    });
  } finally {
    await slack.stop();
  }
}

/**
 * The environment each entry has in the synthesized template (references resolved as the local runtime resolves
 * them): a function's configuration is parsed at cold start, so its import needs the variables it gets in AWS.
 */
async function environmentByEntry(): Promise<Map<string, Record<string, string>>> {
  const json = await synthTemplate();
  const template = loadTemplate(json);
  const byEntry = new Map<string, Record<string, string>>();
  for (const r of Object.values(Template.parse(json).Resources)) {
    const entry = r.Metadata?.['stint:entry'];
    if (r.Type !== 'AWS::Lambda::Function' || typeof entry !== 'string') continue;
    const vars = z
      .object({ Variables: z.record(z.string(), z.unknown()).optional() })
      .safeParse(template.resolve(r.Properties?.Environment)).data?.Variables;
    byEntry.set(entry, Object.fromEntries(Object.entries(vars ?? {}).map(([k, v]) => [k, String(v)])));
  }
  return byEntry;
}

/**
 * Each entry bundled as `cdk deploy` bundles it, then imported cold in a fresh Node process with the function's
 * own environment (median of 3). An import that fails is reported (coldImportMs null, its error), not fatal.
 */
async function bundles(): Promise<BundlesResult> {
  // The entries of this tree that exist in it (the same derivation applied to each tree).
  const entries = functionEntries().filter((entry) => existsSync(join(ROOT, entry)));
  const environments = await environmentByEntry();
  const out = mkdtempSync(join(tmpdir(), 'stint-bundles-'));
  try {
    const built = await bundleFunctions(entries, { repoRoot: ROOT, outdir: out });
    return built.map(({ entry, bytes, outfile }) => {
      const env = {
        PATH: process.env.PATH ?? '',
        ...environments.get(entry),
        AWS_REGION: 'us-east-1',
        POWERTOOLS_LOG_LEVEL: 'ERROR',
      };
      try {
        const times = [0, 1, 2].map(() => {
          const ms = execFileSync(
            process.execPath,
            [
              '--input-type=module',
              '-e',
              `const t=performance.now(); await import(${JSON.stringify(outfile)}); console.log(performance.now()-t)`,
            ],
            { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
          );
          return Number.parseFloat(ms.trim().split('\n').pop() ?? 'NaN');
        });
        progress(`bundled ${entry}`);
        return { entry, bytes, coldImportMs: median(times) };
      } catch (error) {
        const stderr = z.object({ stderr: z.string() }).safeParse(error).data?.stderr ?? String(error);
        const message = /^\w*Error: .*$/m.exec(stderr)?.[0] ?? 'the import failed';
        progress(`bundled ${entry}; its cold import failed: ${message}`);
        return { entry, bytes, coldImportMs: null, importError: message };
      }
    });
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/**
 * What a browser downloads to show the portal's first page: the scripts and stylesheets index.html names (entry
 * and modulepreload links), raw and compressed as CloudFront serves them (gzip, and brotli where accepted).
 */
async function portalBundle(): Promise<PortalResult> {
  const dist = await ensurePortalBuilt(progress);
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  const files = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1] ?? '');
  return files.map((file) => {
    const body = readFileSync(join(dist, file));
    return { file, raw: body.length, gzip: gzipSync(body).length, brotli: brotliCompressSync(body).length };
  });
}

/**
 * `stint --help` as a person runs it: the real binary in a fresh node, wall time from spawn to exit, `runs` runs
 * after one warm-up, interleaved with runs of an empty `node -e ''` so the machine's noise shows in both.
 */
async function cliHelp(runs: number): Promise<CliResult> {
  await ensureCliBuilt(progress);
  const time = (args: string[]) => {
    const started = performance.now();
    execFileSync(process.execPath, args, { stdio: 'ignore' });
    return performance.now() - started;
  };
  time([CLI_BIN, '--help']);
  const helpMs: number[] = [];
  const nodeMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    helpMs.push(time([CLI_BIN, '--help']));
    nodeMs.push(time(['-e', '']));
  }
  return { helpMs, nodeMs };
}

const VitestReport = z.object({
  testResults: z.array(z.object({ name: z.string(), startTime: z.number(), endTime: z.number() })),
});

/**
 * `npm test` exactly as CI runs it (typecheck, lint, vitest), once: its wall time, whether it passed and each test
 * file's duration from vitest's JSON reporter (the dot reporter shows progress on stderr meanwhile).
 */
async function suite(): Promise<SuiteResult> {
  const dir = mkdtempSync(join(tmpdir(), 'stint-suite-'));
  const report = join(dir, 'vitest.json');
  try {
    const started = performance.now();
    const passed = await new Promise<boolean>((resolveExit, reject) => {
      const child = spawn(
        'npm',
        ['test', '--', '--reporter=dot', '--reporter=json', `--outputFile.json=${report}`],
        // npm's banner and the reporters' output are progress: stderr.
        { cwd: ROOT, env: { ...process.env, CI: 'true' }, stdio: ['ignore', 2, 2] },
      );
      child.on('error', reject);
      child.on('exit', (code) => resolveExit(code === 0));
    });
    const wallMs = performance.now() - started;
    const files = existsSync(report)
      ? VitestReport.parse(JSON.parse(readFileSync(report, 'utf8'))).testResults.map((t) => ({
          file: relative(ROOT, t.name),
          ms: t.endTime - t.startTime,
        }))
      : [];
    return { wallMs, passed, files: files.sort((a, b) => b.ms - a.ms) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const { values } = parseArgs({
  options: {
    part: { type: 'string' },
    out: { type: 'string' },
    n: { type: 'string', default: '20' },
    'expiry-n': { type: 'string', default: '10' },
    'cli-n': { type: 'string', default: '30' },
  },
});
const count = z.coerce.number().int().min(1).max(1000);
const out = z.string().parse(values.out);
const part = z.enum(['lifecycles', 'expiry', 'slack', 'bundles', 'portal', 'cli', 'suite']).parse(values.part);
const run = {
  lifecycles: () => lifecycles(count.parse(values.n)),
  expiry: () => expiry(count.parse(values['expiry-n'])),
  slack: () => slackHandling(count.parse(values.n)),
  bundles,
  portal: portalBundle,
  cli: () => cliHelp(count.parse(values['cli-n'])),
  suite,
}[part];
writeFileSync(out, JSON.stringify(await run()));
