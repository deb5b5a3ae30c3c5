import { z } from 'zod';
import { sameUnit } from '#lib/domain/bundle.ts';
import { AccessFlow, ApprovalRule, ApproverSet } from '#lib/domain/flow.ts';
import { Identity } from '#lib/domain/identity.ts';
import { IntegrationType } from '#lib/domain/integration.ts';
import { AccessRequest, PendingWork } from '#lib/domain/request.ts';
import { CAPABILITIES } from '#lib/integrations/capabilities.ts';
import { isDriverType } from '#lib/workflow/contract.ts';

/** One unit as requesters and approvers see it: what it is, what its driver promises, how far the target got. */
const UnitView = z.looseObject({
  integrationId: z.string(),
  resource: z.string(),
  permission: z.string(),
  type: IntegrationType.optional(),
  /** What revoke can promise for this unit (lib/integrations/capabilities.ts). */
  endsLiveSessions: z.boolean().optional(),
  /** How long a session opened before revoke may keep working after it. */
  residualSessionSeconds: z.number().optional(),
  /** The target ends the access on time by itself, even if Stint is down. */
  targetEnforcesExpiry: z.boolean().optional(),
  /** Target work in progress (e.g. "assignment IN_PROGRESS"). */
  progress: PendingWork.pick({ action: true, reason: true, since: true }).optional(),
});

/**
 * What callers see of a request: never task tokens, sealed secrets or target-side state.
 * Credentials are only served by GET /requests/{id}/access, to the grantee.
 */
export const RequestView = AccessRequest.omit({
  approvalToken: true,
  activeToken: true,
  grants: true,
  flow: true,
  attempt: true,
}).extend({
  flowName: z.string(),
  /** Every unit with its type and what its driver promises (known before anything is granted). */
  unitDetails: z.array(UnitView),
  /** Per granted unit: its access view (kind-tagged: connection details, account, role; never a secret). */
  access: z.array(z.record(z.string(), z.unknown())),
});
export type RequestView = z.infer<typeof RequestView>;

export function toRequestView(request: AccessRequest): RequestView {
  const { approvalToken: _a, activeToken: _t, grants, flow, attempt: _n, ...rest } = request;
  return {
    ...rest,
    flowName: flow.name,
    unitDetails: request.units.map((unit, i) => {
      const type = request.unitTypes?.[i];
      const pending = grants.find((g) => sameUnit(g.unit, unit))?.pending;
      const promises = type !== undefined && isDriverType(type) ? CAPABILITIES[type] : undefined;
      return {
        ...unit,
        ...(type === undefined ? {} : { type }),
        ...(promises === undefined
          ? {}
          : {
              endsLiveSessions: promises.endsLiveSessions,
              residualSessionSeconds: promises.residualSessionSeconds,
              targetEnforcesExpiry: promises.targetEnforcesExpiry,
            }),
        ...(pending === undefined
          ? {}
          : { progress: { action: pending.action, reason: pending.reason, since: pending.since } }),
      };
    }),
    access: grants
      .filter((g) => g.pending === undefined)
      .map((g) => ({
        integrationId: g.unit.integrationId,
        resource: g.unit.resource,
        permission: g.unit.permission,
        ...g.access,
      })),
  };
}

/** GET /me: the caller as every policy sees them (token and directory), and the roles the portal shows. */
export const MeView = Identity.extend({ admin: z.boolean(), auditor: z.boolean() });

/** One flow of GET /catalog: what a requester may ask for under it and how it is decided. */
export const CatalogFlowView = AccessFlow.pick({
  id: true,
  name: true,
  description: true,
  targets: true,
  bundles: true,
  defaultMinutes: true,
  maxMinutes: true,
  justificationRequired: true,
  maxExtensions: true,
  breakGlass: true,
  workingHours: true,
  labels: true,
}).extend({
  approval: z.union([
    z.object({ mode: z.literal('auto') }),
    z.object({
      mode: z.literal('manual'),
      rule: ApprovalRule,
      /** Who approves: the flow's approver sets (users, groups, the requester's manager). */
      sets: z.array(ApproverSet),
      reasonRequired: z.boolean(),
      timeoutMinutes: z.number(),
    }),
  ]),
});
export const CatalogView = z.object({ flows: z.array(CatalogFlowView) });
