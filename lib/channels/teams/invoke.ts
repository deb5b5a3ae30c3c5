import * as z from 'zod';
import { voteRefusal } from '#lib/channels/refusal.ts';
import { malformedPayloadResponse, type WebhookResponse } from '#lib/channels/webhook-lambda.ts';
import type { ChatAccount, DirectoryUser, LinkingDirectory } from '#lib/directory/types.ts';
import { DomainError } from '#lib/domain/errors.ts';
import type { Identity } from '#lib/domain/identity.ts';
import { identityOfDirectoryUser } from '#lib/identity/resolver.ts';
import { logger } from '#lib/observability/logger.ts';
import type { RequestService } from '#lib/services/requests.ts';
import type { Store } from '#lib/store/store.ts';
import type { BotFrameworkAuth } from './auth.ts';
import {
  ADAPTIVE_CARD_TYPE,
  type AdaptiveCard,
  APPROVE_VERB,
  approvalCard,
  noticeCard,
  REASON_INPUT,
  REFRESH_VERB,
  REJECT_VERB,
} from './cards.ts';
import type { TeamsConnector } from './connector.ts';

/**
 * `POST /webhooks/teams`, after API Gateway (no JWT authorizer: the Bot Framework signs its own token, checked here).
 * In order: verify the Bot Framework JWT against the activity's serviceUrl (401, nothing processed); ignore every
 * activity but the `adaptiveCard/action` invoke; refuse an invoke from another Entra ID tenant than the bot's (when
 * `tenantId` is set); map `from.aadObjectId` to a Stint identity (teamsIdentity: the linked account, else Microsoft
 * Graph's email for that object id); vote through RequestService (the API's domain code, channel `teams`): one
 * conditional write and at most one SendTaskSuccess/Failure; answer the invoke with the updated card, or with a card
 * saying why nothing was recorded.
 */
export type TeamsActivityDeps = {
  auth: Pick<BotFrameworkAuth, 'verify'>;
  directory: TeamsDirectory;
  requests: Pick<RequestService, 'vote'>;
  store: Pick<Store, 'getRequest'>;
  /**
   * The bot's Entra ID tenant. When set, an invoke that names another tenant (`conversation.tenantId`,
   * `channelData.tenant.id`) is refused: a multi-tenant bot registration must not let another organization vote.
   */
  tenantId?: string;
  /** Look a clicker without a linked Teams account up in Microsoft Graph (needs `connector`). */
  graphLookup: boolean;
  connector?: Pick<TeamsConnector, 'userById'>;
};

export type TeamsDirectory = Pick<
  LinkingDirectory,
  'userByAccount' | 'userByEmail' | 'userById' | 'groupsOf' | 'linkAccount'
>;

export type TeamsHttpResponse = WebhookResponse;

export const NOT_KNOWN =
  'You are not known to Stint: ask an administrator to link your Teams account in the directory. Nothing was recorded.';

export const LOOKUP_FAILED =
  'Stint could not check who you are right now: try again in a moment. Nothing was recorded.';
export const OTHER_TENANT =
  'This Stint approval belongs to another Microsoft 365 organization: you cannot act on it. Nothing was recorded.';

/** Microsoft Graph could not be asked who a Teams user is (throttled, down, no permission, no token). */
export class TeamsLookupError extends Error {
  override readonly name = 'TeamsLookupError';
  constructor(readonly causeName: string) {
    super(`could not look the Teams user up in Microsoft Graph (${causeName})`);
  }
}

const ActivityEnvelope = z.looseObject({ type: z.string(), serviceUrl: z.string().optional() });

const ActionInvoke = z.looseObject({
  type: z.literal('invoke'),
  name: z.literal('adaptiveCard/action'),
  from: z.looseObject({ id: z.string().max(256), aadObjectId: z.string().max(64).optional() }),
  // Teams names the tenant in the conversation, and (depending on the activity) in channelData.
  conversation: z.looseObject({ tenantId: z.string().max(64).optional() }).optional(),
  channelData: z.looseObject({ tenant: z.looseObject({ id: z.string().max(64) }).optional() }).optional(),
  value: z.looseObject({
    action: z.looseObject({
      type: z.literal('Action.Execute'),
      verb: z.string().max(64),
      data: z.looseObject({ requestId: z.string().min(1).max(64), [REASON_INPUT]: z.string().max(2000).optional() }),
    }),
  }),
});

const json = (status: number, body: unknown): TeamsHttpResponse => ({
  status,
  body: JSON.stringify(body),
  headers: { 'content-type': 'application/json' },
});
const cardAnswer = (card: AdaptiveCard) => json(200, { statusCode: 200, type: ADAPTIVE_CARD_TYPE, value: card });
const badRequest = (message: string) =>
  json(200, { statusCode: 400, type: 'application/vnd.microsoft.error', value: { code: 'BadRequest', message } });

