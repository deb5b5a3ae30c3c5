import './polyfills.ts';
import { mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { JSONWebKeySet } from 'jose';
import * as z from 'zod';
import { corsFromTemplate, LocalApiGateway, routesFromTemplate } from './api-gateway.ts';
import { LocalDynamo } from './dynamodb.ts';
import { matchesEventPattern, parseEventPattern } from './event-pattern.ts';
import { type EventDeadLetter, LocalEventBridge, type StintBusEvent } from './eventbridge.ts';
import { awsError, readBody, routeAws, send } from './http.ts';
import { LocalIam } from './iam.ts';
import { createLocalIssuer, TokenRequest } from './issuer.ts';
import { LocalLambda } from './lambda.ts';
import { routeLambdaInvoke } from './lambda-api.ts';
import { localPortal, type PortalSettings } from './portal.ts';
import { LocalSqs, type QueueStats, type QueueSummary, queuesFromTemplate } from './sqs.ts';
import { LocalStepFunctions } from './stepfunctions.ts';
import { type DeadLetter, StreamJournal } from './streams.ts';
import { LOCAL_REGION, loadTemplate } from './template.ts';

/**
 * The local runtime: the synthesized template run on one machine (docs/development.md, "The local runtime"). One HTTP port
 * serves the HTTP API routes, the local issuer (/_local/*) and the AWS JSON APIs the handlers' SDK clients call
 * (DynamoDB, Step Functions, EventBridge, SQS, chosen by X-Amz-Target), which the standard AWS_ENDPOINT_URL_* variables
 * point at. Handler code is the same as in AWS.
 */
export type LocalRuntimeOptions = {
  template: object;
  /** Data folder (dynalite, stream journal, issuer key); undefined = everything in memory. One process per folder. */
  stateDir?: string;
  /** 0 or undefined = any free port. */
  port?: number;
  /** Where `stint:entry` paths are relative to. */
  repoRoot: string;
  /**
   * How often scheduled targets run (default 5 s). The template says rate(5 minutes) for AWS; locally a short
   * period keeps expiry precise to seconds (the reconciler is what revokes an overdue grant after a restart).
   */
  scheduleEveryMs?: number;
  /** Issuer and audience the local JWT authorizer enforces (default `<url>/_local` and `stint-local`). */
  issuer?: string;
  audience?: string;
  log?: (message: string) => void;
  /**
   * Local stand-ins for what AWS resolves: a variable the template sets for some functions replaces it in those only
   * (e.g. a secret reference); any other one (the value an `env:` secret reference names, a stand-in's endpoint) is
   * given to every function.
   */
  env?: Record<string, string>;
  /**
   * SQS → Lambda: a failed message is received again after the queue's visibility timeout in AWS; locally after
   * at most this many milliseconds (default 2000), so retries and dead-lettering take seconds, not minutes.
   */
  sqsMaxRetryDelayMs?: number;
  /**
   * Start not ready: until `ready()`, every API route answers 503 saying what Stint is waiting for (this text,
   * or what `startingUp()` sets later). The AWS service APIs, /_local/* and `api()` answer meanwhile.
   */
  startingUp?: string;
  /** A built portal (portal/dist) to serve at `/` (lib/local/portal.ts); none when undefined. */
  portalDir?: string;
  /**
   * The portal's config.json (default `{ "mode": "local" }`): a test points the portal at a real OIDC issuer, whose
   * origin the portal's CSP then admits for the token and discovery calls.
   */
  portalConfig?: PortalSettings;
  /**
   * Another issuer's key set besides the local issuer's (with `issuer` and `audience` naming that issuer): the
   * gateway and the API functions then also accept its tokens, keys fetched from `jwksUrl` once at start (tests of
   * a real OIDC sign-in).
   */
  externalKeys?: { jwksUrl: string };
};

/** What an API call answers (`LocalRuntime.api`). */
export type ApiCallResult = { status: number; headers: Record<string, string | string[]>; text: string };

/** Whom a local token is for; `use: 'access'` mints one without `email` (the API asks /_local/userinfo). */
export type LocalIdentity = { sub: string; email?: string; groups?: string[]; manager?: string; use?: 'id' | 'access' };

export type LocalRuntime = {
  url: string;
  port: number;
  issuer: string;
  audience: string;
  mintToken(identity: LocalIdentity): Promise<string>;
  invoke(logicalIdOrEntry: string, event: unknown): Promise<unknown>;
  /** What a function (logical id, name, ARN or entry) sees as `process.env` when it runs. */
  environmentOf(logicalIdOrEntry: string): Record<string, string>;
  /** Calls an API route in-process through the local API Gateway (JWT authorizer included), ready or not. */
  api(method: string, path: string, init?: { headers?: Record<string, string>; body?: string }): Promise<ApiCallResult>;
  /** Not ready (again): API routes answer 503 saying `waitingFor` until `ready()`. */
  startingUp(waitingFor: string): void;
  /** Ready: API routes answer. */
  ready(): void;
  events(): StintBusEvent[];
  subscribe(listener: (event: StintBusEvent) => void): () => void;
  stats(): {
    dynamodb: Record<string, number>;
    /** DynamoDB calls by calling function (logical id; `-` outside any function) and operation. */
    dynamodbByCaller: Record<string, Record<string, number>>;
    stateTransitions: number;
    stepFunctions: Record<string, number>;
    invocations: Record<string, number>;
    coldImportMs: Record<string, number>;
    /** Milliseconds in each function's handler, summed over its invocations. */
    durationMs: Record<string, number>;
    /** Per queue: messages visible, in flight and delayed now; sent, received, deleted and dead-lettered so far. */
    sqs: Record<string, QueueStats>;
  };
  /** Every queue's visible and in-flight messages, and the name of its dead-letter queue. */
  queues(): QueueSummary[];
  /** Resolves once every queue an event source mapping reads is empty and no batch is being delivered. */
  queuesIdle(): Promise<void>;
  deadLetters(): { stream: DeadLetter[]; events: EventDeadLetter[] };
  /** Runs every scheduled target once, now. */
  runSchedules(): Promise<void>;
  stop(): Promise<void>;
};

/**
 * Handlers create SDK clients once at module scope and the SDK resolves the endpoint once per client, so a
 * second runtime in the same process must use the same URL (restart on the same port).
 */
let processEndpoint: string | undefined;

const LOCAL_RETRY_LIMIT = 10;
const DEFAULT_SCHEDULE_MS = 5_000;

const EsmProps = z.object({
  EventSourceArn: z.string().optional(),
  FunctionName: z.string(),
  BatchSize: z.number().optional(),
  MaximumRetryAttempts: z.number().optional(),
  FunctionResponseTypes: z.array(z.string()).optional(),
  ScalingConfig: z.object({ MaximumConcurrency: z.number().optional() }).optional(),
  Enabled: z.boolean().optional(),
  FilterCriteria: z.object({ Filters: z.array(z.object({ Pattern: z.string() })).optional() }).optional(),
});

/** An issuer's public keys (JWKS), read once. */
async function fetchKeySet(url: string): Promise<JSONWebKeySet> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`the key set at ${url} answered ${res.status}`);
  return z.object({ keys: z.array(z.looseObject({ kty: z.string() })) }).parse(await res.json());
}

