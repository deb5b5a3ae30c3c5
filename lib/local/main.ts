import './polyfills.ts';
import { join } from 'node:path';
import * as z from 'zod';
import { ensurePortalBuilt } from '../../portal/build.ts';
import { DEMO } from './seed.ts';
import { type StoreDemo, seedMysqlDemo, seedRedisDemo } from './seed-stores.ts';
import { REPO_ROOT, startStint } from './stint.ts';

/** `npm start`: Stint on this machine, data kept in .stint/ across restarts. */
const Env = z.object({
  PORT: z.coerce.number().int().min(1).max(65535).default(8787),
  STINT_PG_PORT: z.coerce.number().int().min(1).max(65535).default(54329),
  STINT_STATE_DIR: z.string().min(1).default(join(REPO_ROOT, '.stint')),
});

async function main(): Promise<void> {
  const env = Env.parse(process.env);
  const startedAt = Date.now();
  const portalDir = await ensurePortalBuilt((line) => process.stderr.write(`[stint] ${line}\n`));
  process.stderr.write('[stint] synthesizing the stack and starting the local runtime…\n');
  const stint = await startStint({
    portalDir,
    stateDir: env.STINT_STATE_DIR,
    port: env.PORT,
    pgDataDir: join(env.STINT_STATE_DIR, 'postgres'),
    pgPort: env.STINT_PG_PORT,
  });
  const url = `http://localhost:${env.PORT}`;
  const stores = await seedStoreDemos(stint, env.STINT_STATE_DIR);
  process.stdout.write(`
Stint is running on ${url} (ready in ${((Date.now() - startedAt) / 1000).toFixed(1)} s; data in ${env.STINT_STATE_DIR})

Portal: ${url}/ — sign in as anyone (local only): "alice" to ask for access; "bob" in group
  "${DEMO.approverGroup}", in a private window, to approve; group "${DEMO.adminGroup}" to administer.

Demo: PostgreSQL with password auth on 127.0.0.1:${stint.postgres.port}, database "${DEMO.database}".
  Flow demo-readonly — self-serve, auto-approved, read-only, up to 15 minutes.
  Flow demo-admin    — read/write, approved by a member of group "${DEMO.approverGroup}", up to 60 minutes.
${stores}

Try it (the README walks through the whole lifecycle):
  TOKEN=$(curl -s -X POST ${url}/_local/token -H 'content-type: application/json' \\
    -d '{"sub":"alice","email":"alice@example.com","groups":[]}' | jq -r .token)
  curl -s -X POST ${url}/requests -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
    -d '{"flowId":"demo-readonly","durationMinutes":5,"justification":"look at orders"}'

SCIM provisioning: ${url}/scim/v2 with the bearer token in ${join(env.STINT_STATE_DIR, 'scim.token')}.
API description (with a token): ${url}/openapi.json — Ctrl-C stops Stint (requests in flight resume at the next start).
`);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n[stint] ${signal}: stopping…\n`);
    await stint.stop();
    process.stderr.write('[stint] stopped\n');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

/**
 * The MySQL / MariaDB and Redis demos (lib/local/seed-stores.ts), added through the API as an admin would: a server
 * that is not there is skipped, and the lines say so.
 */
async function seedStoreDemos(stint: Awaited<ReturnType<typeof startStint>>, stateDir: string): Promise<string> {
  const token = await stint.token({ sub: 'stint-demo', email: 'stint-demo@example.com', groups: [DEMO.adminGroup] });
  const put = async (path: string, body: unknown) => {
    const res = await fetch(`${stint.url}${path}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`PUT ${path}: ${res.status} ${await res.text()}`);
  };
  const lines: string[] = [];
  for (const [label, seed] of [
    ['MySQL / MariaDB', seedMysqlDemo],
    ['Redis', seedRedisDemo],
  ] as const) {
    try {
      const demo: StoreDemo | { skipped: string } = await seed(stateDir);
      if ('skipped' in demo) {
        lines.push(`${label} demo: skipped, ${demo.skipped}.`);
        continue;
      }
      await put(`/integrations/${demoId(demo)}`, demo.integration);
      await put(`/flows/${demo.flowId}`, demo.flow);
      lines.push(`Demo: ${demo.summary}.`);
    } catch (error) {
      lines.push(`${label} demo: not seeded (${error instanceof Error ? error.message : String(error)}).`);
    }
  }
  return lines.join('\n');
}

const demoId = (demo: StoreDemo) => demo.flow.targets[0]?.integrationId ?? '';

main().catch((error: unknown) => {
  process.stderr.write(`[stint] could not start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
