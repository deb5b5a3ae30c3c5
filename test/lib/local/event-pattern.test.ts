import { describe, expect, it } from 'vitest';
import { EventPatternError, matchesEventPattern, parseEventPattern } from '#lib/local/event-pattern.ts';

// Cases written from the EventBridge user guide ("Content filtering in Amazon EventBridge event patterns",
// "Comparison operators", "Matching null values and empty strings", "Arrays in event patterns").
const ec2 = {
  version: '0',
  id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '111122223333',
  time: '2017-12-22T18:43:48Z',
  region: 'us-west-1',
  resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0'],
  detail: { 'instance-id': 'i-1234567890abcdef0', state: 'terminated' },
};
const rich = {
  source: 'custom',
  detail: {
    'c-count': 5,
    'd-count': 0,
    'x-limit': 301.8,
    'source-ip': '10.0.0.123',
    FilePath: 'dir/lib/file.png',
    LastName: '',
    responseElements: null,
    Name: 'Alice',
    flags: ['a', 'b'],
    nested: { a: { b: 'deep' } },
    enabled: true,
  },
};

const cases: [string, unknown, object, boolean][] = [
  ['exact source', { source: ['aws.ec2'] }, ec2, true],
  ['exact source, other value', { source: ['aws.s3'] }, ec2, false],
  ['any of several values', { detail: { state: ['running', 'terminated'] } }, ec2, true],
  [
    'fields are ANDed',
    {
      source: ['aws.ec2'],
      'detail-type': ['EC2 Instance State-change Notification'],
      detail: { state: ['terminated'] },
    },
    ec2,
    true,
  ],
  ['fields are ANDed, one fails', { source: ['aws.ec2'], detail: { state: ['running'] } }, ec2, false],
  ['missing field', { detail: { nothing: ['x'] } }, ec2, false],
  ['prefix', { time: [{ prefix: '2017-12-22' }] }, ec2, true],
  ['prefix, no match', { region: [{ prefix: 'us-east' }] }, ec2, false],
  ['prefix is case-sensitive', { source: [{ prefix: 'AWS.' }] }, ec2, false],
  ['prefix equals-ignore-case', { source: [{ prefix: { 'equals-ignore-case': 'AWS.EC' } }] }, ec2, true],
  ['suffix on an array element', { resources: [{ suffix: 'abcdef0' }] }, ec2, true],
  ['suffix, no match', { detail: { FilePath: [{ suffix: '.jpg' }] } }, rich, false],
  ['suffix equals-ignore-case', { detail: { FilePath: [{ suffix: { 'equals-ignore-case': '.PNG' } }] } }, rich, true],
  ['equals-ignore-case', { detail: { Name: [{ 'equals-ignore-case': 'ALICE' }] } }, rich, true],
  ['equals-ignore-case, no match', { detail: { Name: [{ 'equals-ignore-case': 'bob' }] } }, rich, false],
  ['anything-but value', { detail: { state: [{ 'anything-but': 'initializing' }] } }, ec2, true],
  ['anything-but value, excluded', { detail: { state: [{ 'anything-but': 'terminated' }] } }, ec2, false],
  ['anything-but list', { detail: { state: [{ 'anything-but': ['stopped', 'terminated'] }] } }, ec2, false],
  ['anything-but number list', { detail: { 'c-count': [{ 'anything-but': [1, 2, 3] }] } }, rich, true],
  ['anything-but prefix', { region: [{ 'anything-but': { prefix: 'us-' } }] }, ec2, false],
  ['anything-but prefix, not excluded', { region: [{ 'anything-but': { prefix: 'eu-' } }] }, ec2, true],
  ['anything-but suffix', { detail: { FilePath: [{ 'anything-but': { suffix: '.png' } }] } }, rich, false],
  [
    'anything-but equals-ignore-case',
    { detail: { state: [{ 'anything-but': { 'equals-ignore-case': ['TERMINATED'] } }] } },
    ec2,
    false,
  ],
  ['anything-but wildcard', { detail: { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] } }, rich, false],
  [
    'anything-but wildcard, not excluded',
    { detail: { FilePath: [{ 'anything-but': { wildcard: '*/bin/*' } }] } },
    rich,
    true,
  ],
  ['anything-but does not match a missing field', { detail: { missing: [{ 'anything-but': 'x' }] } }, rich, false],
  ['numeric range', { detail: { 'c-count': [{ numeric: ['>', 0, '<=', 5] }] } }, rich, true],
  ['numeric range, outside', { detail: { 'c-count': [{ numeric: ['<', 5] }] } }, rich, false],
  ['numeric equals a decimal', { detail: { 'x-limit': [{ numeric: ['=', 301.8] }] } }, rich, true],
  ['numeric greater than zero on zero', { detail: { 'd-count': [{ numeric: ['>', 0] }] } }, rich, false],
  ['numeric does not match a string', { detail: { Name: [{ numeric: ['>', 0] }] } }, rich, false],
  ['exact number', { detail: { 'c-count': [5] } }, rich, true],
  ['a number pattern does not match its string', { detail: { 'c-count': ['5'] } }, rich, false],
  ['boolean', { detail: { enabled: [true] } }, rich, true],
  ['exists true', { detail: { 'c-count': [{ exists: true }] } }, rich, true],
  ['exists true on a missing field', { detail: { missing: [{ exists: true }] } }, rich, false],
  ['exists false on a missing field', { detail: { missing: [{ exists: false }] } }, rich, true],
  ['exists false on a present field', { detail: { 'c-count': [{ exists: false }] } }, rich, false],
  ['exists false under a missing parent', { detail: { gone: { x: [{ exists: false }] } } }, rich, true],
  ['exists matches leaves only', { detail: { nested: [{ exists: true }] } }, rich, false],
  ['wildcard', { detail: { FilePath: [{ wildcard: 'dir/*.png' }] } }, rich, true],
  ['wildcard, no match', { detail: { FilePath: [{ wildcard: 'dir/*.jpg' }] } }, rich, false],
  ['wildcard with an escaped star', { detail: { FilePath: [{ wildcard: 'dir/\\*' }] } }, rich, false],
  ['cidr', { detail: { 'source-ip': [{ cidr: '10.0.0.0/24' }] } }, rich, true],
  ['cidr, outside', { detail: { 'source-ip': [{ cidr: '10.0.1.0/24' }] } }, rich, false],
  ['empty string', { detail: { LastName: [''] } }, rich, true],
  ['empty string does not match null', { detail: { responseElements: [''] } }, rich, false],
  ['null', { detail: { responseElements: [null] } }, rich, true],
  ['null does not match an empty string', { detail: { LastName: [null] } }, rich, false],
  ['nested fields', { detail: { nested: { a: { b: ['deep'] } } } }, rich, true],
  ['nested fields, missing', { detail: { nested: { a: { c: ['deep'] } } } }, rich, false],
  ['event array intersects pattern array', { detail: { flags: ['z', 'b'] } }, rich, true],
  ['event array does not intersect', { detail: { flags: ['z'] } }, rich, false],
  [
    '$or, second branch',
    { detail: { $or: [{ 'c-count': [{ numeric: ['>', 10] }] }, { 'd-count': [0] }] } },
    rich,
    true,
  ],
  ['$or, no branch', { detail: { $or: [{ 'c-count': [{ numeric: ['>', 10] }] }, { 'd-count': [1] }] } }, rich, false],
  [
    '$or at top level with another field',
    { source: ['custom'], $or: [{ detail: { Name: ['Bob'] } }, { detail: { LastName: [''] } }] },
    rich,
    true,
  ],
  ['empty pattern matches everything', {}, ec2, true],
];

