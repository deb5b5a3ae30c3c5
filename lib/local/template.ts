import * as z from 'zod';

/**
 * A synthesized CloudFormation template, read back for the local runtime (one code
 * path, two runtimes). Intrinsics are resolved to local stand-ins: region `local`, account `000000000000`,
 * functions and state machines named by logical id, tables and buses by their physical name when the template
 * gives one.
 */
export const LOCAL_REGION = 'local';
export const LOCAL_ACCOUNT = '000000000000';
export const LOCAL_PARTITION = 'aws';

const Resource = z.object({
  Type: z.string(),
  Properties: z.record(z.string(), z.unknown()).default({}),
  Metadata: z.record(z.string(), z.unknown()).optional(),
  Condition: z.string().optional(),
});
export type Resource = z.infer<typeof Resource>;

const TemplateJson = z.object({
  Resources: z.record(z.string(), Resource),
  Parameters: z.record(z.string(), z.object({ Default: z.unknown().optional() }).loose()).optional(),
  Mappings: z.record(z.string(), z.record(z.string(), z.record(z.string(), z.unknown()))).optional(),
  Conditions: z.record(z.string(), z.unknown()).optional(),
});

export class TemplateError extends Error {
  override readonly name = 'TemplateError';
}

export type LocalTemplate = {
  readonly resources: ReadonlyMap<string, Resource>;
  /** [logicalId, resource] of every resource of this CloudFormation type. */
  ofType(type: string): [string, Resource][];
  /** Resolves every intrinsic function in `value` to local values. */
  resolve(value: unknown): unknown;
  /** Like `resolve`, and the result must be a string. */
  resolveString(value: unknown, what: string): string;
  /** The logical id of the function a name, ARN (optionally qualified) or logical id refers to. */
  functionId(nameOrArn: string): string | undefined;
  functionArn(logicalId: string): string;
  tableName(logicalId: string): string;
  stateMachineArn(logicalId: string): string;
  /** A queue's physical name: its QueueName, else the logical id (with `.fifo` for a FIFO queue, as AWS requires). */
  queueName(logicalId: string): string;
  /** `<endpoint>/000000000000/<name>`: the URL the queue's Ref resolves to (the runtime serves SQS on `endpoint`). */
  queueUrl(logicalId: string): string;
};

