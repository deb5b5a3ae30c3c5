import * as z from 'zod';
import { type OnCallAnswer, type OnCallShiftAnswer, shiftOf } from './approvals.ts';
import { type AccessUnit, type Bundle, sameUnit } from './bundle.ts';
import { type Channel, Email, Slug, Subject } from './common.ts';
import { ForbiddenError, NotFoundError, PolicyError, ValidationError } from './errors.ts';
import type { AccessFlow } from './flow.ts';
import { type Identity, SYSTEM_SUBJECT } from './identity.ts';
import type { Integration } from './integration.ts';
import type { AccessRequest } from './request.ts';
import { Line, Text } from './text.ts';
import { withinWorkingHours } from './working-hours.ts';

/** Body of `POST /requests`. */
export const CreateRequestInput = z
  .strictObject({
    flowId: Slug,
    durationMinutes: z.number().int().positive(),
    justification: Text.trim().min(1).max(2000).optional(),
    targets: z
      .array(
        z.strictObject({
          resource: Line.min(1).max(128),
          permission: Slug,
          integrationId: Slug.optional(),
        }),
      )
      .min(1)
      .max(50)
      .optional(),
    bundle: Slug.optional(),
    grantee: z.strictObject({ sub: Subject, email: Email }).optional(),
  })
  .refine((i) => i.targets === undefined || i.bundle === undefined, {
    path: ['bundle'],
    message: 'ask for either targets or a bundle, not both',
  });
export type CreateRequestInput = z.infer<typeof CreateRequestInput>;

/** Whether `who` may make requests under `flow`. */
export function isRequestor(flow: AccessFlow, who: Identity): boolean {
  const { everyone, users, groups } = flow.requestors;
  return everyone || users.includes(who.sub) || who.groups.some((g) => groups.includes(g));
}

type BuildContext = {
  id: string;
  requester: Identity;
  /**
   * Whom an on-behalf request (`grantee` in the input, another subject) grants: the grantee as the directory knows
   * them (groups included), else the input's sub and email with no groups. Must be a requestor of the flow.
   */
  grantee?: Identity;
  isAdmin: boolean;
  /** The flow as stored now; the request pins it. */
  flow: AccessFlow;
  /** The bundle named by the input, when it asks for one. */
  bundle?: Bundle;
  integrations: ReadonlyMap<string, Integration>;
  now: Date;
  channel: Channel;
  /**
   * Who is on call at `now` for each of the flow's `requestors.oncall` (same order), as the service asked the
   * providers: someone no other rule admits may request only with a shift in one of them.
   */
  onCallRequestors?: readonly OnCallAnswer[];
};

/**
 * The shift that admits `who` as an on-call requestor of the flow, when nothing else does: their shift in the first
 * `requestors.oncall` entry whose answer lists them. Refused (403) when they are in none; the refusal names each
 * schedule, and a provider that could not be asked (fail closed).
 */
function onCallAdmission(flow: AccessFlow, who: Identity, answers: readonly OnCallAnswer[]): OnCallShiftAnswer {
  const refs = flow.requestors.oncall ?? [];
  const unavailable: string[] = [];
  for (const [i, ref] of refs.entries()) {
    const answer = answers[i];
    const shift = shiftOf(answer, who);
    if (shift !== undefined) return shift;
    if (answer === undefined) unavailable.push(`${ref.provider} was not asked`);
    else if ('unavailable' in answer) unavailable.push(answer.unavailable);
  }
  const named = refs.map((r) => `${r.schedule ?? r.escalationPolicy} (${r.provider})`).join(', ');
  throw new ForbiddenError(
    `you may not request access under flow ${flow.id}: it admits whoever is on call in ${named}, and you are not on call now` +
      (unavailable.length === 0
        ? ''
        : ` (who is on call could not be checked: ${[...new Set(unavailable)].join('; ')})`),
    'flowId',
  );
}

/**
 * Validates a request against its flow and builds the new AccessRequest (version 1). Every refusal is a domain
 * error naming the offending field. Auto-approved and break-glass flows start APPROVED; others start PENDING
 * with an approval deadline.
 */
