import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_BIN, ensureCliBuilt } from '../../../cli/build.ts';
import { runCli } from '../../support/cli.ts';
import { call, until } from '../../support/http.ts';
import { loginWith } from '../../support/postgres.ts';

export type McpSuiteContext = {
  url: string;
  /** Signs `sub` in with `stint login --local` in a config folder of their own; answers the folder. */
  signIn(sub: string, groups?: string[]): Promise<string>;
};

type Agent = {
  client: Client;
  /** Anything the client could not read as protocol (a stray line on the server's stdout, a broken message). */
  errors: Error[];
  /** The server's stderr: its log lines. */
  stderr(): string;
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
};

/**
 * An MCP client that spawns `node cli/bin/stint.js mcp [flags]` with the session in `configDir`, as an agent host
 * does.
 */
async function agent(configDir: string, open: Agent[], flags: string[] = []): Promise<Agent> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI_BIN, 'mcp', ...flags],
    // Only what a host passes: no STINT_URL, so the session alone says which API.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), STINT_CONFIG_DIR: configDir },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = new Client({ name: 'stint-e2e', version: '1.0.0' });
  const errors: Error[] = [];
  client.onerror = (error) => errors.push(error);
  await client.connect(transport);
  // As hosts do: listing the tools first also makes the client check every answer against its outputSchema.
  await client.listTools();
  const handle: Agent = {
    client,
    errors,
    stderr: () => stderr,
    call: async (name, args = {}) => (await client.callTool({ name, arguments: args })) as CallToolResult,
  };
  open.push(handle);
  return handle;
}

function textOf(result: CallToolResult): string {
  return result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}

/** A successful tool result's structured content, after checking that its text content says the same. */
function dataOf(result: CallToolResult): Record<string, unknown> {
  expect(result.isError, textOf(result)).not.toBe(true);
  expect(JSON.parse(textOf(result))).toEqual(result.structuredContent);
  return result.structuredContent as Record<string, unknown>;
}

type RequestOut = { id: string; status: string; awaitingApproval: boolean; next: string; approvers?: string };

/**
 * `stint mcp` end to end: a real MCP client (the SDK's Client over stdio) spawning the built CLI, signed in to the
 * local runtime as a person, against the seeded demo flows (`demo-readonly` self-serve, `demo-admin` approved by
 * group dba). Runs inside a file that owns the one local runtime and calls this with how to reach it.
 */
