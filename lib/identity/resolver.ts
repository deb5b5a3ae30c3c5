import type { Directory, DirectoryUser } from '#lib/directory/types.ts';
import { ForbiddenError, UnauthenticatedError } from '#lib/domain/errors.ts';
import { Identity } from '#lib/domain/identity.ts';

/** What the resolver reads from the directory. */
export type IdentityDirectory = Pick<Directory, 'userById' | 'groupsOf'>;

/**
 * What a verified source says about a person before the directory is asked: a verified token (API) or nothing but
 * the subject (a chat or ticket user the directory itself found). Groups are exact names, never split from a string.
 */
export type ClaimedIdentity = { sub: string; email?: string; groups: readonly string[]; manager?: string };

/** Where an email comes from when neither the claimed identity nor the directory has one. */
export type ResolveOptions = { emailFallback?: () => Promise<string | undefined> };

/** The directory knows the person and has deactivated them: refused on every route and in every channel. */
export class DeactivatedUserError extends ForbiddenError {}

/**
 * The one rule that turns a claimed identity into the Stint identity every policy sees (API routes, Slack, Teams,
 * Jira, the approver index):
 * - groups: the directory's groups of the person ∪ the claimed (token) groups;
 * - manager: the directory's, else the token's;
 * - email: the token's, else the directory user's primary email, else what `emailFallback` finds (the issuer's
 *   UserInfo endpoint for an API caller, lib/identity/userinfo.ts), asked only when both are missing;
 * - a person the directory knows but has deactivated is refused (DeactivatedUserError, 403);
 * - a person the directory does not know keeps what the token says.
 * The directory is read on every call, never cached: the user item strongly consistently (a deactivation applies at
 * once), memberships through the member index (a group change applies as soon as the index has it).
 */
export async function resolveIdentity(
  directory: IdentityDirectory,
  claimed: ClaimedIdentity,
  options: ResolveOptions = {},
): Promise<Identity> {
  const { identity } = await resolveWithEntry(directory, claimed, options);
  if (identity === undefined) throw new DeactivatedUserError('your directory account is deactivated');
  return identity;
}

/**
 * The same rule, also giving the directory entry it read (undefined: the directory does not know the person), for a
 * caller that must check more of it (an on-behalf grantee's emails). `identity` is undefined for a deactivated person.
 */
export async function resolveWithEntry(
  directory: IdentityDirectory,
  claimed: ClaimedIdentity,
  options: ResolveOptions = {},
): Promise<{ entry: DirectoryUser | undefined; identity: Identity | undefined }> {
  const [entry, directoryGroups] = await lookUp(directory, claimed.sub);
  if (entry !== undefined && !entry.active) return { entry, identity: undefined };
  let source = claimed;
  if (claimed.email === undefined && entry?.emails[0] === undefined && options.emailFallback !== undefined) {
    const email = await options.emailFallback();
    if (email !== undefined) source = { ...claimed, email };
  }
  return { entry, identity: merge(source, entry, directoryGroups) };
}

/**
 * The Stint identity of a directory user a chat or ticket callback found (by linked account or email), by the same
 * rule as an API caller's. Undefined when the user is deactivated, deleted or unknown: the channel says so and
 * records nothing (there is no HTTP status to answer with there).
 */
export async function identityOfDirectoryUser(
  directory: IdentityDirectory,
  userId: string,
): Promise<Identity | undefined> {
  const [entry, directoryGroups] = await lookUp(directory, userId);
  if (entry === undefined || !entry.active) return undefined;
  return merge({ sub: entry.id, groups: [] }, entry, directoryGroups);
}

async function lookUp(directory: IdentityDirectory, sub: string): Promise<[DirectoryUser | undefined, string[]]> {
  const entry = await directory.userById(sub);
  // Directory groups count only for an active person it knows (merge): no membership read for anyone else.
  if (entry === undefined || !entry.active) return [entry, []];
  return [entry, await directory.groupsOf(sub)];
}

function merge(claimed: ClaimedIdentity, entry: DirectoryUser | undefined, directoryGroups: string[]): Identity {
  const groups = entry === undefined ? [...claimed.groups] : [...claimed.groups, ...directoryGroups];
  const email = claimed.email ?? entry?.emails[0];
  const manager = entry?.manager ?? claimed.manager;
  const parsed = Identity.safeParse({
    sub: claimed.sub,
    email,
    groups: [...new Set(groups)],
    ...(manager === undefined ? {} : { manager }),
  });
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue?.path[0] === undefined ? undefined : String(issue.path[0]);
  throw new UnauthenticatedError(
    field === 'email'
      ? "No valid email for the caller: the token has no `email` claim, the directory does not know the person and the issuer's UserInfo endpoint gave none"
      : `The caller's identity is not valid at \`${field ?? '(root)'}\`: ${issue?.message ?? 'invalid'}`,
    field,
  );
}
