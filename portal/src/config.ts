/**
 * The portal's runtime settings, read from /config.json next to index.html: the local runtime serves
 * `{ "mode": "local" }`; the CloudFront deployment writes the OIDC settings of the stack. `apiUrl` empty or absent
 * means the API is on the portal's own origin.
 */
export type PortalConfig =
  | { mode: 'local'; apiUrl: string }
  | { mode: 'oidc'; apiUrl: string; issuer: string; clientId: string; scopes: string; redirectPath: string };

function text(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '') throw new Error(`config.json: ${name} must be a non-empty string`);
  return value;
}

/** Parses config.json; a wrong file fails loudly on the page instead of signing in against the wrong place. */
export function parseConfig(json: unknown): PortalConfig {
  if (typeof json !== 'object' || json === null) throw new Error('config.json must be a JSON object');
  const c = json as Record<string, unknown>;
  const apiUrl = typeof c.apiUrl === 'string' ? c.apiUrl.replace(/\/+$/, '') : '';
  if (c.mode === 'local') return { mode: 'local', apiUrl };
  if (c.mode !== 'oidc') throw new Error('config.json: mode must be "local" or "oidc"');
  return {
    mode: 'oidc',
    apiUrl,
    issuer: text(c.issuer, 'issuer'),
    clientId: text(c.clientId, 'clientId'),
    scopes: typeof c.scopes === 'string' && c.scopes !== '' ? c.scopes : 'openid email profile',
    redirectPath: typeof c.redirectPath === 'string' && c.redirectPath.startsWith('/') ? c.redirectPath : '/',
  };
}

export async function loadConfig(): Promise<PortalConfig> {
  const res = await fetch('/config.json', { cache: 'no-store' });
  if (!res.ok) throw new Error(`config.json answered ${res.status}`);
  return parseConfig(await res.json());
}