export function buildRequest(input: CreateRequestInput, ctx: BuildContext): AccessRequest {
  const { flow, requester, now } = ctx;
  if (flow.deleted === true || flow.id !== input.flowId) {
    throw new NotFoundError(`flow ${input.flowId} not found`, 'flowId');
  }
  const onCall =
    isRequestor(flow, requester) || flow.requestors.oncall === undefined
      ? undefined
      : onCallAdmission(flow, requester, ctx.onCallRequestors ?? []);
  if (!isRequestor(flow, requester) && onCall === undefined) {
    throw new ForbiddenError(`you may not request access under flow ${flow.id}`, 'flowId');
  }
  const onBehalf = input.grantee !== undefined && input.grantee.sub !== requester.sub;
  if (onBehalf && !ctx.isAdmin) {
    throw new ForbiddenError('only admins can request access for someone else', 'grantee');
  }
  const grantee: Identity = onBehalf ? (ctx.grantee ?? granteeFromInput(input)) : requester;
  if (grantee.sub !== (input.grantee?.sub ?? requester.sub)) {
    throw new Error('buildRequest: the resolved grantee is not the one the input names');
  }
  if (onBehalf && !isRequestor(flow, grantee)) {
    throw new ForbiddenError(
      `${grantee.sub} is not a requestor of flow ${flow.id}: access can be asked for on behalf of its requestors only`,
      'grantee',
    );
  }
  if (input.durationMinutes > flow.maxMinutes) {
    throw new PolicyError(`the duration can be at most ${flow.maxMinutes} minutes under this flow`, 'durationMinutes');
  }
  if ((flow.justificationRequired || flow.breakGlass) && input.justification === undefined) {
    throw new PolicyError(
      flow.breakGlass ? 'break-glass requests need a justification' : 'this flow requires a justification',
      'justification',
    );
  }
  if (!flow.breakGlass && flow.workingHours !== undefined && !withinWorkingHours(flow.workingHours, now)) {
    const wh = flow.workingHours;
    throw new PolicyError(
      `requests under this flow are only accepted ${wh.start}–${wh.end} (${wh.timezone}) on ISO weekdays ${wh.days.join(',')}`,
    );
  }

  // An on-call requestor's access ends with their shift: the duration is capped at the shift's end (whole minutes;
  // the workflow also caps expiresAt at `onCall.end`), and a shift with less than a minute left admits nothing.
  let durationMinutes = input.durationMinutes;
  if (onCall?.end !== undefined && onCall.end !== null) {
    const left = Math.floor((Date.parse(onCall.end) - now.getTime()) / 60_000);
    if (left < 1) {
      throw new ForbiddenError(
        `you may not request access under flow ${flow.id}: your on-call shift ends at ${onCall.end}`,
        'flowId',
      );
    }
    durationMinutes = Math.min(durationMinutes, left);
  }

  const units = resolveUnits(input, ctx);

  const at = now.toISOString();
  const auto = flow.approval.mode === 'auto' || flow.breakGlass;
  const unitOwners = auto ? undefined : ownersOf(input, units, ctx.integrations, flow, [requester.sub, grantee.sub]);
  const request: AccessRequest = {
    id: ctx.id,
    tickets: {},
    requester,
    grantee,
    flowId: flow.id,
    flowVersion: flow.version,
    flow,
    units,
    // checkOffered (in resolveUnits) found every unit's integration.
    unitTypes: units.map((u) => ctx.integrations.get(u.integrationId)?.type ?? 'postgresql'),
    ...(unitOwners === undefined ? {} : { unitOwners }),
    durationMinutes,
    ...(onCall === undefined
      ? {}
      : {
          onCall: {
            provider: onCall.provider,
            ...(onCall.schedule === undefined ? {} : { schedule: onCall.schedule }),
            ...(onCall.escalationPolicy === undefined ? {} : { escalationPolicy: onCall.escalationPolicy }),
            ...(onCall.level === undefined ? {} : { level: onCall.level }),
            start: onCall.start,
            end: onCall.end,
            ...(durationMinutes < input.durationMinutes ? { askedMinutes: input.durationMinutes } : {}),
          },
        }),
    status: auto ? 'APPROVED' : 'PENDING',
    votes: [],
    createdAt: at,
    extensions: [],
    grants: [],
    attempt: 0,
    created: { by: requester.sub, channel: ctx.channel, action: 'create', at },
    lastChange: { by: requester.sub, channel: ctx.channel, action: 'create', at },
    version: 1,
  };
  if (input.bundle !== undefined) request.bundle = input.bundle;
  if (input.justification !== undefined) request.justification = input.justification;
  if (auto) {
    request.decision = {
      outcome: 'auto',
      by: SYSTEM_SUBJECT,
      channel: ctx.channel,
      at,
      reason: flow.breakGlass ? 'break-glass flow' : 'self-serve flow',
    };
  } else if (flow.approval.mode === 'manual') {
    request.approvalDeadline = new Date(now.getTime() + flow.approval.timeoutMinutes * 60_000).toISOString();
  }
  return request;
}

/**
 * The owners of each unit, fixed on the request, when an approver set of the flow (or an escalation tier) names the
 * owners: the resource's own owners, else its integration's. A unit that nobody but the requester or the grantee owns
 * could never get its owners' approval, so the request is refused here (422, naming the unit) rather than left
 * pending until it times out. Undefined when no set names the owners.
 */
