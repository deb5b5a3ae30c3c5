import * as z from 'zod';
import { EventType, Severity } from '#events/schemas.ts';
import type { Config } from '#lib/config.ts';
import { Slug } from '#lib/domain/common.ts';
import { SecretRef } from '#lib/domain/integration.ts';

/**
 * Where audit events go: SIEM and ITSM targets, configured in infra/stint.config.ts (`targets: [...]`),
 * validated at synth, and given to every delivery function as STINT_TARGETS (non-secret JSON).
 */
export const SIEM_KINDS = [
  'webhook',
  'splunk-hec',
  'datadog-logs',
  'sumo-logic',
  'microsoft-sentinel',
  'elastic',
] as const;
export const ITSM_KINDS = ['jira', 'servicenow'] as const;
export const TargetKind = z.enum([...SIEM_KINDS, ...ITSM_KINDS], {
  error: `must be one of ${[...SIEM_KINDS, ...ITSM_KINDS].join(', ')}`,
});
export type TargetKind = z.infer<typeof TargetKind>;

export function isItsm(kind: TargetKind): boolean {
  return (ITSM_KINDS as readonly string[]).includes(kind);
}

/** Which events a target receives; every field narrows (AND), values inside a field widen (OR). */
export const TargetFilter = z.strictObject({
  types: z.array(EventType).min(1).optional(),
  flowIds: z.array(Slug).min(1).optional(),
  /** Flow labels, e.g. `{ env: ['prod'] }`. */
  labels: z.record(z.string().min(1).max(64), z.array(z.string().max(256)).min(1)).optional(),
  minSeverity: Severity.optional(),
});
export type TargetFilter = z.infer<typeof TargetFilter>;

export const TargetConfig = z
  .strictObject({
    /** Names the rule, queues and alarm: lowercase, short. */
    name: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, {
      error: 'must be 1–31 lowercase letters, digits or "-", starting with a letter',
    }),
    kind: TargetKind,
    /** The vendor endpoint (HTTPS; see each kind for which URL). */
    endpoint: z.url({ error: 'must be a URL' }),
    /** Where the credential lives (Secrets Manager ARN in AWS; env:/file: locally). Never the credential itself. */
    secretRef: SecretRef,
    filter: TargetFilter.default({}),
    /** SIEM kinds: Stint's own event JSON, or OCSF (User Access Management, class 3005). */
    format: z.enum(['stint', 'ocsf']).default('stint'),
    /** Allow an endpoint that resolves to a private/loopback/link-local address (e.g. a SIEM inside the VPC). */
    allowPrivateNetwork: z.boolean().default(false),
    /** Kind-specific options, validated by the kind's own schema (lib/targets/registry.ts). */
    options: z.record(z.string(), z.unknown()).default({}),
  })
  .superRefine((t, ctx) => {
    if (isItsm(t.kind) && t.format !== 'stint') {
      ctx.addIssue({ code: 'custom', path: ['format'], message: 'applies to SIEM kinds only' });
    }
  });
export type TargetConfig = z.infer<typeof TargetConfig>;
export type TargetConfigInput = z.input<typeof TargetConfig>;

/** Every target of a delivery function: STINT_TARGETS (Config.targetsJson) parsed, or a configuration error. */
export function targetsOf(config: Pick<Config, 'targetsJson'>): TargetConfig[] {
  const parsed = z.array(TargetConfig).safeParse(JSON.parse(config.targetsJson));
  if (!parsed.success) throw new Error(`Configuration error: STINT_TARGETS: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

const SEVERITY_ORDER: Severity[] = ['info', 'warning', 'high'];

/**
 * The EventBridge event pattern of a target's rule (the local runtime matches the same pattern). Flow ids
 * and labels select request and grant events (`detail.request`); a target filtered by them gets no admin
 * (flow/integration/bundle) events.
 */
export function eventPatternFor(filter: TargetFilter, source: string): Record<string, unknown> {
  const detail: Record<string, unknown> = {};
  if (filter.minSeverity !== undefined) {
    detail.severity = SEVERITY_ORDER.slice(SEVERITY_ORDER.indexOf(filter.minSeverity));
  }
  const request: Record<string, unknown> = {};
  if (filter.flowIds !== undefined) request.flowId = filter.flowIds;
  if (filter.labels !== undefined) request.labels = filter.labels;
  if (Object.keys(request).length > 0) detail.request = request;
  return {
    source: [source],
    ...(filter.types === undefined ? {} : { 'detail-type': filter.types }),
    ...(Object.keys(detail).length === 0 ? {} : { detail }),
  };
}
