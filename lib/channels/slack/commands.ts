import * as z from 'zod';
import { CreateRequestInput } from '#lib/domain/create-request.ts';
import { DomainError } from '#lib/domain/errors.ts';
import type { Identity } from '#lib/domain/identity.ts';
import type { AccessRequest } from '#lib/domain/request.ts';
import { logger } from '#lib/observability/logger.ts';
import type { AdminService } from '#lib/services/admin.ts';
import type { RequestService } from '#lib/services/requests.ts';
import type { SlackClient } from './client.ts';
import { type SlackHttpResponse, slackGate } from './gate.ts';
import { type LinkingDirectory, slackIdentity } from './identity.ts';
import type { ReplayGuard } from './verify.ts';

/**
 * `POST /webhooks/slack/commands`: the `/stint` slash command, after API Gateway (no JWT: Slack signs the request).
 * Verified exactly like interactions (v0 signature, 5-minute window → 401; one use per signature → 401 on a
 * replay); the Slack user is mapped to a Stint identity; the answer is an ephemeral message in the HTTP response
 * (Slack's 3-second limit: every sub-command is a few table reads or one create).
 *
 *   /stint [help]                                          usage
 *   /stint list                                            the caller's newest 10 requests
 *   /stint flows                                           the flows the caller may request under
 *   /stint request <flowId> <minutes> <justification…>     a new request (channel `slack`)
 */
export type SlackCommandDeps = {
  signingSecret: () => Promise<string>;
  guard: ReplayGuard;
  directory: LinkingDirectory;
  slack: Pick<SlackClient, 'userInfo'>;
  requests: Pick<RequestService, 'create' | 'list'>;
  catalog: Pick<AdminService, 'catalog'>;
  now?: () => Date;
};

export const COMMAND_NOT_KNOWN = 'You are not known to Stint: ask an administrator to add you to the directory.';
export const LIST_LIMIT = 10;

export const USAGE = [
  '*Stint* — just-in-time access',
  '• `/stint list` — your newest requests',
  '• `/stint flows` — the flows you may request access under',
  '• `/stint request <flowId> <minutes> <justification…>` — ask for access',
  '• `/stint help` — this message',
].join('\n');

/** The form fields Slack posts (application/x-www-form-urlencoded); only those Stint reads. */
const CommandForm = z.object({
  command: z.string().min(1).max(64),
  text: z.string().max(4000).default(''),
  user_id: z.string().min(1).max(32),
  team_id: z.string().min(1).max(32),
});

const ephemeral = (text: string): SlackHttpResponse => ({
  status: 200,
  body: JSON.stringify({ response_type: 'ephemeral', text }),
  headers: { 'content-type': 'application/json' },
});

export async function handleSlackCommand(
  deps: SlackCommandDeps,
  input: { headers: Readonly<Record<string, string | undefined>>; rawBody: string },
): Promise<SlackHttpResponse> {
  // Slack does not resend slash commands: every repeat of a signed command is a replay.
  const stop = await slackGate(deps, input, { what: 'command', acknowledgeRetries: false });
  if (stop !== undefined) return stop;

  const form = CommandForm.safeParse(Object.fromEntries(new URLSearchParams(input.rawBody)));
  if (!form.success) return { status: 400, body: 'malformed command' };
  const { text, user_id: userId, team_id: teamId } = form.data;
  const [sub = 'help', ...args] = text
    .trim()
    .split(/\s+/)
    .filter((word) => word !== '');

  if (sub === 'help') return ephemeral(USAGE);
  if (sub !== 'list' && sub !== 'flows' && sub !== 'request') {
    return ephemeral(`Unknown command \`${sub}\`.\n${USAGE}`);
  }

  const who = await slackIdentity(deps, { teamId, userId });
  if (who === undefined) {
    logger.info('a Slack user unknown to Stint used /stint', { sub });
    return ephemeral(COMMAND_NOT_KNOWN);
  }
  try {
    switch (sub) {
      case 'list':
        return ephemeral(await listRequests(deps, who));
      case 'flows':
        return ephemeral(await listFlows(deps, who));
      case 'request':
        return ephemeral(await createRequest(deps, who, args));
    }
  } catch (error) {
    if (error instanceof DomainError) {
      logger.info('refused a Slack command', { sub, error: error.name });
      return ephemeral(`Refused: ${error.message}.`);
    }
    throw error;
  }
}

async function listRequests(deps: SlackCommandDeps, who: Identity): Promise<string> {
  const page = await deps.requests.list(who, { scope: 'mine', limit: LIST_LIMIT });
  if (page.items.length === 0) return 'You have no requests. Ask with `/stint request <flowId> <minutes> <why>`.';
  return [`Your newest ${page.items.length} request(s):`, ...page.items.map(requestLine)].join('\n');
}

function requestLine(request: AccessRequest): string {
  const expiry =
    request.expiresAt !== undefined ? `expires ${request.expiresAt}` : `${request.durationMinutes} min once granted`;
  return `• \`${request.id}\` ${request.flowId} — ${request.status} — ${expiry}`;
}

async function listFlows(deps: SlackCommandDeps, who: Identity): Promise<string> {
  const flows = await deps.catalog.catalog(who);
  if (flows.length === 0) return 'There is no flow you may request access under.';
  return [
    'Flows you may request access under:',
    ...flows.map(
      (f) =>
        `• \`${f.id}\` ${f.name} — up to ${f.maxMinutes} min${f.justificationRequired ? ', justification required' : ''}`,
    ),
  ].join('\n');
}

async function createRequest(deps: SlackCommandDeps, who: Identity, args: string[]): Promise<string> {
  const [flowId, minutes, ...words] = args;
  const usage = 'Usage: `/stint request <flowId> <minutes> <justification…>`';
  if (flowId === undefined || minutes === undefined || !/^[1-9]\d{0,6}$/.test(minutes)) return usage;
  const justification = words.join(' ');
  const input = CreateRequestInput.safeParse({
    flowId,
    durationMinutes: Number(minutes),
    ...(justification === '' ? {} : { justification }),
  });
  if (!input.success) {
    const issue = input.error.issues[0];
    return `Refused: ${issue === undefined ? 'invalid request' : `${issue.path.join('.')}: ${issue.message}`}.\n${usage}`;
  }
  const request = await deps.requests.create(input.data, who, 'slack');
  logger.info('created a request from Slack', { requestId: request.id, flowId });
  return `Request \`${request.id}\` for ${request.flowId} (${request.durationMinutes} min): ${request.status}.`;
}
