import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import * as z from 'zod';
import { Sleeps } from './durable.ts';
import { matchesEventPattern, parseEventPattern } from './event-pattern.ts';
import { type AwsResponse, type AwsService, awsError, awsJson } from './http.ts';
import type { LocalSqs } from './sqs.ts';
import { LOCAL_ACCOUNT, LOCAL_REGION, type LocalTemplate } from './template.ts';

/**
 * EventBridge, locally: PutEvents (JSON 1.1) onto the template's buses, each event matched against the rules
 * of its bus and delivered to their Lambda and SQS queue targets with bounded retry and backoff (RetryPolicy:
 * attempts and maximum event age), then to the target's DeadLetterConfig queue, or a local dead-letter list
 * when it has none. Scheduled rules (and EventBridge Scheduler schedules) run on the runtime's timer or on demand.
 */
const JSON_11 = 'application/x-amz-json-1.1';

export const StintBusEvent = z.object({
  version: z.literal('0'),
  id: z.string(),
  'detail-type': z.string(),
  source: z.string(),
  account: z.string(),
  time: z.string(),
  region: z.string(),
  resources: z.array(z.string()),
  detail: z.unknown(),
});
/** An event as EventBridge delivers it to targets (and as the local log keeps it), with the bus it went to. */
export type StintBusEvent = z.infer<typeof StintBusEvent> & { bus: string };

const PutEventsRequest = z.object({
  Entries: z
    .array(
      z.object({
        Source: z.string().optional(),
        DetailType: z.string().optional(),
        Detail: z.string().optional(),
        EventBusName: z.string().optional(),
        Resources: z.array(z.string()).optional(),
        Time: z.union([z.number(), z.string()]).optional(),
      }),
    )
    .min(1)
    .max(10),
});

const TargetProps = z.object({
  Arn: z.string(),
  Id: z.string().optional(),
  Input: z.string().optional(),
  InputPath: z.string().optional(),
  InputTransformer: z.unknown().optional(),
  RetryPolicy: z
    .object({ MaximumRetryAttempts: z.number().optional(), MaximumEventAgeInSeconds: z.number().optional() })
    .optional(),
  DeadLetterConfig: z.object({ Arn: z.string().optional() }).optional(),
  SqsParameters: z.object({ MessageGroupId: z.string() }).optional(),
});
const RuleProps = z.object({
  Name: z.string().optional(),
  EventBusName: z.string().optional(),
  EventPattern: z.unknown().optional(),
  ScheduleExpression: z.string().optional(),
  State: z.string().optional(),
  Targets: z.array(TargetProps).default([]),
});
const ScheduleProps = z.object({
  ScheduleExpression: z.string(),
  State: z.string().optional(),
  Target: TargetProps,
});

type Target = {
  rule: string;
  ruleArn: string;
  /** The function's logical id, or the queue's ARN. */
  label: string;
  /** Delivers the transformed input once; throws on failure. */
  send: (input: unknown) => Promise<unknown>;
  input: (event: unknown) => unknown;
  maxRetries: number;
  maxEventAgeMs: number;
  deadLetterArn?: string;
};
type Rule = { id: string; arn: string; bus: string; pattern: Record<string, unknown>; targets: Target[] };
type Schedule = { id: string; arn: string; expression: string; target: Target; kind: 'rule' | 'scheduler' };

export type EventDeadLetter = { rule: string; target: string; event: unknown; error: string };

