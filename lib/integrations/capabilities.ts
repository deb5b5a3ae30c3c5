import type { DriverType } from '#lib/workflow/contract.ts';
import type { Capabilities } from './types.ts';

/**
 * What each driver can promise, in a module of its own: the API shows it to requesters and approvers (catalog,
 * request views) without importing any driver. Each driver declares its entry as its `capabilities`.
 */

/**
 * IAM is eventually consistent: "changes … take time to become visible", so a new deny reaches every endpoint
 * after a short delay ("Changes that I make are not always immediately visible",
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency).
 * AWS gives no bound; Stint states a minute.
 */
export const IAM_PROPAGATION_SECONDS = 60;

/**
 * Propagation of a permission set's inline policy after provisioning: "a few minutes" (IAM User Guide,
 * "Disabling permissions for temporary security credentials").
 */
export const PERMISSION_SET_PROPAGATION_SECONDS = 300;

export const CAPABILITIES: Record<DriverType, Capabilities> = {
  // Revoke terminates the role's backends; VALID UNTIL ends logins on time.
  postgresql: {
    endsLiveSessions: true,
    residualSessionSeconds: 0,
    targetEnforcesExpiry: true,
    issuesCredentials: false,
  },
  // Revoke kills the user's connections (they survive DROP USER otherwise). The server drops the user at expiry only
  // when its event_scheduler is ON, which Stint cannot promise for every server: false here, and each grant's state
  // records serverExpiry (docs/integrations/mysql.md).
  mysql: { endsLiveSessions: true, residualSessionSeconds: 0, targetEnforcesExpiry: false, issuesCredentials: false },
  // The deny on identitystore:userId + aws:TokenIssueTime ends sessions opened before revoke, once it propagates.
  'aws-identity-center': {
    endsLiveSessions: true,
    residualSessionSeconds: PERMISSION_SET_PROPAGATION_SECONDS,
    targetEnforcesExpiry: false,
    issuesCredentials: false,
  },
  // STS credentials expire by themselves; revoke denies the request's sessions at once, once IAM propagates.
  'aws-iam-role': {
    endsLiveSessions: true,
    residualSessionSeconds: IAM_PROPAGATION_SECONDS,
    targetEnforcesExpiry: true,
    issuesCredentials: true,
  },
  // The customer's function decides what revoke ends and how long a session outlives it: Stint promises nothing.
  lambda: { endsLiveSessions: false, residualSessionSeconds: 0, targetEnforcesExpiry: false, issuesCredentials: false },
  // Revoke deletes the user (ACL DELUSER disconnects it) and kills its connections; Redis ACLs have no expiry, so
  // the workflow's expiry wait (and the reconciler's nudge of a grant past expiresAt) revokes on time.
  redis: { endsLiveSessions: true, residualSessionSeconds: 0, targetEnforcesExpiry: false, issuesCredentials: false },
};
