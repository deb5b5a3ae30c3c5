import { apiFor, type Body, unwrap } from '../api.ts';
import type { Ctx } from '../context.ts';
import { CliError, UsageError } from '../errors.ts';
import { printJson, when } from '../output.ts';
import { FINAL, waitForActive, waitingFor, whyEnded } from '../requests.ts';
import type { CatalogFlow } from './flows.ts';

/** Which flag each field of the request body comes from. */
const FLAGS = {
  flowId: 'flow',
  durationMinutes: '--minutes',
  justification: '--reason',
  targets: '--target',
  bundle: '--bundle',
  grantee: '--for',
};

type Options = {
  target?: string[];
  bundle?: string;
  minutes?: number;
  reason?: string;
  for?: string;
  forEmail?: string;
  wait?: boolean;
};

/**
 * `stint request <flow>`. Missing arguments the flow needs (the flow, a justification it requires) are asked for
 * on a terminal and are a usage error (exit 2) anywhere else. With `--wait`, exits 1 unless the access is ACTIVE.
 * JSON: the request as GET /requests/{id} answers it (after `--wait`, in its last status).
 */
export async function run(ctx: Ctx, [flowArg]: string[], options: Options): Promise<void> {
  const { api } = await apiFor(ctx);
  const catalog = unwrap(await api.GET('/catalog'));
  const flowId = flowArg ?? (ctx.interactive ? await askFlow(catalog.flows) : undefined);
  if (flowId === undefined) throw new UsageError('missing argument: the flow to request (see `stint flows`)');
  const flow = catalog.flows.find((f) => f.id === flowId);
  if (flow === undefined) {
    throw new CliError(
      `no flow "${flowId}" you may request; yours: ${catalog.flows.map((f) => f.id).join(', ') || 'none'}`,
    );
  }
  let reason = options.reason;
  if (reason === undefined && flow.justificationRequired) {
    if (!ctx.interactive) throw new UsageError(`flow ${flow.id} needs a justification: pass --reason "…"`);
    reason = await askReason();
  }
  if (options.forEmail !== undefined && options.for === undefined)
    throw new UsageError('--for-email goes with --for <user>');
  if (options.for !== undefined && options.forEmail === undefined) {
    throw new UsageError('--for <user> needs --for-email <their email>');
  }

  const body: Body<'create-request'> = {
    flowId: flow.id,
    durationMinutes: options.minutes ?? flow.defaultMinutes,
    ...(reason === undefined ? {} : { justification: reason }),
    ...(options.bundle === undefined ? {} : { bundle: options.bundle }),
    ...(options.target === undefined ? {} : { targets: options.target.map((t) => targetOf(flow, t)) }),
    ...(options.for === undefined ? {} : { grantee: { sub: options.for, email: options.forEmail as string } }),
  };
  let request = unwrap(await api.POST('/requests', { body }), FLAGS);
  if (options.wait === true) request = await waitForActive(ctx, api, request);

  if (ctx.json) printJson(ctx, request);
  else {
    const pending = waitingFor(request);
    const detail =
      request.status === 'ACTIVE'
        ? ` until ${when(request.expiresAt)}: \`stint connect ${request.id}\` or \`stint access ${request.id}\``
        : pending === undefined
          ? ''
          : `: waiting for ${pending}`;
    ctx.out(`${request.id}  ${request.status}${detail}\n`);
  }
  if (options.wait === true && FINAL.has(request.status)) throw new CliError(`${request.id} ${whyEnded(request)}`);
}

/** `resource:permission` (split at the last colon: resource ids such as ARNs hold colons), matched to the flow's targets. */
function targetOf(flow: CatalogFlow, text: string): { resource: string; permission: string; integrationId?: string } {
  const at = text.lastIndexOf(':');
  const resource = text.slice(0, at);
  const permission = text.slice(at + 1);
  const known = flow.targets.filter((t) => t.resource === resource && t.permission === permission);
  return known.length === 1 ? { ...(known[0] as CatalogFlow['targets'][number]) } : { resource, permission };
}

async function askFlow(flows: CatalogFlow[]): Promise<string | undefined> {
  if (flows.length === 0) return undefined;
  const { select, isCancel } = await import('@clack/prompts');
  const answer = await select({
    message: 'Which access?',
    options: flows.map((f) => ({
      value: f.id,
      label: f.name,
      hint: f.approval.mode === 'auto' ? 'self-serve' : 'needs approval',
    })),
  });
  return isCancel(answer) ? undefined : answer;
}

async function askReason(): Promise<string> {
  const { text, isCancel } = await import('@clack/prompts');
  const answer = await text({ message: 'Why do you need it?', validate: (v) => (v?.trim() ? undefined : 'required') });
  if (isCancel(answer)) throw new UsageError('cancelled');
  return answer.trim();
}
