import pg from 'pg';
import type { FlowInput } from '#lib/domain/flow.ts';
import type { IntegrationInput } from '#lib/domain/integration.ts';

/** The demo database grantees get access to, its roles, and the flows of the README walkthrough. */
export const DEMO = {
  database: 'demo',
  integrationId: 'demo-postgres',
  readonlyRole: 'demo_readonly',
  adminRole: 'demo_admin',
  adminGroup: 'stint-admins',
  approverGroup: 'dba',
} as const;

export type DemoPostgres = { host: string; port: number; adminUser: string; adminPassword: string };

/** Idempotent: a database with a table and two roles the flows grant. */
export async function seedDemoDatabase(server: DemoPostgres): Promise<void> {
  const admin = new pg.Client({
    host: server.host,
    port: server.port,
    user: server.adminUser,
    password: server.adminPassword,
    database: 'postgres',
  });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DEMO.database]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${DEMO.database}`);
    for (const role of [DEMO.readonlyRole, DEMO.adminRole]) {
      const found = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
      if (found.rowCount === 0) await admin.query(`CREATE ROLE ${role} NOLOGIN`);
    }
  } finally {
    await admin.end();
  }
  const db = new pg.Client({
    host: server.host,
    port: server.port,
    user: server.adminUser,
    password: server.adminPassword,
    database: DEMO.database,
  });
  await db.connect();
  try {
    await db.query(
      `CREATE TABLE IF NOT EXISTS orders (id serial PRIMARY KEY, customer text NOT NULL, total numeric(10,2) NOT NULL)`,
    );
    const count = await db.query<{ n: string }>('SELECT count(*) AS n FROM orders');
    if (count.rows[0]?.n === '0') {
      await db.query(`INSERT INTO orders (customer, total) VALUES ('Ada', 42.00), ('Grace', 17.50), ('Linus', 99.99)`);
    }
    await db.query(`GRANT CONNECT ON DATABASE ${DEMO.database} TO ${DEMO.readonlyRole}, ${DEMO.adminRole}`);
    await db.query(`GRANT USAGE ON SCHEMA public TO ${DEMO.readonlyRole}, ${DEMO.adminRole}`);
    await db.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${DEMO.readonlyRole}`);
    await db.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${DEMO.adminRole}`);
    await db.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${DEMO.adminRole}`);
  } finally {
    await db.end();
  }
}

export function demoIntegration(server: DemoPostgres, secretRef: string): IntegrationInput {
  return {
    name: 'Demo PostgreSQL (embedded, password auth)',
    type: 'postgresql',
    config: { host: server.host, port: server.port, database: 'postgres', sslmode: 'disable' },
    secretRef,
    resources: [
      {
        id: DEMO.database,
        description: 'The demo orders database',
        owners: [],
        permissions: [
          { id: 'readonly', description: 'SELECT on every table', grants: [DEMO.readonlyRole] },
          { id: 'admin', description: 'Read and write every table', grants: [DEMO.adminRole] },
        ],
      },
    ],
  };
}

export const demoFlows: Record<string, FlowInput> = {
  'demo-readonly': {
    name: 'Demo: read-only, self-serve',
    description: 'Anyone may read the demo database for up to 15 minutes, no approval needed.',
    requestors: { everyone: true, users: [], groups: [] },
    targets: [{ integrationId: DEMO.integrationId, resource: DEMO.database, permission: 'readonly' }],
    bundles: [],
    approval: { mode: 'auto' },
    defaultMinutes: 15,
    maxMinutes: 15,
    justificationRequired: true,
    maxExtensions: 1,
    breakGlass: false,
    labels: { env: 'demo' },
  },
  'demo-admin': {
    name: 'Demo: admin, approved by dba',
    description: 'Write access to the demo database for up to an hour, approved by a member of dba.',
    requestors: { everyone: true, users: [], groups: [] },
    targets: [{ integrationId: DEMO.integrationId, resource: DEMO.database, permission: 'admin' }],
    bundles: [],
    approval: {
      mode: 'manual',
      sets: [{ name: 'DBAs', users: [], groups: [DEMO.approverGroup] }],
      rule: { type: 'anyOf' },
      timeoutMinutes: 60,
      reasonRequired: false,
    },
    defaultMinutes: 30,
    maxMinutes: 60,
    justificationRequired: true,
    maxExtensions: 2,
    breakGlass: false,
    labels: { env: 'demo' },
  },
};
