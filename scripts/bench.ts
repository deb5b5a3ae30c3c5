/**
 * `npm run bench`: what issue 13 measures, each part in a fresh process (scripts/bench/measure.ts):
 * - lifecycles: N self-serve (demo-readonly: create, grant, revoke) and N approved (demo-admin: create, approve by
 *   dba1, grant, revoke) lifecycles through the local runtime over HTTP with real PostgreSQL grants; per lifecycle
 *   state transitions, Lambda invocations (total, by function), DynamoDB calls (by operation, by function), Scan
 *   (must be 0: the run fails otherwise), p50/p95 of create→ACTIVE, approve→ACTIVE, revoke→REVOKED; dollars per
 *   1,000 lifecycles at AWS list prices and the idle monthly cost (scripts/bench/cost.ts);
 * - expiry: from a grant's expiresAt to EXPIRED and to its credentials refused by PostgreSQL, p50/p95;
 * - slack: the Slack interaction handler's handling time for a signed Approve click;
 * - bundles: every function's bundle size and cold import time in a fresh node;
 * - portal: the portal's first-load size; cli: `stint --help` wall time.
 *
 * Flags (node's util.parseArgs):
 *   --n N             lifecycles per kind, Slack clicks (default 20; BENCH_N still works)
 *   --part a,b        only these parts (lifecycles, expiry, slack, bundles, portal, cli; BENCH_PART still works),
 *                     or `suite`: the whole `npm test` once (about 9 min on 2 cores), its wall time and slowest files
 *   --expiry-n K      one-minute grants in the expiry part (default 10)
 *   --cli-n R         `stint --help` runs (default 30; BENCH_CLI_N still works)
 *   --rounds R        measurements per part and tree (default 1); with a baseline they alternate A, B, A, B
 *   --baseline REV    also measure git revision REV in a temporary worktree (removed at the end), interleaved
 *                     with this tree, and print both and the ratio new/baseline
 *   --json            one JSON document with every figure on stdout (progress stays on stderr); npm prints its
 *                     script banner on stdout, so run `npm run -s bench -- --json` (or `npx tsx scripts/bench.ts`)
 * The baseline is measured with THIS tree's measuring code (scripts/bench/ and scripts/bundles.ts are copied into
 * its worktree), so both trees get the same measurement; a figure the baseline cannot give shows as n/a.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as z from 'zod';
import { costPer1000, PRICES, PRICES_READ } from './bench/cost.ts';
import { percentile } from './bench/stats.ts';
import { ALL_PARTS, type LifecycleCounts, PARTS, type Part, type PartResults } from './bench/types.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const progress = (line: string) => process.stderr.write(`[bench] ${line}\n`);

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: process.env.BENCH_N ?? '20' },
    part: { type: 'string', default: process.env.BENCH_PART ?? PARTS.join(',') },
    'expiry-n': { type: 'string', default: '10' },
    'cli-n': { type: 'string', default: process.env.BENCH_CLI_N ?? '30' },
    rounds: { type: 'string', default: '1' },
    baseline: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const count = z.coerce.number().int().min(1).max(1000);
const options = {
  n: count.parse(args.n),
  expiryN: count.parse(args['expiry-n']),
  cliN: count.parse(args['cli-n']),
  rounds: count.parse(args.rounds),
  parts: z.array(z.enum(ALL_PARTS as [Part, ...Part[]])).parse(args.part.split(',').map((p) => p.trim())),
};

type Checkout = { label: 'new' | 'baseline'; root: string; rev: string };

const git = (cwd: string, ...a: string[]) => execFileSync('git', ['-C', cwd, ...a], { encoding: 'utf8' }).trim();

/**
 * A detached worktree of `rev` with node_modules (the current one, linked, when package-lock.json is the same;
 * else its own `npm ci --ignore-scripts`), the portal and CLI built as `npm ci` would, and this tree's measuring
 * code copied in.
 */
