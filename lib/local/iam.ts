import { subscribe } from 'node:diagnostics_channel';
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import * as z from 'zod';
import { type AwsResponse, type AwsService, awsError } from './http.ts';
import { currentSandbox } from './sandbox.ts';
import { LOCAL_ACCOUNT, LOCAL_REGION, type LocalTemplate } from './template.ts';

/**
 * IAM, locally, for DynamoDB: a call a handler makes is refused, as AWS would refuse it, when the policies of the
 * calling function's role (the template's AWS::IAM::Policy resources attached to it) do not allow it. So a new
 * DynamoDB call without its permission fails the local and end-to-end tests instead of production.
 *
 * Every handler runs in this one process; the caller is the function whose sandbox the call is made in (an
 * AsyncLocalStorage set around each handler's import and invocations: lib/local/sandbox.ts). Node's
 * `http.client.request.start` diagnostics channel fires in the caller's async context once the request is on its
 * socket (its headers are already written, so none can be added): the socket's local port is recorded against the
 * caller, and the runtime's server looks the connection's remote port up (`identify`). An HTTP client reuses a socket only after the previous response has been read, so a port names one caller at a time.
 * Calls from outside a handler (tests, the runtime itself) carry no caller and are not checked.
 */
export const CALLER_HEADER = 'x-stint-local-function';

const callerByPort = new Map<number, string | undefined>();
const endpoints = new Set<string>();

const RequestStart = z.object({ request: z.custom<ClientRequest>((r) => typeof r === 'object' && r !== null) });

subscribe('http.client.request.start', (message) => {
  const parsed = RequestStart.safeParse(message);
  if (!parsed.success) return;
  const { request } = parsed.data;
  const host = request.getHeader('host');
  if (typeof host !== 'string' || !endpoints.has(host)) return;
  const caller = currentSandbox()?.functionId;
  const record = (socket: Socket) => {
    if (socket.localPort !== undefined) callerByPort.set(socket.localPort, caller);
    else socket.once('connect', () => socket.localPort !== undefined && callerByPort.set(socket.localPort, caller));
  };
  if (request.socket !== null) record(request.socket);
  else request.once('socket', record);
});

const Statement = z.object({
  Effect: z.enum(['Allow', 'Deny']),
  Action: z.union([z.string(), z.array(z.string())]).optional(),
  Resource: z.union([z.string(), z.array(z.string())]).optional(),
  Condition: z.record(z.string(), z.record(z.string(), z.union([z.string(), z.array(z.string())]))).optional(),
  NotAction: z.unknown().optional(),
  NotResource: z.unknown().optional(),
});
type Statement = z.infer<typeof Statement>;
const PolicyDocument = z.object({ Statement: z.array(z.unknown()) });
const IamPolicy = z.object({ PolicyDocument, Roles: z.array(z.unknown()).default([]) });
const RoleProps = z.object({ Policies: z.array(z.object({ PolicyDocument })).default([]) });
const FunctionRole = z.object({ Role: z.object({ 'Fn::GetAtt': z.tuple([z.string(), z.string()]) }).optional() });
const KeySchema = z.object({
  TableName: z.string().optional(),
  KeySchema: z.array(z.object({ AttributeName: z.string(), KeyType: z.string() })),
});

const AttributeValue = z.record(z.string(), z.unknown());
const Item = z.record(z.string(), AttributeValue);
const SingleItem = z.object({
  TableName: z.string(),
  Key: Item.optional(),
  Item: Item.optional(),
  IndexName: z.string().optional(),
});
const BatchGet = z.object({ RequestItems: z.record(z.string(), z.object({ Keys: z.array(Item) })) });
const BatchWrite = z.object({
  RequestItems: z.record(
    z.string(),
    z.array(z.object({ PutRequest: z.object({ Item }).optional(), DeleteRequest: z.object({ Key: Item }).optional() })),
  ),
});

/** One resource a call touches: the table or index ARN and, where the call names items, their partition keys. */
type Touch = { resource: string; leadingKeys?: string[] };