export function mcpSuite(ctx: () => McpSuiteContext): void {
  describe('stint mcp', () => {
    const open: Agent[] = [];
    // One signed-in agent per person for the whole suite: each costs a `stint login` and a server process.
    const agents = new Map<string, Promise<Agent>>();
    const as = (sub: string): Promise<Agent> => {
      let found = agents.get(sub);
      if (found === undefined) {
        found = ctx()
          .signIn(sub)
          .then((dir) => agent(dir, open));
        agents.set(sub, found);
      }
      return found;
    };

    // A no-op when cli/dist already holds a bundle of the current sources.
    beforeAll(async () => {
      await ensureCliBuilt();
    });

    afterAll(async () => {
      for (const a of open) await a.client.close();
      // Every line the servers wrote to stdout was protocol the client could read.
      expect(open.flatMap((a) => a.errors.map((e) => e.message))).toEqual([]);
    });

    it('offers no tool to approve, reject, extend or revoke, and says people approve', async () => {
      const alice = await as('mcp-alice');

      const { tools } = await alice.client.listTools();

      expect(tools.map((t) => t.name).sort()).toEqual([
        'cancel_request',
        'get_access',
        'get_request',
        'list_flows',
        'list_requests',
        'request_access',
      ]);
      expect(tools.filter((t) => /approve|reject|extend|revoke/i.test(t.name))).toEqual([]);
      expect(alice.client.getInstructions()).toMatch(/People approve requests, agents do not/);
    });

    it('lists the catalog with whether a person must approve', async () => {
      const alice = await as('mcp-alice');

      const { flows } = dataOf(await alice.call('list_flows')) as {
        flows: { id: string; needsApproval: boolean; approvedBy?: string; maxMinutes: number }[];
      };

      expect(flows.find((f) => f.id === 'demo-readonly')).toMatchObject({ needsApproval: false, maxMinutes: 15 });
      expect(flows.find((f) => f.id === 'demo-admin')).toMatchObject({ needsApproval: true, maxMinutes: 60 });
      expect(flows.find((f) => f.id === 'demo-admin')?.approvedBy).toContain('dba');
    });

    it('requests self-serve access that becomes ACTIVE, and hands out a login that works', {
      timeout: 180_000,
    }, async () => {
      const alice = await as('mcp-alice');

      const created = dataOf(
        await alice.call('request_access', {
          flowId: 'demo-readonly',
          durationMinutes: 1,
          justification: 'count the orders for the weekly report',
        }),
      ) as RequestOut;
      expect(created.awaitingApproval).toBe(false);
      expect(['APPROVED', 'GRANTING', 'ACTIVE']).toContain(created.status);

      const active = await until(
        async () => dataOf(await alice.call('get_request', { id: created.id })) as RequestOut & { expiresAt?: string },
        (r) => r.status === 'ACTIVE' || r.status === 'FAILED',
        150_000,
        500,
      );
      expect(active.status).toBe('ACTIVE');
      expect(active.next).toContain('get_access');
      expect(Date.parse(active.expiresAt ?? '')).toBeGreaterThan(Date.now());

      const mine = dataOf(await alice.call('list_requests', { status: 'ACTIVE' })) as { requests: RequestOut[] };
      expect(mine.requests.map((r) => r.id)).toContain(created.id);

      const access = dataOf(await alice.call('get_access', { id: created.id })) as {
        kind: string;
        host: string;
        port: number;
        database: string;
        username: string;
        password: string;
      };
      expect(access.kind).toBe('database');
      const db = await loginWith(access);
      try {
        const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM orders');
        expect(Number(rows[0]?.n)).toBeGreaterThan(0);
      } finally {
        await db.end();
      }
      // The request is recorded as made by an agent: channel mcp, for the timeline and the audit events.
      const shown = await runCli(['show', created.id, '--output', 'json'], {
        configDir: await ctx().signIn('mcp-alice'),
      });
      expect(JSON.parse(shown.stdout)).toMatchObject({ created: { by: 'mcp-alice', channel: 'mcp' } });
      // The server's log names tools and outcomes, never what they answered.
      expect(alice.stderr()).toContain('get_access: ok');
      expect(alice.stderr()).not.toContain(access.password);
    });

    it('leaves a request that needs approval PENDING, says a person must approve, and can withdraw it', async () => {
      const alice = await as('mcp-alice');

      const created = dataOf(
        await alice.call('request_access', {
          flowId: 'demo-admin',
          durationMinutes: 10,
          justification: 'fix a customer name',
        }),
      ) as RequestOut;

      expect(created).toMatchObject({ status: 'PENDING', awaitingApproval: true });
      expect(created.next).toMatch(/person to approve it \(DBAs \(group dba\)\), by .*you cannot approve it/);
      expect(created.approvers).toContain('dba');

      const cancelled = dataOf(
        await alice.call('cancel_request', { id: created.id, reason: 'not needed' }),
      ) as RequestOut;
      expect(cancelled.status).toBe('CANCELLED');
    });

    it("acts as the signed-in person only: another person's request is not theirs to read", async () => {
      const alice = await as('mcp-alice');
      const bob = await as('mcp-bob');
      const created = dataOf(
        await alice.call('request_access', { flowId: 'demo-admin', justification: 'look at the schema' }),
      ) as RequestOut & { durationMinutes: number };
      expect(created.durationMinutes).toBe(30); // the flow's default, as none was given

      const seen = await bob.call('get_request', { id: created.id });
      const missing = await bob.call('get_request', { id: 'no-such-request' });

      // Refused exactly as a request that does not exist: it does not even tell bob that it does.
      expect(seen.isError).toBe(true);
      expect(textOf(seen).replace(created.id, '<id>')).toBe(textOf(missing).replace('no-such-request', '<id>'));
      dataOf(await alice.call('cancel_request', { id: created.id }));
    });

    it("answers an API refusal as an error carrying the API's message", async () => {
      const dir = await ctx().signIn('mcp-alice');
      const alice = await agent(dir, open);
      const refused = [
        { flowId: 'no-such-flow', durationMinutes: 5, justification: 'x' },
        { flowId: 'demo-readonly', durationMinutes: 999, justification: 'all day' },
        { flowId: 'demo-readonly', durationMinutes: 5 },
      ];

      const results = await Promise.all(refused.map((body) => alice.call('request_access', body)));

      // The same bodies straight to the API, with the same person's token: its problem details are what to expect.
      const { accessToken } = JSON.parse(await readFile(join(dir, 'session.json'), 'utf8')) as { accessToken: string };
      const direct = await Promise.all(
        refused.map((body) => call(ctx().url, 'POST', '/requests', { token: accessToken, body })),
      );
      const details = direct.map((reply) => {
        expect(reply.status).toBeGreaterThanOrEqual(400);
        return (reply.json as { detail: string }).detail;
      });
      expect(details[1]).toContain('at most 15 minutes');
      expect(details[2]).toContain('justification');
      results.forEach((result, i) => {
        expect(result.isError).toBe(true);
        expect(textOf(result)).toContain(details[i]);
      });
    });

    it('refuses arguments its schema does not allow before calling the API', async () => {
      const alice = await as('mcp-alice');

      const result = await alice.call('request_access', { flowId: 'demo-readonly', durationMinutes: 0 });

      expect(result.isError).toBe(true);
      expect(textOf(result)).toContain('durationMinutes');
    });

    it('leaves get_access out with --no-access', async () => {
      const guarded = await agent(await ctx().signIn('mcp-alice'), open, ['--no-access']);

      const { tools } = await guarded.client.listTools();

      expect(tools.map((t) => t.name)).not.toContain('get_access');
      expect(tools.map((t) => t.name)).toContain('request_access');
      expect(guarded.client.getInstructions()).toContain('`stint access <id>`');
    });

    it('tells the person to sign in when there is no session', async () => {
      const nobody = await agent(await mkdtemp(join(tmpdir(), 'stint-mcp-nobody-')), open);

      const { tools } = await nobody.client.listTools();
      const result = await nobody.call('list_flows');

      expect(tools.length).toBeGreaterThan(0);
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/^not signed in: run `stint login/);
      expect(textOf(result)).toContain('in a terminal');
    });
  });
}
