import { beforeAll, describe, expect, it } from 'vitest';
import type { StintConfigInput } from '#infra/config.ts';
import { allowedActions, type CfnTemplate, lambdaFunctions, synth, tableGrants } from './synth.ts';

/**
 * The exact DynamoDB and Step Functions actions of every function, written out by hand from the calls its code makes
 * (lib/store/access.ts names them). A function that gains a call must gain its permission here and in its
 * declaration; one that holds more than it calls fails here.
 */
const secret = (name: string) => `arn:aws:secretsmanager:eu-west-1:123456789012:secret:stint/${name}-AbC123`;
const EVERYTHING: StintConfigInput = {
  stackName: 'StintTest',
  slack: { signingSecretRef: secret('slack-signing'), botTokenRef: secret('slack-bot') },
  teams: {
    appId: '6f1c2a4e-1b2c-4d3e-8f90-a1b2c3d4e5f6',
    tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
    appPasswordRef: secret('teams-bot'),
  },
  jiraApprovals: { webhookSecretRef: secret('jira-webhook') },
  targets: [
    {
      name: 'tickets',
      kind: 'jira',
      endpoint: 'https://acme.atlassian.net',
      secretRef: secret('jira'),
      options: { projectKey: 'SEC' },
    },
    {
      name: 'siem',
      kind: 'splunk-hec',
      endpoint: 'https://splunk.example.com:8088/services/collector/event',
      secretRef: secret('splunk'),
    },
  ],
};

/** Resolving the caller (userById, groupsOf): every authenticated API route. */
const IDENTITY = ['GetItem', 'Query:gsi1', 'BatchGetItem'];
const REQUEST_ITEMS = 'REQUEST#*';

type Expected = { dynamo: string[]; leadingKeys?: string[]; states?: string[] };

