import { z } from 'zod';
import type { Directory } from '#lib/directory/types.ts';
import { DomainError } from '#lib/domain/errors.ts';
import type { Identity } from '#lib/domain/identity.ts';
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

/**
 * `POST /webhooks/teams`, after API Gateway (no JWT authorizer: the Bot Framework signs its own token, checked here).
 * In order: verify the Bot Framework JWT against the activity's serviceUrl (401, nothing processed); ignore every
 * activity but the `adaptiveCard/action` invoke; map `from.aadObjectId` to a Stint identity through the directory;
 * vote through RequestService (the API's domain code, channel `teams`): one conditional write and at most one
 * SendTaskSuccess/Failure; answer the invoke with the updated card, or with a card saying why nothing was recorded.
 */
export type TeamsActivityDeps = {
  auth: Pick<BotFrameworkAuth, 'verify'>;
  directory: Pick<Directory, 'userByAccount' | 'identityOf'>;
  requests: Pick<RequestService, 'vote'>;
  store: Pick<Store, 'getRequest'>;
};

export type TeamsHttpResponse = { status: number; body?: string; headers?: Record<string, string> };

export const NOT_KNOWN =
  'You are not known to Stint: ask an administrator to link your Teams account in the directory. Nothing was recorded.';

const ActivityEnvelope = z.looseObject({ type: z.string(), serviceUrl: z.string().optional() });

const ActionInvoke = z.looseObject({
  type: z.literal('invoke'),
  name: z.literal('adaptiveCard/action'),
  from: z.looseObject({ id: z.string().max(256), aadObjectId: z.string().max(64).optional() }),
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
  if (envelope.data.type !== 'invoke') return { status: 200 };
  const invoke = ActionInvoke.safeParse(envelope.data);
  if (!invoke.success) return badRequest('Stint only handles adaptiveCard/action invokes of its own cards.');
  const { action } = invoke.data.value;
  const requestId = action.data.requestId;

  const request = await deps.store.getRequest(requestId);
  if (request === undefined) return cardAnswer(noticeCard(`Request ${requestId} does not exist.`));
  if (action.verb === REFRESH_VERB) return cardAnswer(approvalCard(request));
  if (action.verb !== APPROVE_VERB && action.verb !== REJECT_VERB) return badRequest('Unknown action.');
  const vote = action.verb === APPROVE_VERB ? 'approve' : 'reject';

  const who = await teamsIdentity(deps.directory, invoke.data.from.aadObjectId);
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
      return cardAnswer(approvalCard(current, { notice: `Not recorded: ${error.message}.` }));
    }
    throw error;
  }
}

/** The Stint identity linked to a Teams user (Entra ID object id); undefined when none or inactive. */
export async function teamsIdentity(
  directory: Pick<Directory, 'userByAccount' | 'identityOf'>,
  aadObjectId: string | undefined,
): Promise<Identity | undefined> {
  const id = z.uuid().safeParse(aadObjectId);
  if (!id.success) return undefined;
  const user = await directory.userByAccount({ kind: 'teams', aadObjectId: id.data });
  return user === undefined ? undefined : directory.identityOf(user);
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
