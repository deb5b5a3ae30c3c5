import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { type WebhookResponse, webhookLambda } from '#lib/channels/webhook-lambda.ts';
import { logger } from '#lib/observability/logger.ts';
import { header, type ReplayGuard, verifySlackSignature } from './verify.ts';

/** What a Slack webhook answers, before it is turned into an API Gateway result. */
export type SlackHttpResponse = WebhookResponse;

export type SlackRequest = { headers: Readonly<Record<string, string | undefined>>; rawBody: string };

const refused = (reason: string): SlackHttpResponse => ({
  status: 401,
  body: JSON.stringify({ error: reason }),
  headers: { 'content-type': 'application/json' },
});

/**
 * The gate every Slack webhook passes first: the v0 signature and its 5-minute window (401), then, where Slack
 * resends deliveries it thinks timed out, a retry (`X-Slack-Retry-Num`) acknowledged without processing, then
 * the replay guard (one use per signature, 401). Returns the answer to send when the request stops here.
 */
export async function slackGate(
  deps: { signingSecret: () => Promise<string>; guard: ReplayGuard; now?: () => Date },
  input: SlackRequest,
  options: { what: string; acknowledgeRetries: boolean },
): Promise<SlackHttpResponse | undefined> {
  const now = deps.now?.() ?? new Date();
  const check = verifySlackSignature({
    secret: await deps.signingSecret(),
    headers: input.headers,
    rawBody: input.rawBody,
    now,
  });
  if (!check.ok) {
    logger.warn(`refused a Slack ${options.what}`, { reason: check.reason });
    return refused(check.reason);
  }
  const retry = options.acknowledgeRetries ? header(input.headers, 'x-slack-retry-num') : undefined;
  if (retry !== undefined) {
    // The first delivery is (being) processed.
    logger.info(`acknowledged a Slack ${options.what} retry without processing it`, { retry });
    return { status: 200 };
  }
  if (!(await deps.guard.claim(check.signature, now))) {
    logger.warn(`refused a replayed Slack ${options.what}`);
    return refused('replayed');
  }
  return undefined;
}

/** A Slack webhook as a Lambda entry: the shared chat webhook adapter. */
export function slackLambda(
  what: string,
  handle: (input: SlackRequest) => Promise<SlackHttpResponse>,
): (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2> {
  return webhookLambda(`Slack ${what}`, handle);
}