function prepareBaseline(rev: string, dir: string): Checkout {
  const sha = git(REPO_ROOT, 'rev-parse', '--verify', `${rev}^{commit}`);
  progress(`baseline: worktree of ${rev} (${sha.slice(0, 10)}) in ${dir}`);
  git(REPO_ROOT, 'worktree', 'add', '--detach', dir, sha);
  const sameLock =
    readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8') === readFileSync(join(dir, 'package-lock.json'), 'utf8');
  if (sameLock) {
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  } else {
    progress('baseline: package-lock.json differs, npm ci --ignore-scripts there (a few minutes)…');
    execFileSync('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: dir, stdio: ['ignore', 2, 2] });
  }
  // What `npm ci`'s prepare script does: the synthesized stack reads the portal build; the cli part runs the CLI.
  for (const build of ['portal/build.ts', 'cli/build.ts'])
    execFileSync(join(dir, 'node_modules', '.bin', 'tsx'), [build], { cwd: dir, stdio: ['ignore', 2, 2] });
  cpSync(join(REPO_ROOT, 'scripts', 'bench'), join(dir, 'scripts', 'bench'), { recursive: true });
  cpSync(join(REPO_ROOT, 'scripts', 'bundles.ts'), join(dir, 'scripts', 'bundles.ts'));
  return { label: 'baseline', root: dir, rev: sha };
}

function removeBaseline(dir: string): void {
  // The link first, so removing the worktree can never reach into this tree's node_modules.
  const link = join(dir, 'node_modules');
  try {
    unlinkSync(link);
  } catch {
    // not a link (its own npm ci) or not there
  }
  try {
    git(REPO_ROOT, 'worktree', 'remove', '--force', dir);
  } catch {
    rmSync(dir, { recursive: true, force: true });
    git(REPO_ROOT, 'worktree', 'prune');
  }
}

/** One measurement of one part in a fresh process of the checkout's own tree. */
async function measure<P extends Part>(checkout: Checkout, part: P): Promise<PartResults[P]> {
  const out = join(mkdtempSync(join(tmpdir(), 'stint-bench-')), 'result.json');
  progress(`${part} (${checkout.label})…`);
  const started = performance.now();
  const code = await new Promise<number | null>((resolveExit, reject) => {
    const child = spawn(
      join(checkout.root, 'node_modules', '.bin', 'tsx'),
      [
        join(checkout.root, 'scripts', 'bench', 'measure.ts'),
        '--part',
        part,
        '--out',
        out,
        '--n',
        String(options.n),
        '--expiry-n',
        String(options.expiryN),
        '--cli-n',
        String(options.cliN),
      ],
      {
        cwd: checkout.root,
        env: { ...process.env, POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN' },
        // The child's stdout goes to stderr too: stdout carries only the report (or the JSON document).
        stdio: ['ignore', 2, 2],
      },
    );
    child.on('error', reject);
    child.on('exit', resolveExit);
  });
  try {
    if (code !== 0) throw new Error(`the ${part} measurement of ${checkout.label} exited with ${code}`);
    progress(`${part} (${checkout.label}) took ${((performance.now() - started) / 1000).toFixed(0)} s`);
    return JSON.parse(readFileSync(out, 'utf8')) as PartResults[P];
  } finally {
    rmSync(dirname(out), { recursive: true, force: true });
  }
}

function sumRecords(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}
function mergeCounts(a: LifecycleCounts, b: LifecycleCounts): LifecycleCounts {
  return {
    n: a.n + b.n,
    transitions: a.transitions + b.transitions,
    invocations: sumRecords(a.invocations, b.invocations),
    durationMs: a.durationMs === null || b.durationMs === null ? null : sumRecords(a.durationMs, b.durationMs),
    dynamodb: sumRecords(a.dynamodb, b.dynamodb),
    dynamodbByCaller:
      a.dynamodbByCaller === null || b.dynamodbByCaller === null
        ? null
        : Object.fromEntries(
            [...new Set([...Object.keys(a.dynamodbByCaller), ...Object.keys(b.dynamodbByCaller)])].map((fn) => [
              fn,
              sumRecords(a.dynamodbByCaller?.[fn] ?? {}, b.dynamodbByCaller?.[fn] ?? {}),
            ]),
          ),
    events: a.events + b.events,
    sqsRequests: a.sqsRequests + b.sqsRequests,
    apiRequests: a.apiRequests + b.apiRequests,
  };
}
/** Rounds of one part merged into one result (samples pooled, counts summed, bundles by median). */
function merge<P extends Part>(part: P, results: PartResults[P][]): PartResults[P] {
  const all = results as unknown[];
  const [first, ...rest] = all;
  if (rest.length === 0) return first as PartResults[P];
  const merged: unknown = (() => {
    switch (part) {
      case 'lifecycles': {
        const list = all as PartResults['lifecycles'][];
        return list.reduce((a, b) => ({
          memoryMb: a.memoryMb,
          idle: a.idle,
          selfServe: mergeCounts(a.selfServe, b.selfServe),
          approved: mergeCounts(a.approved, b.approved),
          latencyMs: {
            createToActive: [...a.latencyMs.createToActive, ...b.latencyMs.createToActive],
            approveToActive: [...a.latencyMs.approveToActive, ...b.latencyMs.approveToActive],
            revokeToRevoked: [...a.latencyMs.revokeToRevoked, ...b.latencyMs.revokeToRevoked],
          },
        }));
      }
      case 'expiry': {
        const list = all as PartResults['expiry'][];
        return list.reduce((a, b) => ({
          n: a.n + b.n,
          expiredLagMs: [...a.expiredLagMs, ...b.expiredLagMs],
          refusedLagMs: [...a.refusedLagMs, ...b.refusedLagMs],
        }));
      }
      case 'slack': {
        const list = all as PartResults['slack'][];
        return list.reduce((a, b) => ({
          n: a.n + b.n,
          handlingMs: [...a.handlingMs, ...b.handlingMs],
          approved: a.approved + b.approved,
        }));
      }
      case 'bundles': {
        const list = all as PartResults['bundles'][];
        return (list[0] ?? []).map((b) => ({
          ...b,
          coldImportMs: percentile(
            list.map((l) => l.find((x) => x.entry === b.entry)?.coldImportMs ?? Number.NaN).filter(Number.isFinite),
            50,
          ),
        }));
      }
      case 'cli': {
        const list = all as PartResults['cli'][];
        return list.reduce((a, b) => ({ helpMs: [...a.helpMs, ...b.helpMs], nodeMs: [...a.nodeMs, ...b.nodeMs] }));
      }
      default:
        return first;
    }
  })();
  return merged as PartResults[P];
}

// ---------------------------------------------------------------------------------------------------------------
// Figures: every number the report prints, keyed so the two trees line up
// ---------------------------------------------------------------------------------------------------------------

type Figure = {
  key: string;
  section: string;
  label: string;
  unit: string;
  value: number | null;
  /** The issue's goal, as text, and whether the figure meets it (undefined: no goal). */
  goal?: string;
  ok?: boolean;
};

/** A logical id without CDK's hash suffix, so the same function lines up across trees. */
const fnName = (id: string) => id.replace(/[0-9A-F]{8}$/, '');
const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
const goalMax = (limit: number) => ({ goal: `≤ ${limit}`, check: (v: number) => v <= limit });

function figuresOf(results: Partial<PartResults>): { figures: Figure[]; details: Record<string, unknown> } {
  const figures: Figure[] = [];
  const details: Record<string, unknown> = {};
  const deferred: (() => void)[] = [];
  const addNow = (
    section: string,
    key: string,
    label: string,
    unit: string,
    value: number | null,
    goal?: { goal: string; check: (v: number) => boolean },
  ) =>
    figures.push({
      section,
      key,
      label,
      unit,
      value,
      ...(goal === undefined
        ? {}
        : { goal: goal.goal, ...(value === null || Number.isNaN(value) ? {} : { ok: goal.check(value) }) }),
    });
  const add = addNow;
  const lat = (section: string, key: string, label: string, values: number[], goal?: number) => {
    add(section, `${key}.p50`, `${label} p50`, 'ms', percentile(values, 50));
    add(
      section,
      `${key}.p95`,
      `${label} p95`,
      'ms',
      percentile(values, 95),
      goal === undefined
        ? undefined
        : {
            goal: `< ${goal}`,
            check: (v) => v < goal,
          },
    );
  };

  const life = results.lifecycles;
  if (life !== undefined) {
    for (const [kind, counts, title] of [
      ['selfServe', life.selfServe, 'self-serve lifecycle (create, grant, revoke)'],
      ['approved', life.approved, 'approved lifecycle (create, approve, grant, revoke)'],
    ] as const) {
      const section = `Per ${title}, averaged over ${counts.n}`;
      const per = (v: number) => v / counts.n;
      const self = kind === 'selfServe';
      add(
        section,
        `${kind}.transitions`,
        'state transitions',
        '',
        per(counts.transitions),
        self ? goalMax(8) : undefined,
      );
      add(
        section,
        `${kind}.invocations`,
        'Lambda invocations',
        '',
        per(sum(counts.invocations)),
        self ? goalMax(10) : undefined,
      );
      for (const [fn, v] of Object.entries(counts.invocations).sort())
        add(section, `${kind}.invocations.${fnName(fn)}`, `  ${fnName(fn)}`, '', per(v));
      add(section, `${kind}.dynamodb`, 'DynamoDB calls', '', per(sum(counts.dynamodb)), self ? goalMax(12) : undefined);
      for (const op of [...new Set([...Object.keys(counts.dynamodb), 'GetItem', 'Scan'])].sort())
        add(
          section,
          `${kind}.dynamodb.${op}`,
          `  ${op}`,
          '',
          per(counts.dynamodb[op] ?? 0),
          op === 'Scan' ? { goal: '= 0', check: (v) => v === 0 } : self && op === 'GetItem' ? goalMax(6) : undefined,
        );
      if (counts.dynamodbByCaller === null)
        add(section, `${kind}.dynamodbByFunction`, 'DynamoDB calls by function (not counted by this tree)', '', null);
      else
        for (const [fn, ops] of Object.entries(counts.dynamodbByCaller).sort())
          add(
            section,
            `${kind}.dynamodbByFunction.${fnName(fn)}`,
            `  by ${fn === '-' ? '(outside functions)' : fnName(fn)}: ${Object.entries(ops)
              .map(([op, v]) => `${op} ${per(v).toFixed(1)}`)
              .join(', ')}`,
            '',
            per(sum(ops)),
          );
      add(section, `${kind}.events`, 'EventBridge events published', '', per(counts.events));
      add(
        section,
        `${kind}.sqsRequests`,
        'SQS requests (messages sent, received, deleted)',
        '',
        per(counts.sqsRequests),
      );
      add(section, `${kind}.apiRequests`, 'API Gateway requests', '', per(counts.apiRequests));
      const usage = {
        transitions: per(counts.transitions),
        invocations: Object.fromEntries(Object.entries(counts.invocations).map(([k, v]) => [k, per(v)])),
        durationMs:
          counts.durationMs === null
            ? undefined
            : Object.fromEntries(Object.entries(counts.durationMs).map(([k, v]) => [k, per(v)])),
        dynamodb: Object.fromEntries(Object.entries(counts.dynamodb).map(([k, v]) => [k, per(v)])),
        events: per(counts.events),
        sqsRequests: per(counts.sqsRequests),
        apiRequests: per(counts.apiRequests),
      };
      const lines = costPer1000(usage, life.memoryMb);
      details[`cost.${kind}`] = lines;
      const costSection = 'Cost per 1,000 lifecycles at AWS list prices (us-east-1, USD)';
      // Printed after both kinds' counts.
      const addCost = (...a: Parameters<typeof addNow>) => deferred.push(() => addNow(...a));
      addCost(
        costSection,
        `cost.${kind}`,
        `${self ? 'self-serve' : 'approved'} total`,
        '$',
        sum(Object.fromEntries(lines.map((l) => [l.item, l.usd]))),
      );
      for (const l of lines) addCost(costSection, `cost.${kind}.${l.item}`, `  ${l.item}`, '$', l.usd);
      if (counts.durationMs === null)
        addCost(costSection, `cost.${kind}.Lambda duration (local ms)`, '  Lambda duration (local ms)', '$', null);
    }
    for (const f of deferred) f();
    const idleSection = 'Idle deployment per month (USD), from the synthesized template';
    add(
      idleSection,
      'idle.monthly',
      'total',
      '$',
      life.idle.lines.reduce((a, l) => a + l.usd, 0),
    );
    for (const l of life.idle.lines)
      add(idleSection, `idle.${l.item.replace(/ \(.*$|:.*$/, '')}`, `  ${l.item}`, '$', l.usd);
    details.idle = life.idle;
    const section = `Latency through the local runtime over HTTP (n=${life.latencyMs.createToActive.length})`;
    lat(section, 'latency.createToActive', 'create → ACTIVE (self-serve)', life.latencyMs.createToActive);
    lat(section, 'latency.approveToActive', 'approve → ACTIVE', life.latencyMs.approveToActive);
    lat(section, 'latency.revokeToRevoked', 'revoke → REVOKED', life.latencyMs.revokeToRevoked);
    details.latencyMs = life.latencyMs;
  }
  const exp = results.expiry;
  if (exp !== undefined) {
    const section = `Expiry precision, ${exp.n} one-minute grants at once (from expiresAt)`;
    lat(section, 'expiry.expired', 'to EXPIRED (grant.expired)', exp.expiredLagMs, 1000);
    lat(section, 'expiry.refused', 'to credentials refused', exp.refusedLagMs, 1000);
    details.expiry = exp;
  }
  const slack = results.slack;
  if (slack !== undefined) {
    const section = `Slack interaction handler, warm (n=${slack.n})`;
    lat(section, 'slack.handling', 'signed Approve → answered', slack.handlingMs);
    add(section, 'slack.firstClick', 'first click (links the Slack account)', 'ms', slack.handlingMs[0] ?? null);
    add(section, 'slack.approved', 'clicks approved', '', slack.approved, {
      goal: `= ${slack.n}`,
      check: (v) => v === slack.n,
    });
  }
  const bundles = results.bundles;
  if (bundles !== undefined) {
    const section = 'Lambda bundles (esbuild, minified, AWS SDK included) and cold import (fresh node, median of 3)';
    add(
      section,
      'bundles.maxKiB',
      'largest bundle',
      'KiB',
      Math.max(...bundles.map((b) => b.bytes / 1024)),
      goalMax(300),
    );
    for (const b of bundles) {
      const health = b.entry === 'functions/api/health.ts';
      add(section, `bundle.${b.entry}.kib`, `${b.entry}`, 'KiB', b.bytes / 1024, goalMax(health ? 60 : 300));
      add(
        section,
        `bundle.${b.entry}.coldImportMs`,
        `${b.entry} cold import${b.importError === undefined ? '' : ` (failed: ${b.importError})`}`,
        'ms',
        b.coldImportMs,
        b.entry.startsWith('functions/api/') ? goalMax(40) : undefined,
      );
    }
    details.bundles = bundles;
  }
  const portal = results.portal;
  if (portal !== undefined) {
    const section = 'Portal first load (what index.html loads)';
    for (const kind of ['js', 'css'] as const) {
      const files = portal.filter((f) => f.file.endsWith(`.${kind}`));
      for (const enc of ['raw', 'gzip', 'brotli'] as const)
        add(
          section,
          `portal.${kind}.${enc}`,
          `${kind} ${enc}`,
          'KiB',
          files.reduce((a, f) => a + f[enc], 0) / 1024,
          kind === 'js' && enc === 'gzip' ? { goal: '< 195 (200 KB)', check: (v) => v * 1024 < 200_000 } : undefined,
        );
    }
    details.portal = portal;
  }
  const cli = results.cli;
  if (cli !== undefined) {
    const section = `CLI in a fresh node (${cli.helpMs.length} runs)`;
    lat(section, 'cli.help', 'stint --help', cli.helpMs, 150);
    add(section, 'cli.node.p50', "node -e '' p50 (node's own start)", 'ms', percentile(cli.nodeMs, 50));
  }
  const suite = results.suite;
  if (suite !== undefined) {
    const section = `npm test (typecheck, lint, vitest; CI=true) on ${cpus().length} cores`;
    add(section, 'suite.wall', `wall time${suite.passed ? '' : ' (FAILED)'}`, 's', suite.wallMs / 1000, {
      goal: '< 600',
      check: (v) => v < 600,
    });
    add(section, 'suite.files', 'test files', '', suite.files.length);
    for (const f of suite.files.slice(0, 10)) add(section, `suite.file.${f.file}`, `  ${f.file}`, 's', f.ms / 1000);
    details.suite = suite;
  }
  return { figures, details };
}

/** Counts by function or operation: a row one tree has and the other lacks is a zero there (not n/a). */
const COUNT_ROW = /^(selfServe|approved)\.(invocations|dynamodb)\.[^.]+$/;
function fillCountGaps(into: Figure[], from: readonly Figure[]): void {
  for (const f of from) {
    if (!COUNT_ROW.test(f.key) || into.some((g) => g.key === f.key)) continue;
    const prefix = f.key.slice(0, f.key.lastIndexOf('.') + 1);
    const last = into.findLastIndex((g) => g.key.startsWith(prefix) && COUNT_ROW.test(g.key));
    // Only where this tree counts that kind at all (its lifecycles ran): insert after its last row of the kind.
    if (last === -1) continue;
    const { goal: _goal, ok: _ok, ...row } = f;
    into.splice(last + 1, 0, { ...row, value: 0 });
  }
}

const show = (f: Figure | undefined): string => {
  if (f === undefined || f.value === null || Number.isNaN(f.value)) return 'n/a';
  if (f.unit === '$') return `$${f.value < 0.01 ? f.value.toFixed(5) : f.value.toFixed(3)}`;
  if (f.unit === 'ms' || f.unit === 'KiB' || f.unit === 's') return `${f.value.toFixed(0)} ${f.unit}`;
  return Number.isInteger(f.value) ? String(f.value) : f.value.toFixed(1);
};
const ratioOf = (a: Figure | undefined, b: Figure | undefined): number | null =>
  a?.value == null || b?.value == null || b.value === 0 || Number.isNaN(a.value) || Number.isNaN(b.value)
    ? null
    : a.value / b.value;

function printHuman(current: Figure[], baseline: Figure[] | undefined): void {
  const out: string[] = [];
  const byKey = new Map((baseline ?? []).map((f) => [f.key, f]));
  const sections = [...new Set([...current, ...(baseline ?? [])].map((f) => f.section))];
  const width = Math.min(60, Math.max(...current.map((f) => f.label.length)) + 2);
  for (const section of sections) {
    out.push('', `${section}:`);
    if (baseline !== undefined)
      out.push(`  ${''.padEnd(width)} ${'new'.padStart(10)} ${'baseline'.padStart(10)}  ratio`);
    const keys = [
      ...current.filter((f) => f.section === section),
      ...(baseline ?? []).filter((f) => f.section === section && !current.some((c) => c.key === f.key)),
    ];
    for (const f of keys) {
      const mine = current.find((c) => c.key === f.key);
      const goal =
        mine?.goal === undefined ? '' : `  goal ${mine.goal}${mine.ok === undefined ? '' : mine.ok ? ' ✓' : ' ✗'}`;
      const label = f.label.length > width ? `${f.label.slice(0, width - 1)}…` : f.label;
      if (baseline === undefined) out.push(`  ${label.padEnd(width)} ${show(mine).padStart(10)}${goal}`);
      else {
        const ratio = ratioOf(mine, byKey.get(f.key));
        out.push(
          `  ${label.padEnd(width)} ${show(mine).padStart(10)} ${show(byKey.get(f.key)).padStart(10)}  ${
            ratio === null ? '   - ' : `${ratio.toFixed(2)}×`.padStart(5)
          }${goal}`,
        );
      }
    }
  }
  const prices = Object.values(PRICES).map((p: { usd: number; per: string; source: string; note?: string }) => {
    const price = p.usd < 0.01 ? `$${Number((p.usd * 1e6).toPrecision(6))} per million` : `$${p.usd}`;
    return `  ${p.per.padEnd(34)} ${price.padEnd(24)} ${p.source}${p.note === undefined ? '' : ` (${p.note})`}`;
  });
  out.push('', `Prices (us-east-1 list, read ${PRICES_READ}; Lambda durations are local figures):`, ...prices);
  process.stdout.write(`${out.join('\n')}\n`);
}

// ---------------------------------------------------------------------------------------------------------------

const started = performance.now();
const checkouts: Checkout[] = [{ label: 'new', root: REPO_ROOT, rev: git(REPO_ROOT, 'rev-parse', 'HEAD') }];
let baselineDir: string | undefined;
const cleanup = () => {
  if (baselineDir !== undefined) removeBaseline(baselineDir);
  baselineDir = undefined;
};
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    cleanup();
    process.exit(130);
  });
