import type { ChatAccount, DirectoryUser, LinkingDirectory } from '#lib/directory/types.ts';
import type { Identity } from '#lib/domain/identity.ts';
import { identityOfDirectoryUser } from '#lib/identity/resolver.ts';
import { logger } from '#lib/observability/logger.ts';
import type { SlackClient } from './client.ts';

export type { LinkingDirectory };

/**
 * The Stint identity behind a Slack user: the linked account first; else Slack's profile email (users.info) →
 * the directory user with that email, and the account is linked for next time. Groups and manager by the rule every
 * caller shares (lib/identity/resolver.ts). Undefined when no active Stint user matches: the caller says so and
 * records nothing.
 */
export async function slackIdentity(
  deps: { directory: LinkingDirectory; slack: Pick<SlackClient, 'userInfo'> },
  slackUser: { teamId: string; userId: string },
): Promise<Identity | undefined> {
  const account: ChatAccount = { kind: 'slack', teamId: slackUser.teamId, userId: slackUser.userId };
  let user: DirectoryUser | undefined = await deps.directory.userByAccount(account);
  if (user === undefined) {
    const profile = await deps.slack.userInfo(slackUser.userId);
    // A user of another workspace (Slack Connect) is not trusted by email.
    if (profile?.email === undefined || (profile.teamId !== undefined && profile.teamId !== slackUser.teamId)) {
      return undefined;
    }
    user = await deps.directory.userByEmail(profile.email);
    if (user === undefined) return undefined;
    if (deps.directory.linkAccount !== undefined && user.active) {
      try {
        await deps.directory.linkAccount(user.id, account);
      } catch (error) {
        // Linking is an optimisation: the next click looks the email up again.
        logger.warn('could not link the Slack account', { userId: user.id, error: errorName(error) });
      }
    }
  }
  return identityOfDirectoryUser(deps.directory, user.id);
}

export function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'unknown';
}