export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const log = options.log ?? ((m: string) => process.stderr.write(`[stint local] ${m}\n`));
  // Fails loudly on a bad template before anything starts; loaded again below with the runtime's URL, which queue
  // URLs are built on.
  loadTemplate(options.template);
  if (options.stateDir !== undefined) mkdirSync(options.stateDir, { recursive: true });

  // Listen first: the URL goes into the environment the handlers read at cold start.
  let ready: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | undefined;
  const server = createServer((req, res) => {
    if (ready === undefined) return notReady(res, 'starting the local runtime');
    ready(req, res).catch((err: unknown) => {
      log(
        `request ${req.method} ${req.url?.split('?')[0]} failed: ${err instanceof Error ? err.message : String(err)}`,
      );
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"message":"Internal Server Error"}');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = z.custom<AddressInfo>((a) => typeof a === 'object' && a !== null).parse(server.address());
  const url = `http://127.0.0.1:${port}`;
  const closeServer = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  if (processEndpoint !== undefined && processEndpoint !== url) {
    await closeServer();
    throw new Error(
      `One local runtime endpoint per process: handlers already talk to ${processEndpoint}; restart on the same port`,
    );
  }

  // Stopped in this order: timers, the port, the engines, then the stores.
  const cleanup: Partial<Record<(typeof STOP_ORDER)[number], () => Promise<void> | void>> = { server: closeServer };
  try {
    const template = loadTemplate(options.template, { endpoint: url });
    const issuerUrl = options.issuer ?? `${url}/_local`;
    const audience = options.audience ?? 'stint-local';
    // What every function's sandbox has besides its own variables (lib/local/sandbox.ts): the standard variables
    // pointing the SDK at this port, the region and credentials Lambda would give it, and the local marker.
    const aws = {
      AWS_ENDPOINT_URL: url, // any other AWS service fails here, clearly, instead of reaching real AWS
      AWS_ENDPOINT_URL_DYNAMODB: url,
      AWS_ENDPOINT_URL_SFN: url,
      AWS_ENDPOINT_URL_EVENTBRIDGE: url,
      AWS_ENDPOINT_URL_SQS: url,
      AWS_ENDPOINT_URL_LAMBDA: url, // API functions invoke the driver functions (Lambda Invoke)
      AWS_REGION: LOCAL_REGION,
      AWS_DEFAULT_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    };
    const lambda = new LocalLambda(template, options.repoRoot, {
      base: { ...aws, STINT_LOCAL: 'true' },
      // Only in the functions whose template sets them: what the template names that does not exist here.
      replace: {
        // API functions verify bearer tokens themselves, so they trust the local issuer that replaces the template's.
        STINT_JWT_ISSUER: issuerUrl,
        // GET /auth-config names the issuer the gateway trusts here, not the template's Cognito pool.
        STINT_AUTH_ISSUER: issuerUrl,
        STINT_JWT_AUDIENCE: audience,
        STINT_JWKS_URL: `${url}/_local/.well-known/jwks.json`,
        // The template names the Cognito domain's UserInfo endpoint, which does not exist locally.
        STINT_USERINFO_URL: `${url}/_local/userinfo`,
        // The template names the Cognito pool's CLI client, which does not exist here: GET /auth-config announces a
        // CLI client locally only when one is given (a test's stand-in provider), else `local: true` says to use
        // --local.
        STINT_CLI_CLIENT_ID: undefined,
      },
      ...(options.env === undefined ? {} : { env: options.env }),
    });
    // The runtime's own environment (tests, scripts and the runtime's clients outside any handler) reaches the same
    // port; no function's variables are in it.
    Object.assign(process.env, aws);
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;

    const journal = new StreamJournal({
      ...(options.stateDir === undefined ? {} : { file: join(options.stateDir, 'stream.jsonl') }),
      onError: log,
    });
    cleanup.journal = () => journal.close();
    const dynamo = await LocalDynamo.start(template, {
      journal,
      ...(options.stateDir === undefined ? {} : { dataDir: join(options.stateDir, 'dynamodb') }),
    });
    cleanup.dynamo = () => dynamo.stop();
    const sqs = new LocalSqs(queuesFromTemplate(template), {
      endpoint: url,
      ...(options.stateDir === undefined ? {} : { dir: join(options.stateDir, 'sqs') }),
      ...(options.sqsMaxRetryDelayMs === undefined ? {} : { maxRetryDelayMs: options.sqsMaxRetryDelayMs }),
      onError: log,
    });
    cleanup.sqs = () => sqs.stop();

    for (const [id, res] of template.ofType('AWS::Lambda::EventSourceMapping')) {
      const p = EsmProps.parse(template.resolve(res.Properties));
      if (p.Enabled === false) continue;
      const fn = template.functionId(p.FunctionName);
      const filters = (p.FilterCriteria?.Filters ?? []).map((f) => parseEventPattern(f.Pattern));
      if (fn !== undefined && p.EventSourceArn !== undefined && sqs.hasQueue(p.EventSourceArn)) {
        sqs.addEventSource({
          id,
          queueArn: p.EventSourceArn,
          batchSize: p.BatchSize ?? 10,
          reportBatchItemFailures: p.FunctionResponseTypes?.includes('ReportBatchItemFailures') ?? false,
          ...(p.ScalingConfig?.MaximumConcurrency === undefined
            ? {}
            : { concurrency: p.ScalingConfig.MaximumConcurrency }),
          ...(filters.length === 0
            ? {}
            : {
                // Lambda matches `body` patterns against the body parsed as JSON when it is JSON.
                filter: (record) => {
                  let body: unknown = record.body;
                  try {
                    body = JSON.parse(record.body);
                  } catch {
                    // a plain-text body is matched as a string
                  }
                  return filters.some((f) => matchesEventPattern(f, { ...record, body }));
                },
              }),
          deliver: (event) => lambda.invoke(fn, event),
        });
        continue;
      }
      const table = p.EventSourceArn === undefined ? undefined : dynamo.tableByStreamArn(p.EventSourceArn);
      if (table === undefined || fn === undefined) {
        log(`event source mapping ${id}: only DynamoDB streams and SQS queues to local functions run locally; skipped`);
        continue;
      }
      journal.register({
        id,
        table,
        batchSize: p.BatchSize ?? 100,
        // AWS retries until the record expires (-1); locally the bound keeps a poison record from blocking forever.
        maxRetries:
          p.MaximumRetryAttempts === undefined || p.MaximumRetryAttempts < 0
            ? LOCAL_RETRY_LIMIT
            : Math.min(p.MaximumRetryAttempts, LOCAL_RETRY_LIMIT),
        reportBatchItemFailures: p.FunctionResponseTypes?.includes('ReportBatchItemFailures') ?? false,
        deliver: async ({ Records }) => {
          const kept =
            filters.length === 0 ? Records : Records.filter((r) => filters.some((f) => matchesEventPattern(f, r)));
          if (kept.length === 0) return undefined;
          return lambda.invoke(fn, { Records: kept });
        },
      });
    }

    const invoke = (fn: string, event: unknown) => lambda.invoke(fn, event);
    const sfn = new LocalStepFunctions(template, { invoke, onError: log });
    cleanup.sfn = () => sfn.stop();
    const eventbridge = new LocalEventBridge(template, { invoke, sqs, onError: log });
    cleanup.eventbridge = () => eventbridge.stop();

    const issuer = await createLocalIssuer({
      ...(options.stateDir === undefined ? {} : { stateDir: options.stateDir }),
      issuer: issuerUrl,
      audience,
    });
    // With another issuer's keys, the local key stays trusted too (it signs the runtime's own seeding calls):
    // the gateway and the functions (STINT_JWKS_URL, served below) verify against both.
    const keys: JSONWebKeySet =
      options.externalKeys === undefined
        ? issuer.jwks
        : { keys: [...issuer.jwks.keys, ...(await fetchKeySet(options.externalKeys.jwksUrl)).keys] };
    const verifiedBy = { issuer: issuer.issuer, audience: issuer.audience, jwks: keys };
    const gateway = new LocalApiGateway({
      routes: routesFromTemplate(template),
      invoke,
      issuer: verifiedBy,
      cors: corsFromTemplate(template),
      onError: log,
    });
    // DynamoDB calls a handler's role does not allow are refused as in AWS (lib/local/iam.ts).
    const iam = new LocalIam(template, { endpoint: url });
    const services = {
      DynamoDB_20120810: iam.guard(dynamo),
      AWSStepFunctions: sfn,
      AWSEvents: eventbridge,
      AmazonSQS: sqs,
    };

    await lambda.loadAll(); // every handler's cold start, now that its environment is set
    processEndpoint = url;

    let waitingFor = options.startingUp;
    const portal = options.portalDir === undefined ? undefined : localPortal(options.portalDir, options.portalConfig);
    ready = async (req, res) => {
      iam.identify(req);
      if (await routeAws(services, req, res)) return;
      if (await routeLambdaInvoke(invoke, (name) => lambda.has(name), req, res)) return;
      const target = req.headers['x-amz-target'];
      if (typeof target === 'string') {
        send(
          res,
          awsError('application/x-amz-json-1.1', 'UnknownOperationException', `${target} is not emulated locally`),
        );
        return;
      }
      const path = (req.url ?? '/').split('?')[0];
      if (path?.startsWith('/_local/')) return localRoutes(req, res, path);
      // The portal is served while Stint starts too: it shows what the API's 503 says it waits for.
      if (portal?.handle(req, res) === true) return;
      if (waitingFor !== undefined) return notReady(res, waitingFor);
      return gateway.handle(req, res);
    };

    const localRoutes = async (req: IncomingMessage, res: ServerResponse, path: string) => {
      const reply = (status: number, body: unknown) => {
        const text = JSON.stringify(body);
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      };
      if (req.method === 'GET' && path === '/_local/.well-known/jwks.json') return reply(200, keys);
      if (req.method === 'GET' && path === '/_local/.well-known/openid-configuration') {
        return reply(200, {
          issuer: issuer.issuer,
          jwks_uri: `${url}/_local/.well-known/jwks.json`,
          userinfo_endpoint: `${url}/_local/userinfo`,
        });
      }
      if ((req.method === 'GET' || req.method === 'POST') && path === '/_local/userinfo') {
        // OIDC Core §5.3: the bearer token in Authorization; an invalid one is answered as RFC 6750 §3.1 says.
        const header = req.headers.authorization ?? '';
        const answer = await issuer.userInfo(header.replace(/^Bearer\s+/i, '').trim());
        if (answer === undefined) {
          res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"', 'content-length': 0 });
          res.end();
          return;
        }
        return reply(200, answer);
      }
      if (req.method === 'POST' && path === '/_local/token') {
        let json: unknown;
        try {
          json = JSON.parse((await readBody(req, 64 * 1024)).toString() || '{}');
        } catch {
          return reply(400, { message: 'Body must be JSON: { "sub", "email", "groups": [], "use": "id" | "access" }' });
        }
        const parsed = TokenRequest.safeParse(json);
        if (!parsed.success) {
          return reply(400, {
            message: 'Invalid token request',
            errors: parsed.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })),
          });
        }
        return reply(200, { token: await issuer.mint(parsed.data) });
      }
      return reply(404, { message: 'Not Found' });
    };

    journal.start();
    sqs.start();
    // One schedule run at a time: the clock's ticks (each schedule in proportion to its rate) and runSchedules()
    // (every schedule, now), which waits for a tick in flight and then runs them all.
    let scheduled: Promise<void> | undefined;
    const single = (work: () => Promise<void>) => {
      scheduled ??= work().finally(() => {
        scheduled = undefined;
      });
      return scheduled;
    };
    const runSchedules = async (): Promise<void> => {
      while (scheduled !== undefined) await scheduled.catch(() => undefined);
      return single(() => eventbridge.runSchedules());
    };
    const timer = setInterval(() => {
      if (scheduled !== undefined) return;
      void single(() => eventbridge.tick()).catch((err: unknown) => log(`schedule run failed: ${String(err)}`));
    }, options.scheduleEveryMs ?? DEFAULT_SCHEDULE_MS);
    cleanup.timer = () => clearInterval(timer);

    log(`listening on ${url} (${options.stateDir === undefined ? 'in memory' : `data in ${options.stateDir}`})`);
    let stopped: Promise<void> | undefined;
    return {
      url,
      port,
      issuer: issuer.issuer,
      audience: issuer.audience,
      mintToken: async (identity) => issuer.mint(identity),
      invoke: (ref, event) => lambda.invoke(ref, event),
      environmentOf: (ref) => lambda.environmentOf(ref),
      api: async (method, path, init = {}) => {
        const response = await gateway.dispatch({
          method,
          url: path,
          headers: { host: new URL(url).host, ...init.headers },
          body: Buffer.from(init.body ?? ''),
          protocol: 'HTTP/1.1',
          sourceIp: '127.0.0.1',
        });
        return { status: response.status, headers: response.headers, text: response.body.toString('utf8') };
      },
      startingUp: (reason) => {
        waitingFor = reason;
      },
      ready: () => {
        waitingFor = undefined;
      },
      events: () => eventbridge.events(),
      subscribe: (listener) => eventbridge.subscribe(listener),
      stats: () => ({
        dynamodb: dynamo.stats(),
        dynamodbByCaller: dynamo.statsByCaller(),
        stateTransitions: sfn.stateTransitions(),
        stepFunctions: sfn.apiCalls(),
        invocations: lambda.stats().invocations,
        coldImportMs: lambda.stats().coldImportMs,
        durationMs: lambda.stats().durationMs,
        sqs: sqs.stats(),
      }),
      queues: () => sqs.queues(),
      queuesIdle: () => sqs.idle(),
      deadLetters: () => ({ stream: journal.deadLetters(), events: eventbridge.deadLetters() }),
      runSchedules,
      stop: () => {
        stopped ??= runCleanup(cleanup);
        return stopped;
      },
    };
  } catch (err) {
    await runCleanup(cleanup);
    throw err;
  }
}

/**
 * An API route while the runtime is not ready: 503, saying what it waits for (a client that polls /health sees
 * 200 only once Stint is ready).
 */
function notReady(res: ServerResponse, waitingFor: string): void {
  const text = JSON.stringify({
    type: 'about:blank',
    title: 'Service Unavailable',
    status: 503,
    detail: `Stint is starting: ${waitingFor}`,
    waitingFor,
  });
  res.writeHead(503, {
    'content-type': 'application/problem+json',
    'content-length': Buffer.byteLength(text),
    'retry-after': '1',
  });
  res.end(text);
}

// SQS first: pollers finish the batches they are delivering while the handlers can still reach the port.
const STOP_ORDER = ['timer', 'sqs', 'server', 'eventbridge', 'sfn', 'journal', 'dynamo'] as const;

async function runCleanup(
  steps: Partial<Record<(typeof STOP_ORDER)[number], () => Promise<void> | void>>,
): Promise<void> {
  for (const name of STOP_ORDER) await steps[name]?.();
}
