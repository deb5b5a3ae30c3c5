/** Who may approve a request, and why: shared by the channels that ask approvers (Slack, Teams). */
import type { Directory, DirectoryUser } from '#lib/directory/types.ts';
import type { OnCallAnswers } from '#lib/domain/approvals.ts';
import { approverSets, reachedTier } from '#lib/domain/escalation.ts';
import type { AccessRequest } from '#lib/domain/request.ts';

/**
 * Eligible approvers with why each is one: the policy's sets (named users, the requester's manager pinned on the
 * request, the unit owners fixed on the request, group members, whoever is on call) and every escalation tier the
 * request has reached; requester and grantee excluded (they can never approve). `oncall`: who is on call now for the
 * on-call sets (lib/services/oncall.ts onCallAnswersFor), each shift's email looked up in the directory; a set whose
 * provider could not be asked adds nobody, and the other sets' approvers are listed as usual.
 */
export async function approversOf(
  directory: Directory,
  request: AccessRequest,
  oncall: OnCallAnswers = new Map(),
): Promise<{ user: DirectoryUser; why: string }[]> {
  const policy = request.flow.approval;
  if (policy.mode !== 'manual') return [];
  const found = new Map<string, { user: DirectoryUser; why: string }>();
  const excluded = new Set([request.requester.sub, request.grantee.sub]);
  const reached = reachedTier(request);
  for (const { set, index, tier } of approverSets(policy)) {
    if (tier > reached) continue;
    const setName =
      tier > 0
        ? `escalation tier ${tier}${set.name === undefined ? '' : ` “${set.name}”`}`
        : set.name === undefined
          ? `approver set ${index + 1}`
          : `approver set “${set.name}”`;
    for (const id of set.users) {
      if (excluded.has(id) || found.has(id)) continue;
      const user = await directory.userById(id);
      if (user?.active === true) found.set(id, { user, why: `you are named in ${setName} of flow ${request.flowId}` });
    }
    const manager = request.requester.manager;
    if (set.manager === true && manager !== undefined && !excluded.has(manager) && !found.has(manager)) {
      const user = await directory.userById(manager);
      if (user?.active === true)
        found.set(manager, { user, why: `you are the requester’s manager (${setName} of flow ${request.flowId})` });
    }
    if (set.owners === true) {
      for (const [i, unit] of (request.unitOwners ?? []).entries()) {
        const what = request.units[i];
        for (const id of unit.owners) {
          if (excluded.has(id) || found.has(id)) continue;
          const user = await directory.userById(id);
          if (user?.active !== true) continue;
          const owner =
            unit.source === 'resource'
              ? `an owner of ${what?.resource} (integration ${what?.integrationId})`
              : `an owner of integration ${what?.integrationId}, which stands for ${what?.resource}`;
          found.set(id, { user, why: `you are ${owner} (${setName} of flow ${request.flowId})` });
        }
      }
    }
    const answer = set.oncall === undefined ? undefined : oncall.get(index);
    if (set.oncall !== undefined && answer !== undefined && 'shifts' in answer) {
      const where = set.oncall.schedule ?? set.oncall.escalationPolicy;
      for (const shift of answer.shifts) {
        const user = await directory.userByEmail(shift.email.toLowerCase());
        if (user?.active !== true || excluded.has(user.id) || found.has(user.id)) continue;
        // The directory's user must carry the on-call email itself (a lookup that matched otherwise is no match).
        if (!user.emails.some((e) => e.toLowerCase() === shift.email.toLowerCase())) continue;
        found.set(user.id, {
          user,
          why: `you are on call in ${where} (${set.oncall.provider}) until ${shift.end ?? 'further notice'} (${setName} of flow ${request.flowId})`,
        });
      }
    }
    for (const group of set.groups) {
      for (const user of await directory.membersOf(group)) {
        if (excluded.has(user.id) || found.has(user.id)) continue;
        found.set(user.id, { user, why: `you are in group ${group} (${setName} of flow ${request.flowId})` });
      }
    }
  }
  return [...found.values()];
}