const EXPECTED: Record<string, Expected> = {
  'functions/api/health.ts': { dynamo: [] },
  'functions/api/auth-config.ts': { dynamo: [] },
  'functions/api/openapi.ts': { dynamo: IDENTITY },
  'functions/api/get-me.ts': { dynamo: IDENTITY },
  'functions/api/get-catalog.ts': { dynamo: IDENTITY },
  'functions/api/create-request.ts': {
    dynamo: [...IDENTITY, 'PutItem', 'BatchWriteItem'],
    states: ['StartExecution'],
  },
  'functions/api/list-requests.ts': { dynamo: [...IDENTITY, 'Query', 'Query:gsi3'] },
  'functions/api/get-request.ts': { dynamo: IDENTITY },
  'functions/api/approve-request.ts': {
    dynamo: [...IDENTITY, 'PutItem'],
    states: ['SendTaskSuccess', 'SendTaskFailure'],
  },
  'functions/api/reject-request.ts': {
    dynamo: [...IDENTITY, 'PutItem'],
    states: ['SendTaskSuccess', 'SendTaskFailure'],
  },
  'functions/api/cancel-request.ts': { dynamo: [...IDENTITY, 'PutItem'], states: ['SendTaskFailure'] },
  'functions/api/revoke-request.ts': { dynamo: [...IDENTITY, 'PutItem'], states: ['SendTaskSuccess'] },
  'functions/api/extend-request.ts': { dynamo: [...IDENTITY, 'PutItem'], states: ['SendTaskSuccess'] },
  'functions/api/get-access.ts': { dynamo: IDENTITY },
  'functions/api/list-flows.ts': { dynamo: IDENTITY },
  'functions/api/get-flow.ts': { dynamo: IDENTITY },
  'functions/api/put-flow.ts': { dynamo: [...IDENTITY, 'PutItem'] },
  'functions/api/delete-flow.ts': { dynamo: [...IDENTITY, 'UpdateItem'] },
  'functions/api/list-integrations.ts': { dynamo: IDENTITY },
  'functions/api/get-integration.ts': { dynamo: IDENTITY },
  'functions/api/discover-integration.ts': { dynamo: IDENTITY },
  'functions/api/put-integration.ts': { dynamo: [...IDENTITY, 'PutItem'] },
  'functions/api/delete-integration.ts': { dynamo: [...IDENTITY, 'UpdateItem'] },
  'functions/api/list-bundles.ts': { dynamo: IDENTITY },
  'functions/api/get-bundle.ts': { dynamo: IDENTITY },
  'functions/api/put-bundle.ts': { dynamo: [...IDENTITY, 'PutItem'] },
  'functions/api/delete-bundle.ts': { dynamo: [...IDENTITY, 'UpdateItem'] },
  'functions/api/list-directory-users.ts': { dynamo: IDENTITY },
  'functions/api/get-directory-user.ts': { dynamo: IDENTITY },
  'functions/api/put-directory-user.ts': { dynamo: [...IDENTITY, 'PutItem', 'DeleteItem'] },
  'functions/api/delete-directory-user.ts': { dynamo: [...IDENTITY, 'PutItem', 'DeleteItem', 'BatchWriteItem'] },
  'functions/api/put-directory-user-accounts.ts': { dynamo: [...IDENTITY, 'PutItem', 'DeleteItem'] },
  'functions/api/list-directory-groups.ts': { dynamo: [...IDENTITY, 'Query'] },
  'functions/api/get-directory-group.ts': { dynamo: [...IDENTITY, 'Query'] },
  'functions/api/put-directory-group.ts': {
    dynamo: [...IDENTITY, 'Query', 'PutItem', 'DeleteItem', 'BatchWriteItem'],
  },
  'functions/api/delete-directory-group.ts': {
    dynamo: [...IDENTITY, 'Query', 'PutItem', 'DeleteItem', 'BatchWriteItem'],
  },
  'functions/scim/scim-users.ts': {
    dynamo: ['GetItem', 'PutItem', 'DeleteItem', 'BatchWriteItem', 'Query:gsi1', 'Query:gsi3'],
  },
  'functions/scim/scim-groups.ts': {
    dynamo: ['GetItem', 'BatchGetItem', 'Query', 'Query:gsi1', 'PutItem', 'DeleteItem', 'BatchWriteItem'],
  },
  'functions/scim/scim-meta.ts': { dynamo: [] },
  // The integration only for requests made before their units' types were recorded on them.
  'functions/workflow/load.ts': { dynamo: ['GetItem'], leadingKeys: ['INTEGRATION#*', REQUEST_ITEMS] },
  'functions/workflow/register-token.ts': {
    // The token by one conditional UpdateItem; GetItem + PutItem only for an input without the route's version.
    dynamo: ['GetItem', 'PutItem', 'UpdateItem'],
    leadingKeys: [REQUEST_ITEMS],
    // Resumes its own wait when the request moved on since the route (granted by the state machine's name).
    states: ['SendTaskSuccess'],
  },
  'functions/workflow/time-out.ts': { dynamo: ['GetItem', 'PutItem'], leadingKeys: [REQUEST_ITEMS] },
  'functions/workflow/revoke-failed.ts': { dynamo: ['GetItem', 'PutItem'], leadingKeys: [REQUEST_ITEMS] },
  'functions/workflow/grant-failed.ts': { dynamo: ['GetItem', 'PutItem'], leadingKeys: [REQUEST_ITEMS] },
  'functions/workflow/driver-postgresql.ts': {
    dynamo: ['BatchGetItem', 'GetItem', 'PutItem', 'UpdateItem'],
    leadingKeys: ['INTEGRATION#*', 'LEASE#*', REQUEST_ITEMS],
  },
  'functions/workflow/driver-mysql.ts': {
    dynamo: ['BatchGetItem', 'GetItem', 'PutItem', 'UpdateItem'],
    leadingKeys: ['INTEGRATION#*', 'LEASE#*', REQUEST_ITEMS],
  },
  // Also the grantee's directory user and pointers: it links the Identity Store user id it found.
  'functions/workflow/driver-aws-identity-center.ts': {
    dynamo: ['BatchGetItem', 'GetItem', 'PutItem', 'UpdateItem'],
    leadingKeys: ['DPTR#*', 'DUSER#*', 'INTEGRATION#*', 'LEASE#*', REQUEST_ITEMS],
  },
  'functions/workflow/driver-aws-iam-role.ts': {
    dynamo: ['BatchGetItem', 'GetItem', 'PutItem', 'UpdateItem'],
    leadingKeys: ['INTEGRATION#*', 'LEASE#*', REQUEST_ITEMS],
  },
  'functions/workflow/driver-lambda.ts': {
    dynamo: ['BatchGetItem', 'GetItem', 'PutItem', 'UpdateItem'],
    leadingKeys: ['INTEGRATION#*', 'LEASE#*', REQUEST_ITEMS],
  },
  'functions/workflow/driver-redis.ts': {
    dynamo: ['BatchGetItem', 'GetItem', 'PutItem', 'UpdateItem'],
    leadingKeys: ['INTEGRATION#*', 'LEASE#*', REQUEST_ITEMS],
  },
  // The orphan sweep lists the integrations (gsi1).
  'functions/workflow/reconciler.ts': {
    dynamo: ['Query:gsi2', 'GetItem', 'PutItem', 'Query:gsi1'],
    states: ['StartExecution', 'DescribeExecution', 'SendTaskSuccess'],
  },
  // The stream read of its event source mapping, on the stream only (asserted below); nothing on the table.
  'functions/events/publisher.ts': { dynamo: [] },
  'functions/callbacks/slack-interactions.ts': {
    dynamo: ['GetItem', 'PutItem', 'Query:gsi1', 'BatchGetItem'],
    states: ['SendTaskSuccess', 'SendTaskFailure'],
  },
  'functions/callbacks/slack-commands.ts': {
    dynamo: ['GetItem', 'PutItem', 'Query:gsi1', 'BatchGetItem', 'BatchWriteItem'],
    states: ['StartExecution'],
  },
  'functions/notify/slack.ts': { dynamo: ['GetItem', 'Query', 'BatchGetItem', 'PutItem', 'UpdateItem', 'DeleteItem'] },
  'functions/callbacks/teams-messages.ts': {
    dynamo: ['GetItem', 'PutItem', 'Query:gsi1', 'BatchGetItem'],
    states: ['SendTaskSuccess', 'SendTaskFailure'],
  },
  'functions/notify/teams.ts': { dynamo: ['GetItem', 'Query', 'BatchGetItem', 'PutItem', 'UpdateItem', 'DeleteItem'] },
  'functions/callbacks/jira-webhook.ts': {
    dynamo: ['GetItem', 'PutItem', 'DeleteItem', 'Query:gsi1', 'BatchGetItem'],
    states: ['SendTaskSuccess', 'SendTaskFailure'],
  },
  'functions/delivery/jira.ts': { dynamo: ['GetItem', 'PutItem'], leadingKeys: [REQUEST_ITEMS] },
  'functions/delivery/splunk-hec.ts': { dynamo: [] },
};