export type LocalEventBridgeOptions = {
  invoke: (functionRef: string, event: unknown) => Promise<unknown>;
  /** Local queues, for rule targets and dead-letter queues that are SQS queues. */
  sqs?: Pick<LocalSqs, 'hasQueue' | 'isFifo' | 'sendToArn'>;
  /** Upper bound on a target's retries locally (AWS defaults to 185 over 24 h). */
  maxRetries?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  onError?: (message: string) => void;
};

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export class LocalEventBridge implements AwsService {
  readonly #buses = new Set<string>(['default']);
  readonly #rules: Rule[] = [];
  readonly #schedules: Schedule[] = [];
  #ticks = 0;
  readonly #log: StintBusEvent[] = [];
  readonly #subscribers = new Set<(event: StintBusEvent) => void>();
  readonly #dlq: EventDeadLetter[] = [];
  readonly #inflight = new Set<Promise<void>>();
  readonly #sleeps = new Sleeps();
  #stopped = false;

  constructor(
    template: LocalTemplate,
    private readonly options: LocalEventBridgeOptions,
  ) {
    for (const [, res] of template.ofType('AWS::Events::EventBus')) {
      const name = template.resolve(res.Properties.Name);
      if (typeof name === 'string') this.#buses.add(name);
    }
    const sqs = options.sqs;
    const target = (rule: string, ruleArn: string, t: z.infer<typeof TargetProps>): Target | undefined => {
      const functionRef = template.functionId(t.Arn);
      let label: string;
      let send: Target['send'];
      if (functionRef !== undefined) {
        label = functionRef;
        send = (input) => options.invoke(functionRef, input);
      } else if (sqs?.hasQueue(t.Arn)) {
        label = t.Arn;
        // EventBridge sends SqsParameters.MessageGroupId as given: a literal, never a path into the event
        // (AWS::Events::Rule SqsParameters, EventBridge API reference). It sends no MessageDeduplicationId, so a
        // FIFO target needs ContentBasedDeduplication (else every SendMessage fails and the event is retried).
        const groupId = t.SqsParameters?.MessageGroupId;
        if (sqs.isFifo(t.Arn) && groupId === undefined) {
          throw new Error(`${rule}: target ${t.Arn} is a FIFO queue and needs SqsParameters.MessageGroupId`);
        }
        if (groupId?.startsWith('$.')) {
          options.onError?.(
            `${rule}: SqsParameters.MessageGroupId '${groupId}' is used literally by EventBridge, not as a path`,
          );
        }
        send = async (input) =>
          sqs.sendToArn(t.Arn, {
            MessageBody: JSON.stringify(input),
            ...(groupId === undefined ? {} : { MessageGroupId: groupId }),
          });
      } else {
        options.onError?.(`${rule}: target ${t.Arn} is not a local Lambda function or queue; ignored locally`);
        return undefined;
      }
      if (t.InputTransformer !== undefined) throw new Error(`${rule}: InputTransformer is not supported locally`);
      const deadLetterArn = t.DeadLetterConfig?.Arn;
      if (deadLetterArn !== undefined && sqs?.isFifo(deadLetterArn)) {
        // As AWS refuses at PutTargets: "SQS FIFO is not supported by Dead Letter Queues."
        throw new Error(`${rule}: a rule target's dead-letter queue must be a standard queue (${deadLetterArn})`);
      }
      const constant = t.Input === undefined ? undefined : JSON.parse(t.Input);
      const path = t.InputPath;
      return {
        rule,
        ruleArn,
        label,
        send,
        input: (event) => (constant !== undefined ? constant : path !== undefined ? atPath(event, path) : event),
        maxRetries: Math.min(t.RetryPolicy?.MaximumRetryAttempts ?? 185, options.maxRetries ?? 5),
        maxEventAgeMs: (t.RetryPolicy?.MaximumEventAgeInSeconds ?? 86_400) * 1000,
        ...(deadLetterArn === undefined ? {} : { deadLetterArn }),
      };
    };
    for (const [id, res] of template.ofType('AWS::Events::Rule')) {
      const p = RuleProps.parse(template.resolve(res.Properties));
      if (p.State !== undefined && p.State !== 'ENABLED') continue;
      const arn = `arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT}:rule/${p.Name ?? id}`;
      const targets = p.Targets.map((t) => target(id, arn, t)).filter((t) => t !== undefined);
      if (p.ScheduleExpression !== undefined) {
        for (const t of targets)
          this.#schedules.push({ id, arn, expression: p.ScheduleExpression, target: t, kind: 'rule' });
      }
      if (p.EventPattern !== undefined) {
        const bus = busName(p.EventBusName ?? 'default');
        this.#rules.push({ id, arn, bus, pattern: parseEventPattern(p.EventPattern), targets });
      }
    }
    for (const [id, res] of template.ofType('AWS::Scheduler::Schedule')) {
      const p = ScheduleProps.parse(template.resolve(res.Properties));
      if (p.State !== undefined && p.State !== 'ENABLED') continue;
      const arn = `arn:aws:scheduler:${LOCAL_REGION}:${LOCAL_ACCOUNT}:schedule/default/${id}`;
      const t = target(id, arn, p.Target);
      if (t) this.#schedules.push({ id, arn, expression: p.ScheduleExpression, target: t, kind: 'scheduler' });
    }
  }

  async handle(target: string, body: Buffer, _headers: IncomingHttpHeaders): Promise<AwsResponse> {
    if (target !== 'AWSEvents.PutEvents') {
      return awsError(JSON_11, 'UnknownOperationException', `${target} is not supported by the local runtime`);
    }
    let json: unknown;
    try {
      json = JSON.parse(body.toString());
    } catch {
      return awsError(JSON_11, 'SerializationException', 'Request body is not JSON');
    }
    const request = PutEventsRequest.safeParse(json);
    if (!request.success) return awsError(JSON_11, 'ValidationException', request.error.message);
    return awsJson(JSON_11, this.putEvents(request.data.Entries));
  }

  /** PutEvents semantics: per-entry results; accepted events are logged and delivered asynchronously. */
  putEvents(entries: z.infer<typeof PutEventsRequest>['Entries']): {
    FailedEntryCount: number;
    Entries: ({ EventId: string } | { ErrorCode: string; ErrorMessage: string })[];
  } {
    const results = entries.map((e) => {
      const bus = busName(e.EventBusName ?? 'default');
      if (!this.#buses.has(bus)) {
        return { ErrorCode: 'ResourceNotFoundException', ErrorMessage: `Event bus ${bus} does not exist.` };
      }
      if (!e.Source) return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameter Source is not valid.' };
      if (!e.DetailType) return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameter DetailType is not valid.' };
      let detail: unknown;
      try {
        detail = JSON.parse(e.Detail ?? '');
      } catch {
        detail = undefined;
      }
      if (!isRecord(detail)) return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
      const time = e.Time === undefined ? new Date() : new Date(typeof e.Time === 'number' ? e.Time * 1000 : e.Time);
      const event: StintBusEvent = {
        version: '0',
        id: randomUUID(),
        'detail-type': e.DetailType,
        source: e.Source,
        account: LOCAL_ACCOUNT,
        time: time.toISOString().replace(/\.\d{3}Z$/, 'Z'),
        region: LOCAL_REGION,
        resources: e.Resources ?? [],
        detail,
        bus,
      };
      this.#accept(event);
      return { EventId: event.id };
    });
    return { FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length, Entries: results };
  }

  /** Every event accepted on any bus, oldest first. */
  events(): StintBusEvent[] {
    return [...this.#log];
  }

  subscribe(listener: (event: StintBusEvent) => void): () => void {
    this.#subscribers.add(listener);
    return () => this.#subscribers.delete(listener);
  }

  deadLetters(): EventDeadLetter[] {
    return [...this.#dlq];
  }

  schedules(): { id: string; expression: string; target: string }[] {
    return this.#schedules.map((s) => ({ id: s.id, expression: s.expression, target: s.target.label }));
  }

  /**
   * The local clock's tick (every `scheduleEveryMs`): time is compressed so the most frequent schedule runs at each
   * tick and every other one in proportion to its rate (the reconciler every minute, the hourly orphan sweep at every
   * 60th tick), as in AWS, only faster. A schedule whose expression is not `rate(…)` runs at each tick.
   */
  async tick(): Promise<void> {
    this.#ticks++;
    const periods = this.#schedules.map((s) => rateMinutes(s.expression));
    const fastest = Math.min(...periods.filter((p): p is number => p !== undefined));
    const due = this.#schedules.filter((_, i) => {
      const period = periods[i];
      if (period === undefined || !Number.isFinite(fastest)) return true;
      return this.#ticks % Math.max(1, Math.round(period / fastest)) === 0;
    });
    await this.#run(due);
  }

  /** Runs every scheduled target once, now, and resolves when all are done (retries included). */
  async runSchedules(): Promise<void> {
    await this.#run(this.#schedules);
  }

  async #run(schedules: Schedule[]): Promise<void> {
    await Promise.all(
      schedules.map((s) => {
        const event =
          s.kind === 'rule'
            ? {
                version: '0',
                id: randomUUID(),
                'detail-type': 'Scheduled Event',
                source: 'aws.events',
                account: LOCAL_ACCOUNT,
                time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
                region: LOCAL_REGION,
                resources: [s.arn],
                detail: {},
              }
            : {};
        return this.#deliver(s.target, event);
      }),
    );
  }

  /** Resolves once every delivery started so far has finished (delivered or dead-lettered). */
  async idle(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.all([...this.#inflight]);
  }

  stop(): void {
    this.#stopped = true;
    this.#sleeps.wakeAll();
  }

  #accept(event: StintBusEvent): void {
    this.#log.push(event);
    for (const s of this.#subscribers) s(event);
    const { bus, ...delivered } = event;
    for (const rule of this.#rules) {
      if (rule.bus !== bus || !matchesEventPattern(rule.pattern, delivered)) continue;
      for (const t of rule.targets) {
        const p = this.#deliver(t, delivered);
        this.#inflight.add(p);
        void p.finally(() => this.#inflight.delete(p));
      }
    }
  }

  async #deliver(target: Target, event: unknown): Promise<void> {
    const base = this.options.retryBaseMs ?? 200;
    const max = this.options.retryMaxMs ?? 10_000;
    const started = Date.now();
    for (let attempt = 0; !this.#stopped; attempt++) {
      try {
        await target.send(target.input(event));
        return;
      } catch (err) {
        const delay = Math.min(max, base * 2 ** attempt);
        const exhausted =
          attempt >= target.maxRetries
            ? 'MaximumRetryAttempts'
            : Date.now() - started + delay > target.maxEventAgeMs
              ? 'MaximumEventAgeInSeconds'
              : undefined;
        if (exhausted !== undefined) {
          this.#deadLetter(target, event, err, exhausted, attempt);
          return;
        }
        await this.#sleeps.sleep(delay);
      }
    }
  }

  /**
   * To the target's DeadLetterConfig queue with the attributes EventBridge sets (ERROR_CODE, ERROR_MESSAGE,
   * EXHAUSTED_RETRY_CONDITION, RETRY_ATTEMPTS, RULE_ARN, TARGET_ARN), else (or if that fails) the local list.
   */
  #deadLetter(target: Target, event: unknown, err: unknown, exhausted: string, retries: number): void {
    const error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    this.options.onError?.(`${target.rule} → ${target.label}: dead-lettered after ${retries + 1} attempt(s): ${error}`);
    const dlq = target.deadLetterArn;
    if (dlq !== undefined && this.options.sqs?.hasQueue(dlq)) {
      const attribute = (value: string) => ({ DataType: 'String', StringValue: value });
      try {
        this.options.sqs.sendToArn(dlq, {
          MessageBody: JSON.stringify(event),
          MessageAttributes: {
            ERROR_CODE: attribute(err instanceof Error ? err.name : 'Error'),
            ERROR_MESSAGE: attribute(err instanceof Error ? err.message || err.name : String(err)),
            EXHAUSTED_RETRY_CONDITION: attribute(exhausted),
            RETRY_ATTEMPTS: { DataType: 'Number', StringValue: String(retries) },
            RULE_ARN: attribute(target.ruleArn),
            TARGET_ARN: attribute(
              target.label.startsWith('arn:')
                ? target.label
                : `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${target.label}`,
            ),
          },
        });
        return;
      } catch (sendError) {
        this.options.onError?.(`${target.rule}: could not send to dead-letter queue ${dlq}: ${String(sendError)}`);
      }
    }
    this.#dlq.push({ rule: target.rule, target: target.label, event, error });
  }
}

function busName(nameOrArn: string): string {
  return nameOrArn.replace(/^arn:[^:]*:events:[^:]*:[^:]*:event-bus\//, '');
}

/** A JSONPath reference path (`$`, `$.detail`, `$.detail.items`), as InputPath takes. */
function atPath(value: unknown, path: string): unknown {
  if (path === '$') return value;
  let current = value;
  for (const key of path.replace(/^\$\.?/, '').split('.')) {
    current = isRecord(current) ? current[key] : undefined;
  }
  return current;
}

/** The period of a `rate(N unit)` expression in minutes; undefined for anything else (cron, at). */
export function rateMinutes(expression: string): number | undefined {
  const m = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression.trim());
  if (m === null) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? '';
  return unit.startsWith('minute') ? n : unit.startsWith('hour') ? n * 60 : n * 1440;
}
