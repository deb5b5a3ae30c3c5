import type { OnCallAnswer, OnCallAnswers } from '#lib/domain/approvals.ts';
import { onCallSets } from '#lib/domain/approvals.ts';
import type { OnCallRef } from '#lib/domain/flow.ts';
import type { AccessRequest } from '#lib/domain/request.ts';
import { logger } from '#lib/observability/logger.ts';
import { OnCallError, type OnCallProvider } from '#lib/oncall/types.ts';

/** The configured on-call providers by name (createOnCallProviders, once per cold start so their cache lives). */
export type OnCallProviders = ReadonlyMap<string, OnCallProvider>;

/**
 * Who is on call for `ref` at `at`, as the domain reads it: the shifts, or why the provider could not be asked.
 * Never throws: a provider that is not configured, down, refusing or answering nonsense is `unavailable` (fail
 * closed: the caller admits nobody through it). docs/oncall.md "Failure behaviour".
 */
export async function askOnCall(providers: OnCallProviders, ref: OnCallRef, at: Date): Promise<OnCallAnswer> {
  const provider = providers.get(ref.provider);
  if (provider === undefined) {
    return { unavailable: `no on-call provider named ${ref.provider} is configured` };
  }
  try {
    const shifts = await provider.whoIsOnCall(
      {
        ...(ref.schedule === undefined ? {} : { schedule: ref.schedule }),
        ...(ref.escalationPolicy === undefined ? {} : { escalationPolicy: ref.escalationPolicy }),
        ...(ref.level === undefined ? {} : { level: ref.level }),
      },
      at,
    );
    return { shifts };
  } catch (error) {
    if (error instanceof OnCallError) {
      logger.warn('on-call provider could not answer; failing closed', {
        provider: error.provider,
        error: error.name,
        status: error.status,
      });
      return { unavailable: error.message };
    }
    logger.error('on-call lookup failed; failing closed', {
      provider: ref.provider,
      error: error instanceof Error ? error.name : 'unknown',
    });
    return { unavailable: `on-call provider ${ref.provider}: could not be asked` };
  }
}

/**
 * Answers for every on-call approver set of the request's pinned flow at `at` (by set index), asked in parallel.
 * Empty for a request that is not PENDING (nobody votes then) or whose flow names no on-call set.
 */
export async function onCallAnswersFor(
  providers: OnCallProviders,
  request: Pick<AccessRequest, 'flow' | 'status'>,
  at: Date,
): Promise<OnCallAnswers> {
  if (request.status !== 'PENDING') return new Map();
  const sets = onCallSets(request);
  const answers = await Promise.all(sets.map(({ oncall }) => askOnCall(providers, oncall, at)));
  return new Map(sets.map(({ index }, i) => [index, answers[i] as OnCallAnswer]));
}