const STREAM_READ = ['DescribeStream', 'GetRecords', 'GetShardIterator', 'ListStreams'];

let cfn: CfnTemplate;

beforeAll(() => {
  ({ cfn } = synth(EVERYTHING));
});

const entries = () => lambdaFunctions(cfn).map((f) => String(f.entry));

describe('DynamoDB grants, one function at a time', () => {
  it('lists every function of the fully configured stack in the expected table, and no other', () => {
    expect(entries().sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(Object.entries(EXPECTED))('grants %s exactly the table actions its code calls', (entry, expected) => {
    const grants = tableGrants(cfn, entry);
    const dynamo = grants.actions.filter((a) => !(entry === 'functions/events/publisher.ts' && isStreamRead(a)));
    expect(dynamo).toEqual([...expected.dynamo].sort());
    expect(grants.leadingKeys).toEqual(
      expected.leadingKeys === undefined ? undefined : [...expected.leadingKeys].sort(),
    );
  });

  it.each(Object.entries(EXPECTED))(
    'grants %s exactly the Step Functions actions its code calls',
    (entry, expected) => {
      const states = [...allowedActions(cfn, entry)].filter((a) => a.startsWith('states:')).sort();
      expect(states).toEqual((expected.states ?? []).map((a) => `states:${a}`).sort());
    },
  );

  it('grants no function Scan, a transaction, PartiQL or a wildcard action on the table', () => {
    for (const entry of entries()) {
      for (const action of allowedActions(cfn, entry)) {
        expect(action, entry).not.toMatch(/^dynamodb:(Scan|Transact|ExecuteStatement|BatchExecuteStatement|\*)|^\*$/);
      }
    }
  });

  it('lets only the publisher read the stream, and only the stream', () => {
    const readers = entries().filter((entry) => tableGrants(cfn, entry).actions.some(isStreamRead));
    expect(readers).toEqual(['functions/events/publisher.ts']);
    const publisher = tableGrants(cfn, 'functions/events/publisher.ts').actions;
    expect(publisher.map((a) => a.split('@')[0]).sort()).toEqual(STREAM_READ);
    for (const action of publisher) expect(action).toMatch(/StreamArn|\*/);
  });
});

describe('tableGrants (the helper the table relies on)', () => {
  it('spells a table and an index grant as access.ts does, and anything else as itself', () => {
    // put-directory-group: table item actions, a base-table Query and the gsi1 Query of identity resolution.
    expect(tableGrants(cfn, 'functions/api/put-directory-group.ts').actions).toContain('Query:gsi1');
    expect(tableGrants(cfn, 'functions/api/put-directory-group.ts').actions).toContain('Query');
    // The publisher's stream read is on the stream ARN, not the table: it shows with its resource.
    expect(tableGrants(cfn, 'functions/events/publisher.ts').actions.every((a) => a.includes('@'))).toBe(true);
  });
});

function isStreamRead(action: string): boolean {
  return STREAM_READ.includes(action.split('@')[0] ?? '');
}