export type LoadTemplateOptions = {
  /** Where the local runtime serves its AWS APIs; queue URLs are built on it (default http://localhost). */
  endpoint?: string;
};

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function loadTemplate(json: unknown, options: LoadTemplateOptions = {}): LocalTemplate {
  const parsed = TemplateJson.safeParse(json);
  if (!parsed.success) throw new TemplateError(`Not a CloudFormation template: ${parsed.error.message}`);
  const t = parsed.data;
  const resources = new Map(Object.entries(t.Resources));

  const physical = (logicalId: string, nameProp: string | undefined): string => {
    const res = resources.get(logicalId);
    const name = nameProp === undefined ? undefined : res?.Properties[nameProp];
    if (name === undefined) return logicalId;
    const resolved = resolve(name);
    if (typeof resolved !== 'string') throw new TemplateError(`${logicalId}.${nameProp} does not resolve to a string`);
    return resolved;
  };
  const tableName = (id: string) => physical(id, 'TableName');
  // Functions and state machines are named by logical id locally (their physical names are CloudFormation's).
  const functionArn = (id: string) => `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${id}`;
  const stateMachineArn = (id: string) => `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:${id}`;
  const busName = (id: string) => physical(id, 'Name');
  const queueName = (id: string) => {
    const res = resources.get(id);
    if (res?.Properties.QueueName !== undefined) return physical(id, 'QueueName');
    const fifo = resolve(res?.Properties.FifoQueue);
    return fifo === true || fifo === 'true' ? `${id}.fifo` : id;
  };
  const queueUrl = (id: string) =>
    `${(options.endpoint ?? 'http://localhost').replace(/\/$/, '')}/${LOCAL_ACCOUNT}/${queueName(id)}`;
  const arn = (service: string, rest: string) => `arn:aws:${service}:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${rest}`;

  const pseudo: Record<string, unknown> = {
    'AWS::Region': LOCAL_REGION,
    'AWS::AccountId': LOCAL_ACCOUNT,
    'AWS::Partition': LOCAL_PARTITION,
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': 'local',
    'AWS::StackId': arn('cloudformation', 'stack/local/local'),
    'AWS::NoValue': undefined,
    'AWS::NotificationARNs': [],
  };

  function ref(name: string): unknown {
    if (name in pseudo) return pseudo[name];
    const param = t.Parameters?.[name];
    if (param !== undefined) return param.Default;
    const res = resources.get(name);
    if (res === undefined) throw new TemplateError(`Ref to unknown resource or parameter ${name}`);
    switch (res.Type) {
      case 'AWS::DynamoDB::GlobalTable':
      case 'AWS::DynamoDB::Table':
        return tableName(name);
      case 'AWS::Lambda::Function':
        return name;
      case 'AWS::StepFunctions::StateMachine':
        return stateMachineArn(name);
      case 'AWS::Events::EventBus':
        return busName(name);
      case 'AWS::Events::Rule':
        return physical(name, 'Name');
      case 'AWS::SQS::Queue':
        return queueUrl(name);
      case 'AWS::SNS::Topic':
        return arn('sns', name);
      case 'AWS::SecretsManager::Secret':
        return arn('secretsmanager', `secret:${name}`);
      default:
        return name;
    }
  }

  function getAtt(id: string, attr: string): unknown {
    const res = resources.get(id);
    if (res === undefined) throw new TemplateError(`Fn::GetAtt on unknown resource ${id}`);
    switch (`${res.Type}.${attr}`) {
      case 'AWS::Lambda::Function.Arn':
        return functionArn(id);
      case 'AWS::DynamoDB::GlobalTable.Arn':
      case 'AWS::DynamoDB::Table.Arn':
        return arn('dynamodb', `table/${tableName(id)}`);
      case 'AWS::DynamoDB::GlobalTable.StreamArn':
      case 'AWS::DynamoDB::Table.StreamArn':
        return arn('dynamodb', `table/${tableName(id)}/stream/local`);
      case 'AWS::StepFunctions::StateMachine.Arn':
        return stateMachineArn(id);
      case 'AWS::StepFunctions::StateMachine.Name':
        return id;
      case 'AWS::Events::EventBus.Arn':
        return arn('events', `event-bus/${busName(id)}`);
      case 'AWS::Events::EventBus.Name':
        return busName(id);
      case 'AWS::Events::Rule.Arn':
        return arn('events', `rule/${physical(id, 'Name')}`);
      case 'AWS::SQS::Queue.Arn':
        return arn('sqs', queueName(id));
      case 'AWS::SQS::Queue.QueueName':
        return queueName(id);
      case 'AWS::SQS::Queue.QueueUrl':
        return queueUrl(id);
      case 'AWS::IAM::Role.Arn':
        return `arn:aws:iam::${LOCAL_ACCOUNT}:role/${id}`;
      default:
        // Attributes the local runtime does not model (log group ARNs, API endpoints…): a stable placeholder.
        return arn('local', `${id}/${attr}`);
    }
  }

  function sub(template: string, vars: Record<string, unknown>): string {
    return template.replace(/\$\{(!?)([^}]+)\}/g, (_m, bang: string, name: string) => {
      if (bang === '!') return `\${${name}}`;
      if (name in vars) return String(resolve(vars[name]));
      const dot = name.indexOf('.');
      if (dot > 0 && !(name in pseudo)) return String(getAtt(name.slice(0, dot), name.slice(dot + 1)));
      return String(ref(name));
    });
  }

  function condition(name: string): boolean {
    const c = t.Conditions?.[name];
    if (c === undefined) throw new TemplateError(`Unknown condition ${name}`);
    return truthy(c);
  }
  function truthy(expr: unknown): boolean {
    const v = resolve(expr);
    if (typeof v === 'boolean') return v;
    throw new TemplateError(`Condition does not resolve to a boolean: ${JSON.stringify(expr)}`);
  }

  function intrinsic(fn: string, arg: unknown): unknown {
    switch (fn) {
      case 'Ref':
        if (typeof arg !== 'string') throw new TemplateError('Ref takes a name');
        return ref(arg);
      case 'Fn::GetAtt': {
        const [id, attr] = typeof arg === 'string' ? arg.split(/\.(.*)/s) : Array.isArray(arg) ? arg : [];
        if (typeof id !== 'string' || typeof attr !== 'string') throw new TemplateError('Fn::GetAtt takes [id, attr]');
        return getAtt(id, attr);
      }
      case 'Fn::Join': {
        if (!Array.isArray(arg) || typeof arg[0] !== 'string') throw new TemplateError('Fn::Join takes [sep, list]');
        const list = resolve(arg[1]);
        if (!Array.isArray(list)) throw new TemplateError('Fn::Join list does not resolve to a list');
        return list
          .map((x) => (typeof x === 'string' || typeof x === 'number' ? String(x) : JSON.stringify(x)))
          .join(arg[0]);
      }
      case 'Fn::Sub': {
        if (typeof arg === 'string') return sub(arg, {});
        if (Array.isArray(arg) && typeof arg[0] === 'string' && isRecord(arg[1])) return sub(arg[0], arg[1]);
        throw new TemplateError('Fn::Sub takes a string or [string, vars]');
      }
      case 'Fn::Select': {
        if (!Array.isArray(arg)) throw new TemplateError('Fn::Select takes [index, list]');
        const index = Number(resolve(arg[0]));
        const list = resolve(arg[1]);
        if (!Array.isArray(list) || !(index in list)) throw new TemplateError('Fn::Select index out of range');
        return list[index];
      }
      case 'Fn::Split': {
        if (!Array.isArray(arg) || typeof arg[0] !== 'string') throw new TemplateError('Fn::Split takes [sep, string]');
        const s = resolve(arg[1]);
        if (typeof s !== 'string') throw new TemplateError('Fn::Split source does not resolve to a string');
        return s.split(arg[0]);
      }
      case 'Fn::GetAZs':
        return [`${LOCAL_REGION}a`, `${LOCAL_REGION}b`];
      case 'Fn::FindInMap': {
        if (!Array.isArray(arg)) throw new TemplateError('Fn::FindInMap takes [map, key, key]');
        const [m, k1, k2] = arg.map((a) => String(resolve(a)));
        const value = t.Mappings?.[m ?? '']?.[k1 ?? '']?.[k2 ?? ''];
        if (value === undefined) throw new TemplateError(`Fn::FindInMap: no ${m}.${k1}.${k2}`);
        return value;
      }
      case 'Fn::If': {
        if (!Array.isArray(arg) || typeof arg[0] !== 'string') throw new TemplateError('Fn::If takes [cond, a, b]');
        return resolve(condition(arg[0]) ? arg[1] : arg[2]);
      }
      case 'Fn::Equals': {
        if (!Array.isArray(arg)) throw new TemplateError('Fn::Equals takes [a, b]');
        return JSON.stringify(resolve(arg[0])) === JSON.stringify(resolve(arg[1]));
      }
      case 'Fn::Not':
        return Array.isArray(arg) ? !truthy(arg[0]) : !truthy(arg);
      case 'Fn::And':
        return Array.isArray(arg) && arg.every(truthy);
      case 'Fn::Or':
        return Array.isArray(arg) && arg.some(truthy);
      case 'Condition':
        if (typeof arg !== 'string') throw new TemplateError('Condition takes a name');
        return condition(arg);
      case 'Fn::Base64':
        return Buffer.from(String(resolve(arg))).toString('base64');
      default:
        throw new TemplateError(`Unsupported intrinsic ${fn} (local runtime)`);
    }
  }

  function resolve(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(resolve).filter((v) => v !== undefined);
    if (!isRecord(value)) return value;
    const keys = Object.keys(value);
    const only = keys[0];
    if (
      keys.length === 1 &&
      only !== undefined &&
      (only === 'Ref' || only.startsWith('Fn::') || only === 'Condition')
    ) {
      return intrinsic(only, value[only]);
    }
    const out: Record<string, unknown> = {};
    for (const k of keys) {
      const v = resolve(value[k]);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }

  return {
    resources,
    ofType: (type) => [...resources].filter(([, r]) => r.Type === type),
    resolve,
    resolveString(value, what) {
      const v = resolve(value);
      if (typeof v !== 'string') throw new TemplateError(`${what} does not resolve to a string`);
      return v;
    },
    functionId(nameOrArn) {
      const m = /^arn:aws:lambda:[^:]*:[^:]*:function:([^:]+)(?::[^:]+)?$/.exec(nameOrArn);
      const id = m?.[1] ?? nameOrArn;
      return resources.get(id)?.Type === 'AWS::Lambda::Function' ? id : undefined;
    },
    functionArn,
    tableName,
    stateMachineArn,
    queueName,
    queueUrl,
  };
}
