import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Aws, CfnElement, type Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct, type IConstruct } from 'constructs';
import { oncallEnvironment, type StintConfig } from '#infra/config.ts';
import type { TableAction } from '#lib/store/access.ts';

/** The repository root: entries are given relative to it. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** CloudFormation Metadata key on every AWS::Lambda::Function: the repo-relative source of its handler. */
export const ENTRY_METADATA_KEY = 'stint:entry';

/** POWERTOOLS_SERVICE_NAME of every function; Powertools Metrics adds it as the `service` dimension. */
export const SERVICE_NAME = 'stint';
/** POWERTOOLS_METRICS_NAMESPACE of every function. */
export const METRICS_NAMESPACE = 'Stint';

/**
 * ESM output still meets CommonJS dependencies that call `require` (pg, the AWS SDK's deps): give the module a
 * real `require`. The alias avoids clashing with a bundled `createRequire` import.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __stintCreateRequire } from 'node:module'; const require = __stintCreateRequire(import.meta.url);";

/**
 * Modules a Lambda bundle replaces (esbuild `alias`, paths relative to the repository root): the SDK's default
 * credential chain by the environment credentials Lambda provides (lib/aws/lambda-credentials.ts).
 */
export const BUNDLE_ALIASES = { '@aws-sdk/credential-provider-node': './lib/aws/lambda-credentials.ts' } as const;

export type StintFunctionProps = {
  /** Repo-relative path of the handler, e.g. `functions/api/create-request.ts` (exports `handler`). */
  readonly entry: string;
  readonly description: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly config: StintConfig;
  /** Run inside the configured VPC (functions that reach databases); ignored when the config has no `vpc`. */
  readonly inVpc?: boolean;
};

/**
 * The one house construct for Lambda functions: Node 22 on arm64, bundled to ESM with source maps, explicit
 * memory and timeout, its own log group with retention, X-Ray tracing, the common environment of
 * lib/config.ts, and a role that starts with nothing but writing to its own log group. Access is added with
 * the `grant*` methods, each of which also sets the environment variable the handler reads.
 */
