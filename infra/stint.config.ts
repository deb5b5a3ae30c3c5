import { defineConfig } from '#infra/config.ts';

/**
 * Stint's deployment configuration: the only file to edit before `npx cdk deploy`. Validated at synth
 * (infra/config.ts documents every field and its default).
 */
export default defineConfig({
  stackName: 'Stint',
  // Bring your own OpenID Connect issuer (Okta, Entra ID, Auth0…); omit `auth` to get a Cognito user pool.
  // auth: { issuer: 'https://example.okta.com/oauth2/default', audience: ['api://stint'] },
  // The web portal (S3 + CloudFront). With `auth`, name the portal's client at that issuer (a public client with the
  // authorization code flow and PKCE); without `auth` the stack creates it in the Cognito pool. Your own domain needs
  // an ACM certificate in us-east-1 (docs/portal.md, "A custom domain").
  // portal: {
  //   clientId: '0oa1b2c3d4e5f6g7h8i9',
  //   domainName: 'stint.example.com',
  //   certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d',
  //   priceClass: 'PriceClass_100',
  // },
  adminGroup: 'stint-admins',
  auditorGroup: 'stint-auditors',
  // Integration admin secrets (database admin logins…) are created in Secrets Manager under this prefix.
  secretsPrefix: 'stint/',
  // Functions that reach databases in private subnets (grant, revoke, …) run here when set. The subnets need a
  // route to DynamoDB, Secrets Manager and CloudWatch (VPC endpoints or NAT).
  // vpc: { vpcId: 'vpc-0123456789abcdef0', subnetIds: ['subnet-…'], securityGroupIds: ['sg-…'] },
  // alarmEmail: 'oncall@example.com',
  reconcilerRateMinutes: 5,
  // The orphan sweep (access Stint created that no live request holds; drift) runs this often.
  sweepRateMinutes: 60,
  logRetentionDays: 365,
  removalPolicy: 'retain',
  events: { busName: 'stint', archiveRetentionDays: 365 },
  // Where audit events are delivered (SIEM and ITSM). Each target gets an EventBridge rule built from its filter,
  // a queue and a dead-letter queue with an alarm (`npm run redrive -- <name>` moves dead letters back).
  // The secret is referenced by its complete Secrets Manager ARN; the endpoint must be HTTPS.
  // targets: [
  //   {
  //     name: 'splunk',
  //     kind: 'splunk-hec',
  //     endpoint: 'https://splunk.example.com:8088/services/collector/event',
  //     secretRef: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:stint/splunk-hec-AbC123',
  //     filter: { minSeverity: 'warning' },
  //   },
  // ],
});
