import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod';
import { type Api, apiFor, unwrap } from '../api.ts';
import type { Ctx } from '../context.ts';
import { CliError } from '../errors.ts';
import { STATUSES } from '../statuses.ts';
import { answer, messageOf, refusal } from './result.ts';
import { AccessView, CatalogView, flowView, RequestListView, RequestView, requestView } from './views.ts';

export type ServerOptions = {
  /** Offer get_access (the credentials of an active request). `stint mcp --no-access` leaves it out. */
  access: boolean;
  version: string;
  /** Where the server's own log lines go: stderr, since stdout carries the protocol. */
  log: (line: string) => void;
};

/** Read by the client at initialize and usually given to the model: how to use the tools, and what not to do. */
export function instructionsFor(options: Pick<ServerOptions, 'access'>): string {
  return [
    'Stint grants time-boxed access (databases, cloud accounts, other systems) to the person who signed in with',
    '`stint login`; these tools act as that person.',
    'Use list_flows to see what may be requested, request_access to ask for it, get_request to follow a request',
    options.access
      ? 'and get_access for the credentials once it is ACTIVE.'
      : '(credentials are not given to agents here: the person gets them with `stint access <id>`).',
    'Ask for the least access for the shortest time the task needs, with a justification that says why.',
    'People approve requests, agents do not: there is no tool to approve, reject, extend or revoke, and you must',
    'not try to get one approved any other way. When a request is PENDING, tell the person who must approve it',
    'and poll get_request now and then (every 10–30 seconds), not in a tight loop.',
    'Credentials are secrets: use them for the task; never write them into files, code, commits or logs, and show',
    'them to the person only if asked.',
  ].join(' ');
}

const Id = z.string().min(1).max(64).describe('the request id (from request_access or list_requests)');

/**
 * The Stint MCP server: read the catalog, ask for access, follow a request, get its credentials. Every call goes
 * through apiFor/unwrap as the signed-in user (token renewed as for any command); an API refusal or a missing
 * session becomes a tool result with `isError`, one line the model can act on.
 */
