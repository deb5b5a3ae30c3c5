import { approverStanding } from '#lib/domain/approvals.ts';
import { type DomainError, NotFoundError } from '#lib/domain/errors.ts';
import type { Identity } from '#lib/domain/identity.ts';
import type { AccessRequest } from '#lib/domain/request.ts';

/**
 * Why a vote from Slack, Teams or Jira was not recorded, as the voter is told. The API answers a voter who may not
 * see a request exactly as for a missing id (NotFoundError); a chat or ticket user is voting on a message or issue
 * that shows the request, so hiding it tells them nothing: they are told their standing instead ("you are not an
 * approver of this request"), which reads the same whether or not they could have seen it.
 */
export function voteRefusal(error: DomainError, request: AccessRequest | undefined, who: Identity): string {
  if (error instanceof NotFoundError && request !== undefined) {
    const standing = approverStanding(request, who);
    if (!standing.eligible) return standing.reason;
  }
  return error.message;
}
