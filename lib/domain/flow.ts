import * as z from 'zod';
import { AccessUnit } from './bundle.ts';
import { ChangeRecord, GroupName, Slug, Subject } from './common.ts';
import { Line, Text } from './text.ts';

/**
 * Whoever is on call in a configured on-call provider (infra/stint.config.ts `oncall[].name`, docs/oncall.md): a
 * PagerDuty schedule or escalation policy (optionally one escalation level), or an Opsgenie schedule. Admin writes
 * check that `provider` is configured (lib/services/admin.ts); who is on call is asked at the moment it matters
 * (a vote, a request), never stored on the flow.
 */
export const OnCallRef = z
  .strictObject({
    provider: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'the name of a configured on-call provider'),
    /** PagerDuty schedule id (P…), Opsgenie schedule id (a UUID) or name. */
    schedule: Line.min(1).max(200).optional(),
    /** PagerDuty escalation policy id (P…). */
    escalationPolicy: Line.min(1).max(200).optional(),
    /** PagerDuty escalation level (1 = first responders); without it every level counts. */
    level: z.number().int().min(1).max(20).optional(),
  })
  .refine((q) => q.schedule !== undefined || q.escalationPolicy !== undefined, {
    message: 'names a schedule or an escalation policy',
    path: ['schedule'],
  });
export type OnCallRef = z.infer<typeof OnCallRef>;

/** A set of people who may approve: named users, members of groups, the requester's manager, the owners, on-call. */
export const ApproverSet = z.strictObject({
  name: Line.min(1).max(100).optional(),
  users: z.array(Subject).max(100).default([]),
  groups: z.array(GroupName).max(50).default([]),
  /** The requester's manager (identity directory, SCIM enterprise `manager`) may approve; absent = false. */
  manager: z.boolean().optional(),
  /**
   * The owners of the requested resources may approve, each for the resources they own (a resource without owners
   * of its own: its integration's owners). The owners are fixed on the request when it is made
   * (`AccessRequest.unitOwners`), and the set approves only once every requested resource has its owners' approval:
   * see lib/domain/approvals.ts. Absent = false.
   */
  owners: z.boolean().optional(),
  /**
   * Whoever is on call in this schedule or escalation policy at the moment of their vote may approve (matched by
   * email, lower-cased). A provider that cannot answer admits nobody through this set (fail closed); the other sets
   * work as usual. See lib/domain/approvals.ts.
   */
  oncall: OnCallRef.optional(),
});
export type ApproverSet = z.infer<typeof ApproverSet>;

/**
 * How many approvals decide a request:
 * - `anyOf`: one approval from anyone in any set;
 * - `allOf`: at least one approval from each set;
 * - `quorum`: `count` distinct approvers from the union of the sets.
 * A single reject by an eligible approver rejects the request in every rule.
 */
export const ApprovalRule = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('anyOf') }),
  z.strictObject({ type: z.literal('allOf') }),
  z.strictObject({ type: z.literal('quorum'), count: z.number().int().min(1).max(20) }),
]);
export type ApprovalRule = z.infer<typeof ApprovalRule>;

/**
 * Escalation: while a request is PENDING, tier k (1-based) opens `k × everyMinutes` after creation; the
 * reconciler records the reached tier on the request (`escalation.tier`) and Slack DMs the new tier's members.
 * Tier 0 is the policy's own `sets`. A tier's members are eligible approvers only once their tier is reached (as
 * recorded on the request, never from the clock alone); earlier tiers stay eligible. See approvals.ts for how a
 * tier's vote counts under each rule.
 */
export const Escalation = z.strictObject({
  everyMinutes: z
    .number()
    .int()
    .min(1)
    .max(60 * 24 * 7),
  tiers: z.array(ApproverSet).min(1).max(5),
});
export type Escalation = z.infer<typeof Escalation>;

export const ApprovalPolicy = z.discriminatedUnion('mode', [
  /** Self-serve: granted on request, no approver. */
  z.strictObject({ mode: z.literal('auto') }),
  z.strictObject({
    mode: z.literal('manual'),
    sets: z.array(ApproverSet).min(1).max(10),
    rule: ApprovalRule,
    /** Minutes before a pending request times out (TIMED_OUT). */
    timeoutMinutes: z
      .number()
      .int()
      .min(1)
      .max(60 * 24 * 14),
    reasonRequired: z.boolean().default(false),
    /** Ordered approver tiers notified one after another while nobody decides; absent = no escalation. */
    escalation: Escalation.optional(),
  }),
]);
export type ApprovalPolicy = z.infer<typeof ApprovalPolicy>;

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const HhMm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:MM (24h)');