describe('matchesEventPattern', () => {
  it.each(cases)('%s', (_name, pattern, event, expected) => {
    expect(matchesEventPattern(parseEventPattern(pattern), event)).toBe(expected);
  });

  it('parses a pattern given as a JSON string', () => {
    expect(matchesEventPattern(parseEventPattern('{"source":["aws.ec2"]}'), ec2)).toBe(true);
  });

  it.each([
    [{ source: 'aws.ec2' }],
    [{ source: [{ unknown: 1 }] }],
    [{ detail: { $or: [{ a: [1] }] } }],
    [{ detail: { 'c-count': [{ numeric: ['>'] }] } }],
  ])('rejects the invalid pattern %j', (pattern) => {
    expect(() => matchesEventPattern(parseEventPattern(pattern), rich)).toThrow(EventPatternError);
  });
});

/** The DynamoDB stream record of AWS's "Using event filtering with a DynamoDB event source" page. */
const ddbRecord = {
  eventID: '1',
  eventVersion: '1.0',
  dynamodb: {
    ApproximateCreationDateTime: '1678831218.0',
    Keys: { CustomerName: { S: 'AnyCompany Industries' } },
    NewImage: {
      AccountManager: { S: 'Pat Candella' },
      PaymentTerms: { S: '60 days' },
      CustomerName: { S: 'AnyCompany Industries' },
    },
    SequenceNumber: '111',
    SizeBytes: 26,
    StreamViewType: 'NEW_IMAGE',
  },
};

describe('matchesEventPattern on DynamoDB stream records (Lambda event filtering, the AWS page examples)', () => {
  it.each([
    ['a table key', { dynamodb: { Keys: { CustomerName: { S: ['AnyCompany Industries'] } } } }, true],
    ['another key value', { dynamodb: { Keys: { CustomerName: { S: ['Other Company'] } } } }, false],
    ['an attribute', { dynamodb: { NewImage: { AccountManager: { S: ['Pat Candella'] } } } }, true],
    [
      'two attributes (AND)',
      { dynamodb: { NewImage: { AccountManager: { S: ['Pat Candella'] }, PaymentTerms: { S: ['60 days'] } } } },
      true,
    ],
    [
      'two attributes, one not matching',
      { dynamodb: { NewImage: { AccountManager: { S: ['Pat Candella'] }, PaymentTerms: { S: ['30 days'] } } } },
      false,
    ],
    ['one of several values (OR)', { dynamodb: { NewImage: { PaymentTerms: { S: ['30 days', '60 days'] } } } }, true],
    ['exists on a leaf', { dynamodb: { NewImage: { AccountManager: { S: [{ exists: true }] } } } }, true],
    // `exists` applies to leaves: on the attribute's map ({ S: … }) it does not match.
    ['exists on a non-leaf', { dynamodb: { NewImage: { AccountManager: [{ exists: true }] } } }, false],
    ['does not exist, on a missing leaf', { dynamodb: { NewImage: { Address: { S: [{ exists: false }] } } } }, true],
    [
      'does not exist, on a present leaf',
      { dynamodb: { NewImage: { PaymentTerms: { S: [{ exists: false }] } } } },
      false,
    ],
    ['anything-but', { dynamodb: { NewImage: { PaymentTerms: { S: [{ 'anything-but': ['30 days'] }] } } } }, true],
    [
      'anything-but the value',
      { dynamodb: { NewImage: { PaymentTerms: { S: [{ 'anything-but': ['60 days'] }] } } } },
      false,
    ],
  ])('%s', (_name, pattern, expected) => {
    expect(matchesEventPattern(parseEventPattern(pattern), ddbRecord)).toBe(expected);
  });
});