export async function handleTeamsActivity(
  deps: TeamsActivityDeps,
  input: { headers: Readonly<Record<string, string | undefined>>; rawBody: string },
): Promise<TeamsHttpResponse> {
  const envelope = ActivityEnvelope.safeParse(safeJson(input.rawBody));
  const check = await deps.auth.verify(header(input.headers, 'authorization'), {
    serviceUrl: envelope.success ? envelope.data.serviceUrl : undefined,
  });
  if (!check.ok) {
    logger.warn('refused a Bot Framework activity', { reason: check.reason });
    return json(401, { error: check.reason });
  }
  if (!envelope.success) return json(400, { error: 'malformed activity' });
  const malformed = malformedPayloadResponse(envelope.data, 'activity');
  if (malformed !== undefined) return malformed;
  if (envelope.data.type !== 'invoke') return { status: 200 };
  const invoke = ActionInvoke.safeParse(envelope.data);
  if (!invoke.success) return badRequest('Stint only handles adaptiveCard/action invokes of its own cards.');
  const { action } = invoke.data.value;
  const requestId = action.data.requestId;
  if (deps.tenantId !== undefined && !fromTenant(invoke.data, deps.tenantId)) {
    logger.warn('refused a Teams invoke from another tenant', { requestId });
    return cardAnswer(noticeCard(OTHER_TENANT));
  }

  const request = await deps.store.getRequest(requestId);
  if (request === undefined) return cardAnswer(noticeCard(`Request ${requestId} does not exist.`));
  if (action.verb === REFRESH_VERB) return cardAnswer(approvalCard(request));
  if (action.verb !== APPROVE_VERB && action.verb !== REJECT_VERB) return badRequest('Unknown action.');
  const vote = action.verb === APPROVE_VERB ? 'approve' : 'reject';

  let who: Identity | undefined;
  try {
    who = await teamsIdentity(deps, invoke.data.from.aadObjectId);
  } catch (error) {
    if (!(error instanceof TeamsLookupError)) throw error;
    logger.warn('could not tell who clicked in Teams', { requestId, error: error.causeName });
    return cardAnswer(approvalCard(request, { notice: LOOKUP_FAILED }));
  }
  if (who === undefined) {
    logger.info('a Teams user unknown to Stint clicked', { requestId });
    return cardAnswer(approvalCard(request, { notice: NOT_KNOWN }));
  }
  const reason = action.data[REASON_INPUT]?.trim();
  try {
    const result = await deps.requests.vote(requestId, who, {
      vote,
      channel: 'teams',
      ...(reason === undefined || reason === '' ? {} : { reason }),
    });
    logger.info('recorded a Teams vote', { requestId, outcome: result.outcome });
    const notices = {
      duplicate: `Your ${vote} was already recorded; nothing changed.`,
      recorded: 'Your approval was recorded; more approvals are needed.',
      approved: 'Approved: Stint is granting the access.',
      rejected: 'Rejected: the requester is told.',
    } as const;
    return cardAnswer(approvalCard(result.request, { notice: notices[result.outcome] }));
  } catch (error) {
    if (error instanceof DomainError) {
      logger.info('refused a Teams vote', { requestId, error: error.name });
      const current = (await deps.store.getRequest(requestId)) ?? request;
      return cardAnswer(approvalCard(current, { notice: `Not recorded: ${voteRefusal(error, current, who)}.` }));
    }
    throw error;
  }
}

/**
 * The Stint identity behind a Teams user (Entra ID object id), as slackIdentity does it for Slack: the linked `teams`
 * account first; else, when `graphLookup` is on and a connector is given, Graph's `mail` (then `userPrincipalName`)
 * for that object id → the directory user with that email (unless it is linked to another Teams account), and the
 * account is linked for next time. Undefined when no active Stint user matches: the caller says so and records nothing. A Graph failure throws TeamsLookupError.
 */
export async function teamsIdentity(
  deps: Pick<TeamsActivityDeps, 'directory' | 'graphLookup' | 'connector'>,
  aadObjectId: string | undefined,
): Promise<Identity | undefined> {
  const id = z.uuid().safeParse(aadObjectId);
  if (!id.success) return undefined;
  const account: ChatAccount = { kind: 'teams', aadObjectId: id.data };
  const { directory } = deps;
  let user: DirectoryUser | undefined = await directory.userByAccount(account);
  if (user === undefined) {
    if (!deps.graphLookup || deps.connector === undefined) return undefined;
    const email = await graphEmailOf(deps.connector, id.data);
    if (email === undefined) return undefined;
    user = await directory.userByEmail(email);
    if (user === undefined || !user.active) return undefined;
    if (user.accounts.some((a) => a.kind === 'teams')) {
      // The directory already names this person's Teams account, and it is another one: the email is not trusted.
      logger.warn('a Teams user claims the email of someone linked to another Teams account', { userId: user.id });
      return undefined;
    }
    if (directory.linkAccount !== undefined) {
      try {
        await directory.linkAccount(user.id, account);
      } catch (error) {
        // Linking is an optimisation: the next click looks the object id up again.
        logger.warn('could not link the Teams account', { userId: user.id, error: errorName(error) });
      }
    }
  }
  return identityOfDirectoryUser(directory, user.id);
}

/** The email Graph knows a user by (`mail`, else `userPrincipalName`); undefined when Graph has none. */
async function graphEmailOf(connector: Pick<TeamsConnector, 'userById'>, aadObjectId: string) {
  let found: Awaited<ReturnType<TeamsConnector['userById']>>;
  try {
    found = await connector.userById(aadObjectId);
  } catch (error) {
    throw new TeamsLookupError(errorName(error));
  }
  for (const candidate of [found?.mail, found?.userPrincipalName]) {
    const email = z.email().safeParse(candidate?.trim());
    if (email.success) return email.data;
  }
  return undefined;
}

/** False when the invoke names a tenant other than `tenantId` (an empty or missing tenant is not a mismatch). */
function fromTenant(
  invoke: { conversation?: { tenantId?: string | undefined }; channelData?: { tenant?: { id: string } | undefined } },
  tenantId: string,
): boolean {
  const named = [invoke.conversation?.tenantId, invoke.channelData?.tenant?.id].filter(
    (t): t is string => t !== undefined && t.trim() !== '',
  );
  return named.every((t) => t.trim().toLowerCase() === tenantId.toLowerCase());
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'unknown';
}

function header(headers: Readonly<Record<string, string | undefined>>, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return undefined;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
