import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '#lib/local/embedded-postgres.ts';
import type { Ctx } from '../../../cli/src/context.ts';
import { createStintServer } from '../../../cli/src/mcp/server.ts';
import { describeApprovers, requestView } from '../../../cli/src/mcp/views.ts';
import { writeSession } from '../../../cli/src/session.ts';

/**
 * The server in process, over the SDK's in-memory transport: what the built binary cannot show until program.ts
 * declares `--no-access`, and how failures that need no runtime read. The end-to-end cases are in test/e2e/cli/mcp.ts.
 */
const ctx: Ctx = { json: false, interactive: false, url: undefined, out: () => undefined, err: () => undefined };
const logged: string[] = [];

async function connect(access: boolean): Promise<Client> {
  const server = createStintServer(ctx, { access, version: '0.0.0-test', log: (line) => logged.push(line) });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'test', version: '1.0.0' });
  await client.connect(clientSide);
  return client;
}

let previousConfigDir: string | undefined;
beforeEach(async () => {
  previousConfigDir = process.env.STINT_CONFIG_DIR;
  process.env.STINT_CONFIG_DIR = await mkdtemp(join(tmpdir(), 'stint-mcp-unit-'));
  logged.length = 0;
});
afterEach(() => {
  if (previousConfigDir === undefined) delete process.env.STINT_CONFIG_DIR;
  else process.env.STINT_CONFIG_DIR = previousConfigDir;
});

describe('the Stint MCP server', () => {
  it('leaves get_access out, and says how the person gets credentials, when access is off', async () => {
    const client = await connect(false);

    const names = (await client.listTools()).tools.map((t) => t.name);

    expect(names).not.toContain('get_access');
    expect(names).toContain('request_access');
    expect(client.getInstructions()).toContain('`stint access <id>`');
    expect(client.getInstructions()).not.toContain('get_access');
  });

  it('offers get_access when access is on', async () => {
    const client = await connect(true);

    const names = (await client.listTools()).tools.map((t) => t.name);

    expect(names).toContain('get_access');
  });

  it('answers an unreachable API as an error naming the cause', async () => {
    writeSession({
      kind: 'local',
      // A port nobody listens on (free a moment ago).
      url: `http://127.0.0.1:${await freePort()}`,
      accessToken: 'not-a-jwt',
      expiresAt: Math.floor(Date.now() / 1000) + 3600,
      identity: { sub: 'alice', groups: [] },
    });
    const client = await connect(true);

    const result = (await client.callTool({ name: 'list_flows', arguments: {} })) as CallToolResult;

    expect(result.isError).toBe(true);
    expect(result.content).toEqual([
      { type: 'text', text: expect.stringMatching(/^could not reach the API: .*ECONNREFUSED/) },
    ]);
    expect(logged.at(-1)).toMatch(/^stint mcp: list_flows: could not reach the API/);
  });

  it('tells the person to sign in in a terminal when there is no session', async () => {
    const client = await connect(true);

    const result = (await client.callTool({ name: 'get_request', arguments: { id: 'r-1' } })) as CallToolResult;

    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).toContain('run `stint login');
    expect(JSON.stringify(result.content)).toContain('in a terminal');
  });
});

describe('describeApprovers', () => {
  const dbas = { name: 'DBAs', groups: ['dba'], users: [] };
  const leads = { groups: [], users: ['carol', 'dave'], manager: true };

  it('names each set with its members, joined as the rule says', () => {
    expect(describeApprovers([dbas], { type: 'anyOf' })).toBe('DBAs (group dba)');
    expect(describeApprovers([dbas, leads], { type: 'anyOf' })).toBe('DBAs (group dba); carol or dave or the manager');
    expect(describeApprovers([dbas, leads], { type: 'allOf' })).toBe(
      'each of: DBAs (group dba); carol or dave or the manager',
    );
    expect(describeApprovers([dbas], { type: 'quorum', count: 2 })).toBe('2 approvals from: DBAs (group dba)');
  });
});

describe('requestView', () => {
  const active = {
    id: 'r-1',
    status: 'ACTIVE',
    flowId: 'demo-readonly',
    flowName: 'Demo',
    durationMinutes: 15,
    createdAt: '2026-12-03T10:00:00.000Z',
    expiresAt: '2026-12-03T10:15:00.000Z',
    unitDetails: [{ integrationId: 'demo-postgres', resource: 'demo', permission: 'readonly' }],
  } as unknown as Parameters<typeof requestView>[0];

  it('points an ACTIVE request at get_access, or at `stint access` when the tool is off', () => {
    expect(requestView(active, { accessTool: true }).next).toContain('get_access');
    expect(requestView(active, { accessTool: false }).next).toContain('`stint access r-1`');
    expect(requestView(active, { accessTool: false }).next).not.toContain('get_access');
  });
});
