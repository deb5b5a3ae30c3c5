import type { Duration } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type { StintConfig } from '#infra/config.ts';
import type { IntegrationType } from '#lib/domain/integration.ts';

/**
 * The infrastructure of one driver type: its function (functions/workflow/driver-<type>.ts) gets its own role,
 * network placement, timeout and bundle (infra/constructs/workflow.ts builds it from this spec).
 */
export type DriverSpec = {
  readonly type: IntegrationType;
  readonly description: string;
  readonly memorySize: number;
  /** Longest single call (a step never sleeps: waiting happens in the state machine). */
  readonly timeout: Duration;
  /** Database drivers run in the configured VPC; AWS API drivers do not. */
  readonly inVpc: boolean;
  /** Reads integration admin secrets under the deployment's secrets prefix. */
  readonly readsSecrets: boolean;
  /** Reads the grantee's linked accounts in the directory and links new ones (DriverContext.directory). */
  readonly linksAccounts?: boolean;
  /** Exactly the IAM statements the driver's calls need, scoped as far as each API allows. */
  statements(config: StintConfig): iam.PolicyStatement[];
  /** cdk-nag findings on those statements, each with the reason it is acceptable. */
  acknowledgements?(config: StintConfig): { id: string; reason: string }[];
};
