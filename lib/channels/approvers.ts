/** Who may approve a request, and why: shared by the channels that ask approvers (Slack, Teams). */
import type { Directory, DirectoryUser } from '#lib/directory/types.ts';
import { approverSets, reachedTier } from '#lib/domain/escalation.ts';
import type { AccessRequest } from '#lib/domain/request.ts';

/**
 * Eligible approvers with why each is one: the policy's sets (named users, the requester's manager pinned on the
 * request, the unit owners fixed on the request, group members) and every escalation tier the request has reached;
 * requester and grantee excluded (they can never approve).
 */
export async function approversOf(
  directory: Directory,
  request: AccessRequest,
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
    for (const group of set.groups) {
      for (const user of await directory.membersOf(group)) {
        if (excluded.has(user.id) || found.has(user.id)) continue;
        found.set(user.id, { user, why: `you are in group ${group} (${setName} of flow ${request.flowId})` });
      }
    }
  }
  return [...found.values()];
}
