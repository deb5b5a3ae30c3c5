import * as z from 'zod';
import type { Config } from '#lib/config.ts';
import { SecretRef } from '#lib/domain/integration.ts';

/**
 * On-call providers, configured in infra/stint.config.ts (`oncall: [...]`), validated at synth (infra/config.ts adds
 * the deployed-vs-local rules) and given to the functions that need them as STINT_ONCALL (non-secret JSON).
 */
export const ONCALL_KINDS = ['pagerduty', 'opsgenie'] as const;

export const OnCallProviderConfig = z.strictObject({
  /** What approver sets and flows name (`oncall: { provider: <name>, ... }`). */
  name: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, {
    error: 'must be 1–31 lowercase letters, digits or "-", starting with a letter',
  }),
  kind: z.enum(ONCALL_KINDS, { error: `must be one of ${ONCALL_KINDS.join(', ')}` }),
  /**
   * The API's base URL; omitted → the vendor's for `region`: PagerDuty https://api.pagerduty.com (EU
   * https://api.eu.pagerduty.com), Opsgenie https://api.opsgenie.com (EU https://api.eu.opsgenie.com).
   * A stand-in's URL in tests and the local runtime. Wins over `region`.
   */
  apiUrl: z.url({ error: 'must be a URL' }).optional(),
  /** The vendor's service region (the account's data location). */
  region: z.enum(['us', 'eu'], { error: 'must be "us" or "eu"' }).default('us'),
  /** Where the API key lives (Secrets Manager ARN in AWS; env:/file: locally). Never the key itself. */
  secretRef: SecretRef,
  /** How long a successful answer is reused (0: never). Failures are never cached. */
  cacheSeconds: z
    .number({ error: 'must be a number of seconds' })
    .int({ error: 'must be a whole number of seconds' })
    .min(0, { error: 'must be 0 (no cache) or more' })
    .max(300, { error: 'must be at most 300 (a short cache: shifts change)' })
    .default(60),
});
export type OnCallProviderConfig = z.infer<typeof OnCallProviderConfig>;
export type OnCallProviderConfigInput = z.input<typeof OnCallProviderConfig>;

export const DEFAULT_API_URLS: Record<OnCallProviderConfig['kind'], Record<OnCallProviderConfig['region'], string>> = {
  // https://developer.pagerduty.com/docs/rest-api-v2/ (service regions: https://support.pagerduty.com/main/docs/service-regions)
  pagerduty: { us: 'https://api.pagerduty.com', eu: 'https://api.eu.pagerduty.com' },
  // https://docs.opsgenie.com/docs/who-is-on-call-api ("If using the EU instance of Opsgenie, the URL needs to be
  // https://api.eu.opsgenie.com")
  opsgenie: { us: 'https://api.opsgenie.com', eu: 'https://api.eu.opsgenie.com' },
};

/** The base URL a provider's client calls, without a trailing slash. */
export function apiUrlOf(provider: Pick<OnCallProviderConfig, 'kind' | 'region' | 'apiUrl'>): string {
  return (provider.apiUrl ?? DEFAULT_API_URLS[provider.kind][provider.region]).replace(/\/+$/, '');
}

/** Every configured on-call provider: STINT_ONCALL (Config.oncallJson; absent: none) parsed, or a configuration error. */
export function oncallProvidersOf(config: Pick<Config, 'oncallJson'>): OnCallProviderConfig[] {
  let raw: unknown;
  try {
    raw = JSON.parse(config.oncallJson);
  } catch {
    throw new Error('Configuration error: STINT_ONCALL is not JSON');
  }
  const parsed = z.array(OnCallProviderConfig).safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`Configuration error: STINT_ONCALL: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  const names = new Set<string>();
  for (const p of parsed.data) {
    if (names.has(p.name)) throw new Error(`Configuration error: STINT_ONCALL: "${p.name}" is named twice`);
    names.add(p.name);
  }
  return parsed.data;
}