function ownersOf(
  input: CreateRequestInput,
  units: AccessUnit[],
  integrations: ReadonlyMap<string, Integration>,
  flow: AccessFlow,
  excluded: string[],
): NonNullable<AccessRequest['unitOwners']> | undefined {
  const policy = flow.approval;
  if (policy.mode !== 'manual') return undefined;
  const sets = [...policy.sets, ...(policy.escalation?.tiers ?? [])];
  if (!sets.some((set) => set.owners === true)) return undefined;
  return units.map((unit, i) => {
    // resolveUnits (checkOffered) found the integration and the resource of every unit.
    const integration = integrations.get(unit.integrationId);
    const own = integration?.resources.find((r) => r.id === unit.resource)?.owners ?? [];
    const owners =
      own.length > 0
        ? { owners: [...own], source: 'resource' as const }
        : { owners: [...(integration?.owners ?? [])], source: 'integration' as const };
    if (!owners.owners.some((o) => !excluded.includes(o))) {
      const field = input.bundle !== undefined ? 'bundle' : input.targets === undefined ? 'targets' : `targets.${i}`;
      throw new PolicyError(
        `flow ${flow.id} asks the owners to approve, and ${unit.resource} of integration ${unit.integrationId} has ` +
          `no owner who may approve this request (${owners.owners.length === 0 ? 'neither the resource nor the integration has owners' : 'its only owners are the requester or the grantee'}): an admin must set its owners`,
        field,
      );
    }
    return owners;
  });
}

function granteeFromInput(input: CreateRequestInput): Identity {
  const named = input.grantee;
  if (named === undefined) throw new Error('buildRequest: no grantee in the input');
  return { sub: named.sub, email: named.email, groups: [] };
}

/** The access units a request asks for, each checked against the flow and the integrations. */
function resolveUnits(input: CreateRequestInput, ctx: BuildContext): AccessUnit[] {
  const { flow } = ctx;
  if (input.bundle !== undefined) {
    if (!flow.bundles.includes(input.bundle)) {
      throw new PolicyError(`bundle ${input.bundle} is not offered by flow ${flow.id}`, 'bundle');
    }
    const bundle = ctx.bundle;
    if (bundle === undefined || bundle.id !== input.bundle || bundle.deleted === true) {
      throw new NotFoundError(`bundle ${input.bundle} not found`, 'bundle');
    }
    for (const unit of bundle.units) checkOffered(unit, ctx.integrations, 'bundle');
    return bundle.units.map((u) => ({ ...u }));
  }

  if (input.targets === undefined) {
    const [only, ...others] = flow.targets;
    if (only === undefined || others.length > 0 || flow.bundles.length > 0) {
      throw new ValidationError('this flow offers several targets: say which ones (targets) or a bundle', 'targets');
    }
    checkOffered(only, ctx.integrations, 'targets');
    return [{ ...only }];
  }

  const units: AccessUnit[] = [];
  input.targets.forEach((target, i) => {
    const field = `targets.${i}`;
    const matches = flow.targets.filter(
      (t) =>
        t.resource === target.resource &&
        t.permission === target.permission &&
        (target.integrationId === undefined || t.integrationId === target.integrationId),
    );
    const [unit, ...more] = matches;
    if (unit === undefined) {
      // Name what is wrong: the integration (the flow offers this elsewhere), the permission, or the resource.
      const offered = (t: AccessUnit) => t.resource === target.resource && t.permission === target.permission;
      const wrong = flow.targets.some(offered)
        ? 'integrationId'
        : flow.targets.some((t) => t.resource === target.resource)
          ? 'permission'
          : 'resource';
      throw new PolicyError(
        `${target.permission} on ${target.resource} is not offered by flow ${flow.id}`,
        `${field}.${wrong}`,
      );
    }
    if (more.length > 0) {
      throw new ValidationError(
        `${target.permission} on ${target.resource} is offered by several integrations: give integrationId`,
        `${field}.integrationId`,
      );
    }
    if (units.some((u) => sameUnit(u, unit))) {
      throw new ValidationError(`${target.permission} on ${target.resource} is asked for twice`, field);
    }
    checkOffered(unit, ctx.integrations, field);
    units.push({ ...unit });
  });
  return units;
}

/** The unit's integration must exist (not deleted) and still offer the resource and permission. */
function checkOffered(unit: AccessUnit, integrations: ReadonlyMap<string, Integration>, field: string): void {
  const integration = integrations.get(unit.integrationId);
  if (integration === undefined || integration.deleted === true) {
    throw new NotFoundError(`integration ${unit.integrationId} not found`, field);
  }
  const resource = integration.resources.find((r) => r.id === unit.resource);
  if (resource === undefined) {
    throw new NotFoundError(
      `resource ${unit.resource} not found in integration ${unit.integrationId}`,
      field === 'targets' ? field : `${field}.resource`,
    );
  }
  if (!resource.permissions.some((p) => p.id === unit.permission)) {
    throw new NotFoundError(
      `permission ${unit.permission} not found on resource ${unit.resource} of integration ${unit.integrationId}`,
      field === 'targets' ? field : `${field}.permission`,
    );
  }
}