export function createStintServer(ctx: Ctx, options: ServerOptions): McpServer {
  const server = new McpServer(
    { name: 'stint', title: 'Stint: just-in-time access', version: options.version },
    { instructions: instructionsFor(options) },
  );
  const views = { accessTool: options.access };

  // Logs name the tool and the outcome only: arguments hold justifications, answers hold credentials.
  const call =
    <A>(name: string, work: (api: Api, args: A) => Promise<Record<string, unknown>>) =>
    async (args: A): Promise<CallToolResult> => {
      try {
        const { api } = await apiFor(ctx, 'mcp');
        const result = answer(await work(api, args));
        options.log(`stint mcp: ${name}: ok`);
        return result;
      } catch (error) {
        const message = messageOf(error);
        options.log(`stint mcp: ${name}: ${message}`);
        return refusal(message);
      }
    };

  server.registerTool(
    'list_flows',
    {
      title: 'List access flows',
      description:
        'The access flows the signed-in person may request: for each, its id, what it can grant (targets, ' +
        'bundles), the default and maximum duration in minutes, whether a justification is required, and whether ' +
        'a person must approve (needsApproval, approvedBy). Call it first to pick the flowId and targets for request_access.',
      outputSchema: CatalogView,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    call('list_flows', async (api) => {
      const catalog = unwrap(await api.GET('/catalog'));
      return { flows: catalog.flows.map(flowView) };
    }),
  );

  server.registerTool(
    'request_access',
    {
      title: 'Request access',
      description:
        'Ask for time-boxed access under a flow (see list_flows), as the signed-in person. Answers the new request: ' +
        'its id and status. Self-serve flows are approved at once (status APPROVED, then ACTIVE within seconds); ' +
        'flows that need approval stay PENDING until a person approves (awaitingApproval: true). Either way, poll ' +
        'get_request with the id until it is ACTIVE, then call get_access. Refusals (a flow you may not use, a ' +
        'duration over the maximum, a missing justification) come back as an error saying what was wrong.',
      inputSchema: {
        flowId: z.string().min(1).max(64).describe('the flow id from list_flows'),
        targets: z
          .array(
            z.object({
              resource: z.string().min(1).max(128).describe('a target resource the flow offers'),
              permission: z.string().min(1).max(64).describe('a permission the flow offers on that resource'),
              integrationId: z.string().min(1).max(64).optional().describe('only when the flow has several'),
            }),
          )
          .min(1)
          .max(50)
          .optional()
          .describe("what to grant, from the flow's targets; leave out when the flow has exactly one target"),
        bundle: z.string().min(1).max(64).optional().describe('a bundle the flow offers, instead of targets'),
        durationMinutes: z
          .number()
          .int()
          .positive()
          .optional()
          .describe("for how long, in minutes, at most the flow's maxMinutes (default: the flow's defaultMinutes)"),
        justification: z
          .string()
          .trim()
          .min(1)
          .max(2000)
          .optional()
          .describe('why the access is needed, for the approvers and the audit trail (required by most flows)'),
      },
      outputSchema: RequestView,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    call('request_access', async (api, args) => {
      const durationMinutes = args.durationMinutes ?? (await defaultMinutes(api, args.flowId));
      const created = unwrap(
        await api.POST('/requests', {
          body: {
            flowId: args.flowId,
            durationMinutes,
            ...(args.targets === undefined ? {} : { targets: args.targets }),
            ...(args.bundle === undefined ? {} : { bundle: args.bundle }),
            ...(args.justification === undefined ? {} : { justification: args.justification }),
          },
        }),
      );
      return requestView(created, views);
    }),
  );

  server.registerTool(
    'get_request',
    {
      title: 'Get a request',
      description:
        'One request by id: its status (PENDING, APPROVED, GRANTING, ACTIVE, REJECTED, CANCELLED, TIMED_OUT, ' +
        'FAILED, REVOKING, REVOKED, EXPIRED, REVOKE_FAILED), the decision (who approved or rejected, why), when ' +
        'the access expires, why it failed, and `next`: what to do now. Poll it to follow a request.',
      inputSchema: { id: Id },
      outputSchema: RequestView,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    call('get_request', async (api, args) => {
      const request = unwrap(await api.GET('/requests/{id}', { params: { path: { id: args.id } } }));
      return requestView(request, views);
    }),
  );

  server.registerTool(
    'list_requests',
    {
      title: 'List my requests',
      description:
        "The signed-in person's own requests, newest first, optionally only those in one status (e.g. ACTIVE to " +
        'find access already granted, before asking again).',
      inputSchema: {
        status: z.enum(STATUSES).optional().describe('only requests in this status'),
        limit: z.number().int().min(1).max(100).optional().describe('at most this many (default 20)'),
        cursor: z.string().min(1).max(2048).optional().describe('the cursor of the previous page'),
      },
      outputSchema: RequestListView,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    call('list_requests', async (api, args) => {
      const page = unwrap(
        await api.GET('/requests', {
          params: {
            query: {
              scope: 'mine',
              limit: args.limit ?? 20,
              ...(args.status === undefined ? {} : { status: args.status }),
              ...(args.cursor === undefined ? {} : { cursor: args.cursor }),
            },
          },
        }),
      );
      return { requests: page.items.map((r) => requestView(r, views)), cursor: page.cursor };
    }),
  );

  if (options.access) {
    server.registerTool(
      'get_access',
      {
        title: 'Get credentials',
        description:
          "The credentials of the signed-in person's ACTIVE request: for a database, host, port, database, " +
          'username and password; for a cloud account or role, what to sign in with. They stop working at ' +
          'expiresAt. They are secrets: use them for the task, never write them into files, code or logs.',
        inputSchema: { id: Id },
        outputSchema: AccessView,
        annotations: { readOnlyHint: true, openWorldHint: false },
      },
      call('get_access', async (api, args) => {
        return unwrap(await api.GET('/requests/{id}/access', { params: { path: { id: args.id } } }));
      }),
    );
  }

  server.registerTool(
    'cancel_request',
    {
      title: 'Cancel a request',
      description:
        'Withdraw a request of the signed-in person that is not granted yet (PENDING or APPROVED), e.g. when it ' +
        'is no longer needed. Answers the request, now CANCELLED.',
      inputSchema: {
        id: Id,
        reason: z.string().trim().min(1).max(2000).optional().describe('why (recorded with the request)'),
      },
      outputSchema: RequestView,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    },
    call('cancel_request', async (api, args) => {
      const cancelled = unwrap(
        await api.POST('/requests/{id}/cancel', {
          params: { path: { id: args.id } },
          body: args.reason === undefined ? {} : { reason: args.reason },
        }),
      );
      return requestView(cancelled, views);
    }),
  );

  return server;
}

/** The flow's default duration, as `stint request` uses it when no duration is given. */
async function defaultMinutes(api: Api, flowId: string): Promise<number> {
  const catalog = unwrap(await api.GET('/catalog'));
  const flow = catalog.flows.find((f) => f.id === flowId);
  if (flow === undefined) throw new CliError(`no flow ${flowId} among those you may request: call list_flows`);
  return flow.defaultMinutes;
}
