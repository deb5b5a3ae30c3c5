import * as z from 'zod';
import { ChangeRecord, Email, GroupName, Subject } from '#lib/domain/common.ts';
import { Line } from '#lib/domain/text.ts';

/**
 * The identity directory: the one place policies read group membership and managers, and where
 * chat/ticket accounts are linked to Stint identities. Fed by SCIM 2.0 (Okta, Entra ID) and admin routes.
 */
/** The id patterns of the Identity Store API reference (IdentityStoreId, UserId). */
export const IDENTITY_STORE_ID = /^d-[0-9a-f]{10}$|^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const IDENTITY_STORE_USER_ID =
  /^([0-9a-f]{10}-|)[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}$/;

/** A person's user in an IAM Identity Center identity store, linked by the aws-identity-center driver. */
export const IdentityStoreAccount = z.strictObject({
  kind: z.literal('aws-identity-store'),
  identityStoreId: z.string().regex(IDENTITY_STORE_ID),
  userId: z.string().min(1).max(47).regex(IDENTITY_STORE_USER_ID),
});
export type IdentityStoreAccount = z.infer<typeof IdentityStoreAccount>;

export const ChatAccount = z.discriminatedUnion('kind', [
  /** Slack: workspace (team) id + user id. */
  z.strictObject({ kind: z.literal('slack'), teamId: Line.min(1).max(32), userId: Line.min(1).max(32) }),
  /** Microsoft Teams / Bot Framework: the Entra ID object id (aadObjectId) of the user. */
  z.strictObject({
    kind: z.literal('teams'),
    aadObjectId: z.uuid({ error: 'must be the Entra ID object id of the user (a GUID)' }),
  }),
  /** Jira Cloud: the Atlassian account id. */
  z.strictObject({ kind: z.literal('jira'), accountId: Line.min(1).max(128) }),
  /** AWS IAM Identity Center: the user id in an identity store. */
  IdentityStoreAccount,
]);
export type ChatAccount = z.infer<typeof ChatAccount>;

export const DirectoryUser = z.object({
  /** Stint subject: the same value as the JWT `sub` of this person. */
  id: Subject,
  /** SCIM userName (usually the login email). */
  userName: Line.min(1).max(256),
  /** The first is the primary email. */
  emails: z.array(Email).min(1).max(10),
  displayName: Line.max(256).optional(),
  /** Subject of the manager (SCIM enterprise extension manager.value). */
  manager: Subject.optional(),
  active: z.boolean().default(true),
  /** SCIM externalId from the identity provider. */
  externalId: Line.max(256).optional(),
  accounts: z.array(ChatAccount).max(10).default([]),
  version: z.number().int().positive(),
  lastChange: ChangeRecord,
});
export type DirectoryUser = z.infer<typeof DirectoryUser>;

export const DirectoryGroup = z.object({
  id: Line.min(1).max(128),
  /** The group name policies use (approver sets, requestors, admin group). */
  displayName: GroupName,
  members: z.array(Subject).max(10_000).default([]),
  externalId: Line.max(256).optional(),
  version: z.number().int().positive(),
  lastChange: ChangeRecord,
});
export type DirectoryGroup = z.infer<typeof DirectoryGroup>;

/** What channel callbacks and notifications need from the directory. */
export interface Directory {
  userById(id: string): Promise<DirectoryUser | undefined>;
  userByEmail(email: string): Promise<DirectoryUser | undefined>;
  userByAccount(account: ChatAccount): Promise<DirectoryUser | undefined>;
  /** Group names the user belongs to. */
  groupsOf(userId: string): Promise<string[]>;
  /** Active members of a group, by group name. */
  membersOf(groupName: string): Promise<DirectoryUser[]>;
}

/** A directory that can also link a chat account to a user (the store-backed one can; the interface may not say so). */
export type LinkingDirectory = Directory & {
  linkAccount?(userId: string, account: ChatAccount): Promise<unknown>;
};
