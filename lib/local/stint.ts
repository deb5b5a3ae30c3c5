import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import './polyfills.ts';
import type { StintConfigInput } from '#infra/config.ts';
import { type EmbeddedPostgresHandle, startEmbeddedPostgres } from './embedded-postgres.ts';
import { type LocalIdentity, type LocalRuntime, type LocalRuntimeOptions, startLocalRuntime } from './runtime.ts';
import { DEMO, demoFlows, demoIntegration, seedDemoDatabase } from './seed.ts';
import { synthTemplate } from './synth.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export type StintOptions = {
  /** Data folder (DynamoDB, stream journal, issuer key, sealing key); undefined = in memory. */
  stateDir?: string;
  port?: number;
  /** Embedded PostgreSQL (scram-sha-256) for the demo integration. */
  pgDataDir: string;
  pgPort: number;
  scheduleEveryMs?: number;
  log?: (message: string) => void;
  /** Replace fields of infra/stint.config.ts for this run (e.g. tests add SIEM/ITSM targets). */
  config?: Partial<StintConfigInput>;
  /** Extra environment for the functions (e.g. the `env:` secrets those targets reference). */
  env?: Record<string, string>;
  /** Serve the built portal at `/` (lib/local/portal.ts): `npm start` and the browser tests build and pass it. */
  portalDir?: string;
  /** Tests of a real OIDC sign-in: another issuer's tokens instead of the local issuer's, the portal pointed at it. */
  signIn?: Pick<LocalRuntimeOptions, 'issuer' | 'audience' | 'externalKeys' | 'portalConfig'>;
};

export type Stint = {
  url: string;
  /** The SCIM bearer token (what the stack's ScimToken secret holds in AWS), unless `env` overrides the reference. */
  scimToken: string;
  runtime: LocalRuntime;
  postgres: EmbeddedPostgresHandle;
  token(identity: LocalIdentity): Promise<string>;
  stop(): Promise<void>;
};

/**
 * A local secret: a file in the data folder (0600), or per process when in memory. Used for the key that seals
 * issued passwords (`credentials.key`) and the SCIM bearer token (`scim.token`).
 */
function localSecret(stateDir: string | undefined, name: string): string {
  if (stateDir === undefined) return randomBytes(32).toString('base64url');
  const file = join(stateDir, name);
  if (!existsSync(file)) {
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(file, randomBytes(32).toString('base64url'), { mode: 0o600 });
  }
  return readFileSync(file, 'utf8').trim();
}

/** An API call in-process (the HTTP port answers 503 until Stint is ready), through the same gateway and authorizer. */
async function api(runtime: LocalRuntime, token: string, method: string, path: string, body?: unknown) {
  const { status, text } = await runtime.api(method, path, {
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status, json: text === '' ? undefined : (JSON.parse(text) as unknown), text };
}

/** Seeds through the API itself, as an admin would; only what is missing or changed is written. */
async function seedConfiguration(runtime: LocalRuntime, postgres: EmbeddedPostgresHandle): Promise<void> {
  const token = await runtime.mintToken({ sub: 'stint-seed', email: 'seed@stint.local', groups: [DEMO.adminGroup] });
  const wanted: [string, unknown][] = [
    [`/integrations/${DEMO.integrationId}`, demoIntegration(postgres, 'env:STINT_DEMO_PG_SECRET')],
    ...Object.entries(demoFlows).map(([id, flow]): [string, unknown] => [`/flows/${id}`, flow]),
  ];
  for (const [path, body] of wanted) {
    const current = await api(runtime, token, 'GET', path);
    const {
      id: _i,
      version: _v,
      lastChange: _l,
      deleted: _d,
      ...stored
    } = (current.json ?? {}) as Record<string, unknown>;
    if (current.status === 200 && JSON.stringify(stored) === JSON.stringify(body)) continue;
    const put = await api(runtime, token, 'PUT', path, body);
    if (put.status !== 200) throw new Error(`seeding ${path} failed: ${put.status} ${put.text}`);
  }
}

/**
 * Stint on one machine: the synthesized stack on the local runtime, a real PostgreSQL with password
 * authentication for the demo integration, the demo flows, and every unfinished request resumed.
 */
export async function startStint(options: StintOptions): Promise<Stint> {
  const log = options.log ?? ((m: string) => process.stderr.write(`[stint] ${m}\n`));
  // The functions' own logs (Powertools) stay quiet locally unless asked for: LOG_LEVEL / POWERTOOLS_LOG_LEVEL.
  process.env.POWERTOOLS_LOG_LEVEL ??= process.env.LOG_LEVEL ?? 'WARN';
  const template = await synthTemplate(options.config);
  const postgres = await startEmbeddedPostgres({
    dataDir: options.pgDataDir,
    port: options.pgPort,
    persistent: options.stateDir !== undefined,
  });
  let runtime: LocalRuntime | undefined;
  const scimToken = localSecret(options.stateDir, 'scim.token');
  try {
    await seedDemoDatabase(postgres);
    // Ready means ready: until the demo is seeded and unfinished requests are resumed, the API (/health included)
    // answers 503 saying what it is waiting for.
    runtime = await startLocalRuntime({
      template,
      startingUp: 'seeding the demo integration and flows',
      repoRoot: REPO_ROOT,
      ...(options.stateDir === undefined ? {} : { stateDir: join(options.stateDir, 'runtime') }),
      ...(options.port === undefined ? {} : { port: options.port }),
      ...(options.scheduleEveryMs === undefined ? {} : { scheduleEveryMs: options.scheduleEveryMs }),
      ...(options.portalDir === undefined ? {} : { portalDir: options.portalDir }),
      ...options.signIn,
      log,
      // What Secrets Manager holds in AWS: the demo database's admin login, the credentials sealing key and the SCIM
      // bearer token (the template names secret ARNs, which cannot be resolved locally: env: references replace them).
      env: {
        STINT_DEMO_PG_SECRET: JSON.stringify({ username: postgres.adminUser, password: postgres.adminPassword }),
        STINT_LOCAL_CREDENTIALS_KEY: localSecret(options.stateDir, 'credentials.key'),
        STINT_CREDENTIALS_KEY_REF: 'env:STINT_LOCAL_CREDENTIALS_KEY',
        STINT_LOCAL_SCIM_TOKEN: scimToken,
        STINT_SCIM_TOKEN_REF: 'env:STINT_LOCAL_SCIM_TOKEN',
        ...options.env,
      },
    });
    await seedConfiguration(runtime, postgres);
    // Executions live in memory: after a restart every unfinished request gets a new one, which continues where
    // the table says (an ACTIVE grant keeps its expiry).
    runtime.startingUp('resuming unfinished requests');
    await runtime.invoke('functions/workflow/reconciler.ts', { resumeAll: true });
    runtime.ready();
  } catch (error) {
    await runtime?.stop();
    await postgres.stop();
    throw error;
  }
  const started = runtime;
  let stopping: Promise<void> | undefined;
  return {
    url: started.url,
    scimToken,
    runtime: started,
    postgres,
    token: (identity) => started.mintToken(identity),
    stop: () => {
      stopping ??= (async () => {
        await started.stop();
        await postgres.stop();
      })();
      return stopping;
    },
  };
}