/** Requests may only be made inside this window (break-glass flows ignore it). */
export const WorkingHours = z.strictObject({
  timezone: z.string().min(1).max(64).refine(isTimeZone, 'an IANA time zone, e.g. Europe/Paris'),
  /** ISO weekdays, 1 = Monday … 7 = Sunday. */
  days: z.array(z.number().int().min(1).max(7)).min(1).max(7),
  start: HhMm,
  end: HhMm,
});
export type WorkingHours = z.infer<typeof WorkingHours>;

const JiraStatus = Line.trim().min(1).max(255);

/**
 * Jira as the approval channel: the request's ticket, opened by the `jira` target named here, is the
 * approval vehicle. When someone moves it to one of `approveStatuses` (or `rejectStatuses`), Stint re-reads the issue
 * and its changelog from Jira, maps the person who made that transition to a Stint identity and records their vote
 * (channel `jira`) under this flow's approval policy, exactly as an API vote. Status names compare case-insensitively.
 */
export const JiraApproval = z
  .strictObject({
    /** Name of a `jira` delivery target (infra/stint.config.ts `targets`) whose issues carry this flow's requests. */
    target: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'a target name (lowercase letters, digits and "-")'),
    /** Statuses that approve, e.g. `["Approved"]`. */
    approveStatuses: z.array(JiraStatus).min(1).max(20),
    /** Statuses that reject, e.g. `["Rejected", "Won't Do"]`. */
    rejectStatuses: z.array(JiraStatus).max(20).default([]),
  })
  .refine(
    (j) => {
      const approve = new Set(j.approveStatuses.map((s) => s.toLowerCase()));
      return !j.rejectStatuses.some((s) => approve.has(s.toLowerCase()));
    },
    { path: ['rejectStatuses'], message: 'a status cannot both approve and reject' },
  );
export type JiraApproval = z.infer<typeof JiraApproval>;

export const FlowInput = z
  .strictObject({
    name: Line.min(1).max(200),
    description: Text.max(2000).optional(),
    requestors: z.strictObject({
      everyone: z.boolean().default(false),
      users: z.array(Subject).max(500).default([]),
      groups: z.array(GroupName).max(100).default([]),
      /**
       * Whoever is on call in one of these (at request time) may request; the duration is capped at the end of
       * their shift and the request records the shift it relied on (AccessRequest.onCall). Absent = none.
       */
      oncall: z.array(OnCallRef).min(1).max(5).optional(),
    }),
    /** Grantable units; a request picks a subset (or all when there is one). */
    targets: z.array(AccessUnit).max(200).default([]),
    /** Bundles a request may ask for as a whole. */
    bundles: z.array(Slug).max(50).default([]),
    approval: ApprovalPolicy,
    defaultMinutes: z.number().int().min(1),
    maxMinutes: z
      .number()
      .int()
      .min(1)
      .max(60 * 24 * 90),
    justificationRequired: z.boolean().default(true),
    maxExtensions: z.number().int().min(0).max(20).default(0),
    workingHours: WorkingHours.optional(),
    /** Break-glass: auto-approved, justification mandatory, high-severity events. */
    breakGlass: z.boolean().default(false),
    labels: z.record(Line.max(64), Line.max(256)).default({}),
    /** Slack channel id (C…/G…) where approval requests are posted, besides the approvers' DMs. */
    slackChannel: z
      .string()
      .regex(/^[CG][A-Z0-9]{2,31}$/, 'a Slack channel id (C… or G…)')
      .optional(),
    /**
     * Microsoft Teams channel id (`19:…@thread.tacv2`) where approval cards are posted as a new thread, besides the
     * approvers' 1:1 chats. The bot must be installed in the channel's team.
     */
    teamsChannel: z
      .string()
      .max(256)
      .regex(/^19:[A-Za-z0-9_.=-]+@thread\.(tacv2|skype)$/, 'a Teams channel id (19:…@thread.tacv2)')
      .optional(),
    /** Approvals by Jira transitions on the request's ticket; absent = no Jira approvals. */
    jiraApproval: JiraApproval.optional(),
  })
  .refine((f) => f.defaultMinutes <= f.maxMinutes, { path: ['defaultMinutes'], message: 'must be ≤ maxMinutes' })
  .refine((f) => f.targets.length > 0 || f.bundles.length > 0, {
    path: ['targets'],
    message: 'a flow needs at least one target or bundle',
  });
export type FlowInput = z.infer<typeof FlowInput>;

export const AccessFlow = z.object({
  ...FlowInput.shape,
  id: Slug,
  version: z.number().int().positive(),
  lastChange: ChangeRecord,
  /** Soft delete (see Integration.deleted). */
  deleted: z.boolean().optional(),
});
export type AccessFlow = z.infer<typeof AccessFlow>;