try {
  if (args.baseline !== undefined) {
    baselineDir = join(mkdtempSync(join(tmpdir(), 'stint-baseline-')), 'tree');
    checkouts.push(prepareBaseline(args.baseline, baselineDir));
  }
  const raw: Record<string, Partial<Record<Part, unknown[]>>> = { new: {}, baseline: {} };
  // Interleaved: per part and round, each tree in turn, every measurement in a fresh process.
  for (const part of ALL_PARTS.filter((p) => options.parts.includes(p)))
    for (let round = 0; round < options.rounds; round++)
      for (const checkout of checkouts) {
        const result = await measure(checkout, part);
        const list = raw[checkout.label] ?? {};
        list[part] = [...(list[part] ?? []), result];
        raw[checkout.label] = list;
      }
  const resultsOf = (label: string): Partial<PartResults> =>
    Object.fromEntries(
      Object.entries(raw[label] ?? {}).map(([part, list]) => [part, merge(part as Part, list as never[])]),
    );
  const current = figuresOf(resultsOf('new'));
  const base = checkouts.length > 1 ? figuresOf(resultsOf('baseline')) : undefined;
  if (base !== undefined) {
    fillCountGaps(current.figures, base.figures);
    fillCountGaps(base.figures, current.figures);
  }
  const seconds = (performance.now() - started) / 1000;

  if (args.json) {
    const baseByKey = new Map((base?.figures ?? []).map((f) => [f.key, f]));
    const keys = [...new Set([...current.figures, ...(base?.figures ?? [])].map((f) => f.key))];
    const figures = Object.fromEntries(
      keys.map((key) => {
        const mine = current.figures.find((f) => f.key === key);
        const theirs = baseByKey.get(key);
        const f = mine ?? theirs;
        return [
          key,
          {
            label: f?.label.trim(),
            unit: f?.unit,
            new: mine?.value ?? null,
            ...(base === undefined ? {} : { baseline: theirs?.value ?? null, ratio: ratioOf(mine, theirs) }),
            ...(mine?.goal === undefined ? {} : { goal: mine.goal, ok: mine.ok ?? null }),
          },
        ];
      }),
    );
    const document = {
      bench: 'stint',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, node: process.version },
      options: { ...options, baseline: args.baseline ?? null },
      trees: Object.fromEntries(checkouts.map((c) => [c.label, c.rev])),
      seconds: Math.round(seconds),
      figures,
      details: { new: current.details, ...(base === undefined ? {} : { baseline: base.details }) },
      prices: { read: PRICES_READ, ...PRICES },
    };
    process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
  } else {
    printHuman(current.figures, base?.figures);
    process.stdout.write(
      `\n(${checkouts.map((c) => `${c.label} ${c.rev.slice(0, 10)}`).join(', ')}; ${seconds.toFixed(0)} s)\n`,
    );
  }
  // The run fails when this tree issues a Scan in a lifecycle, a Slack click is not approved or its suite failed.
  if (
    current.figures.some((f) => (f.key.endsWith('.dynamodb.Scan') || f.key === 'slack.approved') && f.ok === false) ||
    resultsOf('new').suite?.passed === false
  )
    process.exitCode = 1;
} finally {
  cleanup();
}
