import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { StintConfig } from '#infra/config.ts';
import { TABLE } from '#lib/store/table.ts';

/**
 * Stint's state: the one DynamoDB table (shape from lib/store/table.ts, stream on for the audit publisher)
 * and the key that seals issued credentials.
 */
export class Data extends Construct {
  readonly table: dynamodb.TableV2;
  /** A generated 64-character string; only get-access, grant and revoke may read it. */
  readonly credentialsKey: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: { readonly config: StintConfig }) {
    super(scope, id);
    const retain = props.config.removalPolicy === 'retain';
    const removalPolicy = retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    const key = (name: string): dynamodb.Attribute => ({ name, type: dynamodb.AttributeType.STRING });
    this.table = new dynamodb.TableV2(this, 'Table', {
      partitionKey: key(TABLE.partitionKey),
      sortKey: key(TABLE.sortKey),
      globalSecondaryIndexes: TABLE.indexes.map((index) => ({
        indexName: index.name,
        partitionKey: key(index.partitionKey),
        sortKey: key(index.sortKey),
        projectionType: dynamodb.ProjectionType.ALL,
      })),
      timeToLiveAttribute: TABLE.ttlAttribute,
      dynamoStream: dynamodb.StreamViewType[TABLE.streamView],
      billing: dynamodb.Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // With `removalPolicy: 'destroy'` (test stacks) the table must be deletable.
      deletionProtection: retain,
      removalPolicy,
    });

    this.credentialsKey = new secretsmanager.Secret(this, 'CredentialsKey', {
      description: 'Stint: key that seals credentials issued to grantees (read by get-access, grant, revoke)',
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
      removalPolicy,
    });
    acknowledgeRotation(this.credentialsKey);
  }
}

function acknowledgeRotation(secret: secretsmanager.Secret): void {
  Validations.of(secret).acknowledge({
    id: 'AwsSolutions-SMG4',
    reason:
      'The sealing key is not rotated automatically: rotating it would make the credentials of grants still ' +
      'ACTIVE unreadable to their grantees. Sealed credentials live only as long as a grant and are erased at revoke.',
  });
}