const tableNameOf = (nameOrArn: string) => nameOrArn.replace(/^arn:[^:]*:dynamodb:[^:]*:[^:]*:table\//, '');
const tableArn = (name: string) => `arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT}:table/${name}`;

/** IAM's `*` / `?` wildcards (StringLike, Action, Resource); case-sensitive. */
function like(pattern: string, value: string, ignoreCase = false): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`, ignoreCase ? 'i' : '').test(value);
}

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

const RawActions = z.object({ Action: z.union([z.string(), z.array(z.string())]).optional() });

/** A statement whose actions may cover DynamoDB (only these are resolved: others may name resources run elsewhere). */
function concernsDynamo(statement: unknown): boolean {
  const parsed = RawActions.safeParse(statement);
  if (!parsed.success) return true;
  return list(parsed.data.Action).some((a) => a === '*' || a.toLowerCase().startsWith('dynamodb:'));
}

export class LocalIam {
  /** Function logical id → the DynamoDB-relevant statements of its role. */
  readonly #statements = new Map<string, Statement[]>();
  /** Table name → its partition key attribute. */
  readonly #partitionKeys = new Map<string, string>();

  constructor(template: LocalTemplate, options: { endpoint: string }) {
    endpoints.add(new URL(options.endpoint).host);
    const byRole = new Map<string, unknown[]>();
    const add = (roleId: string, statements: unknown[]) =>
      byRole.set(roleId, [...(byRole.get(roleId) ?? []), ...statements]);
    for (const [, res] of template.ofType('AWS::IAM::Policy')) {
      const policy = IamPolicy.parse(res.Properties);
      for (const role of policy.Roles) {
        const ref = z.object({ Ref: z.string() }).safeParse(role);
        if (ref.success) add(ref.data.Ref, policy.PolicyDocument.Statement);
      }
    }
    for (const [id, res] of template.ofType('AWS::IAM::Role')) {
      for (const p of RoleProps.parse(res.Properties).Policies) add(id, p.PolicyDocument.Statement);
    }
    for (const [id, res] of template.ofType('AWS::Lambda::Function')) {
      const roleId = FunctionRole.parse(res.Properties).Role?.['Fn::GetAtt'][0];
      const statements = (roleId === undefined ? [] : (byRole.get(roleId) ?? [])).filter(concernsDynamo).map((s) => {
        try {
          return Statement.parse(template.resolve(s));
        } catch (err) {
          throw new Error(`${id}: a DynamoDB statement of its role does not resolve locally: ${String(err)}`);
        }
      });
      this.#statements.set(id, statements);
    }
    for (const [id, res] of [
      ...template.ofType('AWS::DynamoDB::GlobalTable'),
      ...template.ofType('AWS::DynamoDB::Table'),
    ]) {
      const props = KeySchema.parse(template.resolve(res.Properties));
      const hash = props.KeySchema.find((k) => k.KeyType === 'HASH');
      if (hash !== undefined) this.#partitionKeys.set(template.tableName(id), hash.AttributeName);
    }
  }

  /** Stamps the caller of a request to the runtime's port on it (CALLER_HEADER), or removes a claimed one. */
  identify(req: IncomingMessage): void {
    delete req.headers[CALLER_HEADER];
    const port = req.socket.remotePort;
    const caller = port === undefined ? undefined : callerByPort.get(port);
    if (caller !== undefined) req.headers[CALLER_HEADER] = caller;
  }

  /** The DynamoDB service, refusing what the calling function may not do. */
  guard(service: AwsService): AwsService {
    return {
      handle: async (target: string, body: Buffer, headers: IncomingHttpHeaders): Promise<AwsResponse> => {
        const caller = headers[CALLER_HEADER];
        if (typeof caller === 'string') {
          const refusal = this.check(caller, target.split('.')[1] ?? target, body);
          if (refusal !== undefined) {
            return awsError('application/x-amz-json-1.0', 'com.amazon.coral.service#AccessDeniedException', refusal);
          }
        }
        return service.handle(target, body, headers);
      },
    };
  }

  /** Why `functionId` may not call `operation` with this body, or undefined when its role allows it. */
  check(functionId: string, operation: string, body: Buffer): string | undefined {
    const statements = this.#statements.get(functionId);
    if (statements === undefined) return `no local function ${functionId}`;
    const action = `dynamodb:${operation}`;
    for (const touch of this.#touches(operation, body)) {
      const matching = (effect: 'Allow' | 'Deny') =>
        statements.some((s) => s.Effect === effect && this.#matches(s, action, touch, effect));
      if (matching('Deny') || !matching('Allow')) {
        return (
          `User: arn:aws:sts::${LOCAL_ACCOUNT}:assumed-role/${functionId}/${functionId} is not authorized to perform: ` +
          `${action} on resource: ${touch.resource}` +
          ' because no identity-based policy allows the action'
        );
      }
    }
    return undefined;
  }

  #matches(s: Statement, action: string, touch: Touch, effect: 'Allow' | 'Deny'): boolean {
    // Forms this check does not evaluate never allow (and always deny): a refusal is loud, a wrong allow is not.
    if (s.NotAction !== undefined || s.NotResource !== undefined) return effect === 'Deny';
    if (!list(s.Action).some((a) => like(a, action, true))) return false;
    if (!list(s.Resource).some((r) => like(r, touch.resource))) return false;
    if (s.Condition === undefined) return true;
    for (const [operator, conditions] of Object.entries(s.Condition)) {
      for (const [key, value] of Object.entries(conditions)) {
        if (operator !== 'ForAllValues:StringLike' || key !== 'dynamodb:LeadingKeys') return effect === 'Deny';
        // A Query names no item keys here (its partition key sits in an expression): not evaluated, so not allowed.
        if (touch.leadingKeys === undefined) return effect === 'Deny';
        const patterns = list(value);
        if (!touch.leadingKeys.every((k) => patterns.some((p) => like(p, k)))) return false;
      }
    }
    return true;
  }

  #touches(operation: string, body: Buffer): Touch[] {
    const json: unknown = JSON.parse(body.toString() || '{}');
    const keysOf = (table: string, items: z.infer<typeof Item>[]): Touch => {
      const name = tableNameOf(table);
      const pk = this.#partitionKeys.get(name);
      const values = items.map((item) => {
        const value = pk === undefined ? undefined : item[pk];
        return typeof value?.S === 'string' ? value.S : JSON.stringify(value ?? null);
      });
      return { resource: tableArn(name), leadingKeys: values };
    };
    switch (operation) {
      case 'BatchGetItem':
        return Object.entries(BatchGet.parse(json).RequestItems).map(([table, { Keys }]) => keysOf(table, Keys));
      case 'BatchWriteItem':
        return Object.entries(BatchWrite.parse(json).RequestItems).map(([table, writes]) =>
          keysOf(
            table,
            writes.flatMap((w) => [w.PutRequest?.Item, w.DeleteRequest?.Key].filter((i) => i !== undefined)),
          ),
        );
      default: {
        const call = SingleItem.safeParse(json);
        if (!call.success) return [{ resource: '*' }];
        const item = call.data.Key ?? call.data.Item;
        if (item !== undefined) return [keysOf(call.data.TableName, [item])];
        const name = tableNameOf(call.data.TableName);
        const index = call.data.IndexName;
        return [{ resource: index === undefined ? tableArn(name) : `${tableArn(name)}/index/${index}` }];
      }
    }
  }
}