export class StintFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly role: iam.Role;
  readonly logs: logs.LogGroup;
  readonly entry: string;

  constructor(scope: Construct, id: string, props: StintFunctionProps) {
    super(scope, id);
    const { config } = props;
    if (!/^functions\/[a-z0-9/-]+\.ts$/.test(props.entry)) {
      throw new Error(`StintFunction ${id}: entry must be a repo-relative functions/**.ts path, got ${props.entry}`);
    }
    const entryPath = join(REPO_ROOT, props.entry);
    if (!existsSync(entryPath)) throw new Error(`StintFunction ${id}: entry file ${props.entry} does not exist`);
    this.entry = props.entry;

    const removalPolicy = config.removalPolicy === 'retain' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    this.logs = new logs.LogGroup(this, 'Logs', { retention: config.logRetentionDays, removalPolicy });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Stint ${props.entry}`,
    });
    this.logs.grantWrite(this.role);

    const vpc = props.inVpc === true ? config.vpc : undefined;
    const network = vpc === undefined ? {} : this.network(vpc);

    this.fn = new NodejsFunction(this, 'Function', {
      entry: entryPath,
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: join(REPO_ROOT, 'package-lock.json'),
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logs,
      tracing: lambda.Tracing.ACTIVE,
      environment: {
        STINT_ADMIN_GROUP: config.adminGroup,
        STINT_AUDITOR_GROUP: config.auditorGroup,
        STINT_SECRETS_PREFIX: config.secretsPrefix,
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        NODE_OPTIONS: '--enable-source-maps',
        // Lambda's Node.js 20+ runtimes do not trust Amazon's own CAs (RDS among them) unless told to; the
        // PostgreSQL driver verifies the server certificate (sslmode verify-full) against this bundle.
        NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
      },
      bundling: {
        format: OutputFormat.ESM,
        mainFields: ['module', 'main'],
        target: 'node22',
        banner: ESM_REQUIRE_BANNER,
        sourceMap: true,
        sourcesContent: false,
        minify: true,
        // Bundle the pinned @aws-sdk/* versions rather than the runtime's; pg's optional native driver is unused.
        externalModules: ['pg-native'],
        esbuildArgs: {
          '--alias': Object.entries(BUNDLE_ALIASES)
            .map(([from, to]) => `${from}=${to}`)
            .join(','),
        },
      },
      ...network,
    });

    const cfn = this.fn.node.defaultChild;
    if (!(cfn instanceof lambda.CfnFunction)) throw new Error(`StintFunction ${id}: no AWS::Lambda::Function`);
    cfn.addMetadata(ENTRY_METADATA_KEY, props.entry);

    Validations.of(this).acknowledge(
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'X-Ray (xray:PutTraceSegments, xray:PutTelemetryRecords) and, for functions in a VPC, the ENI actions ' +
          'Lambda needs (ec2:CreateNetworkInterface, ...) support no resource-level permissions.',
      },
      {
        id: 'AwsSolutions-L1',
        reason:
          'Pinned to nodejs22.x on purpose: the local runtime runs the same handlers on Node 22, and a runtime ' +
          'upgrade is a deliberate, tested change rather than a drift at synth.',
      },
    );
  }

  private network(
    vpc: NonNullable<StintConfig['vpc']>,
  ): Pick<lambda.FunctionProps, 'vpc' | 'vpcSubnets' | 'securityGroups'> {
    const subnets = vpc.subnetIds.map((subnetId, i) => ec2.Subnet.fromSubnetId(this, `Subnet${i}`, subnetId));
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [
          'ec2:CreateNetworkInterface',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeSubnets',
          'ec2:DeleteNetworkInterface',
          'ec2:AssignPrivateIpAddresses',
          'ec2:UnassignPrivateIpAddresses',
        ],
        resources: ['*'],
      }),
    );
    return {
      vpc: ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
        vpcId: vpc.vpcId,
        availabilityZones: Stack.of(this).availabilityZones.slice(0, subnets.length),
      }),
      vpcSubnets: { subnets },
      securityGroups: vpc.securityGroupIds.map((sgId, i) =>
        ec2.SecurityGroup.fromSecurityGroupId(this, `SecurityGroup${i}`, sgId, { mutable: false }),
      ),
    };
  }

  /**
   * Exactly `actions` on the table (lib/store/access.ts): the item actions on the table, `Query` on the table and
   * `Query:<index>` on that index only. `leadingKeys` (patterns of the partition key, `REQUEST#*`) further limits
   * the item actions to items whose partition key matches one of them (`dynamodb:LeadingKeys`); it is for functions
   * that never Query. Sets STINT_TABLE_NAME.
   */
  grantTable(
    table: ITableV2,
    actions: readonly TableAction[],
    options: { leadingKeys?: readonly string[] } = {},
  ): this {
    if (actions.length === 0) throw new Error(`${this.entry}: grantTable needs at least one action`);
    const queries = actions.filter((a) => a === 'Query' || a.startsWith('Query:'));
    const items = actions.filter((a) => !queries.includes(a));
    const { leadingKeys } = options;
    if (leadingKeys !== undefined && (queries.length > 0 || leadingKeys.length === 0)) {
      throw new Error(`${this.entry}: leadingKeys needs item actions only and at least one pattern`);
    }
    if (items.length > 0) {
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: items.map((a) => `dynamodb:${a}`),
          resources: [table.tableArn],
          ...(leadingKeys === undefined
            ? {}
            : { conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...leadingKeys] } } }),
        }),
      );
    }
    if (queries.length > 0) {
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['dynamodb:Query'],
          resources: queries.map((q) => (q === 'Query' ? table.tableArn : `${table.tableArn}/index/${q.slice(6)}`)),
        }),
      );
    }
    this.fn.addEnvironment('STINT_TABLE_NAME', table.tableName);
    return this;
  }

  /** states:StartExecution on the state machine; sets STINT_STATE_MACHINE_ARN. */
  grantStartExecution(stateMachine: IStateMachine): this {
    stateMachine.grantStartExecution(this.fn);
    this.fn.addEnvironment('STINT_STATE_MACHINE_ARN', stateMachine.stateMachineArn);
    return this;
  }

  /**
   * states:SendTaskSuccess (`success`: resume a wait) and/or SendTaskFailure (`failure`: end it with an error) on the
   * state machine, as the function's code calls them; sets STINT_STATE_MACHINE_ARN.
   */
  grantTaskTokens(stateMachine: IStateMachine, results: readonly ('success' | 'failure')[]): this {
    if (results.length === 0) throw new Error(`${this.entry}: grantTaskTokens needs success and/or failure`);
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: results.map((r) => (r === 'success' ? 'states:SendTaskSuccess' : 'states:SendTaskFailure')),
        resources: [stateMachine.stateMachineArn],
      }),
    );
    this.fn.addEnvironment('STINT_STATE_MACHINE_ARN', stateMachine.stateMachineArn);
    return this;
  }

  /**
   * SendTaskSuccess / SendTaskFailure on the state machine named `stateMachineName`, for a function the state
   * machine's own definition invokes (register-token): granting by the construct's ARN would make the state machine
   * depend on the role and the role on the state machine. Sets no variable: ending a wait needs only its token.
   */
  grantTaskTokensByName(stateMachineName: string, results: readonly ('success' | 'failure')[]): this {
    if (results.length === 0) throw new Error(`${this.entry}: grantTaskTokensByName needs success and/or failure`);
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: results.map((r) => (r === 'success' ? 'states:SendTaskSuccess' : 'states:SendTaskFailure')),
        resources: [`arn:${Aws.PARTITION}:states:${Aws.REGION}:${Aws.ACCOUNT_ID}:stateMachine:${stateMachineName}`],
      }),
    );
    return this;
  }

  /**
   * states:DescribeExecution on the executions of the state machine named `stateMachineName` (a plain string,
   * so the grant and its acknowledgement name the same resource); sets STINT_STATE_MACHINE_ARN.
   */
  grantDescribeExecutions(stateMachine: IStateMachine, stateMachineName: string): this {
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['states:DescribeExecution'],
        resources: [`arn:${Aws.PARTITION}:states:${Aws.REGION}:${Aws.ACCOUNT_ID}:execution:${stateMachineName}:*`],
      }),
    );
    this.fn.addEnvironment('STINT_STATE_MACHINE_ARN', stateMachine.stateMachineArn);
    Validations.of(this).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${stateMachineName}:*]`,
      reason:
        'Execution names are request ids, unknown at synth; the grant covers executions of this one state machine.',
    });
    return this;
  }

  /** Read the key that seals issued credentials; sets STINT_CREDENTIALS_KEY_REF to its ARN. */
  grantCredentialsKey(secret: ISecret): this {
    secret.grantRead(this.fn);
    this.fn.addEnvironment('STINT_CREDENTIALS_KEY_REF', secret.secretArn);
    return this;
  }

  /**
   * The configured on-call providers (docs/oncall.md) for a function that asks who is on call (votes, notifications,
   * request creation): STINT_ONCALL (the non-secret part) and secretsmanager:GetSecretValue on exactly the providers'
   * API key ARNs (local `env:`/`file:` references need none). `keys: false`: the names only (a function that checks a
   * flow names configured providers, and never calls them). Nothing when no provider is configured.
   */
  grantOnCall(config: StintConfig, options: { keys: boolean } = { keys: true }): this {
    if (config.oncall.length === 0) return this;
    this.fn.addEnvironment('STINT_ONCALL', oncallEnvironment(config.oncall));
    const arns = [...new Set(config.oncall.map((p) => p.secretRef).filter((ref) => ref.startsWith('arn:')))];
    if (options.keys && arns.length > 0) {
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: arns }),
      );
    }
    return this;
  }

  /** secretsmanager:GetSecretValue on the secrets whose name starts with `prefix` (integration admin secrets). */
  grantSecretsUnderPrefix(prefix: string): this {
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
        resources: [`arn:${Aws.PARTITION}:secretsmanager:${Aws.REGION}:${Aws.ACCOUNT_ID}:secret:${prefix}*`],
      }),
    );
    Validations.of(this).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:${prefix}*]`,
      reason:
        'Operators create integration admin secrets after deployment under the configured prefix; their names ' +
        '(and the random suffix Secrets Manager appends) are unknown at synth. Nothing outside the prefix is readable.',
    });
    return this;
  }

  /** events:PutEvents on the bus; sets STINT_EVENT_BUS_NAME. */
  grantPutEvents(bus: IEventBus): this {
    bus.grantPutEventsTo(this.fn);
    this.fn.addEnvironment('STINT_EVENT_BUS_NAME', bus.eventBusName);
    return this;
  }
}

/** The CloudFormation logical id of a construct's default resource, as cdk-nag prints it in finding ids. */
export function logicalIdOf(construct: IConstruct): string {
  const cfn = construct.node.defaultChild;
  if (cfn === undefined || !CfnElement.isCfnElement(cfn))
    throw new Error(`${construct.node.path}: no default resource`);
  const stack = Stack.of(construct);
  const resolved: unknown = stack.resolve(stack.getLogicalId(cfn));
  if (typeof resolved !== 'string') throw new Error(`${construct.node.path}: logical id did not resolve to a string`);
  return resolved;
}
