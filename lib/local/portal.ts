import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, relative } from 'node:path';
import { contentSecurityPolicy } from '#lib/http/portal-csp.ts';

/**
 * The portal on the local runtime: the built files of portal/dist at `/` on the API's own port, and a
 * `/config.json` that tells the portal to sign in with the local issuer. The portal routes in the URL fragment
 * (`/#/requests`), so the only paths served here are the build's files; every other path is the API's.
 * Responses carry the headers CloudFront adds in AWS (docs/portal.md), with the same strict CSP.
 */
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

/** What the portal's config.json says (portal/src/config.ts parses it). */
export type PortalSettings =
  | { mode: 'local'; apiUrl: string }
  | { mode: 'oidc'; apiUrl: string; issuer: string; clientId: string; scopes: string; redirectPath: string };

/** The CSP the local runtime sends with the portal: the CloudFront one, with the API on the portal's origin. */
export function portalCsp(extraOrigins: readonly string[] = []): string {
  return contentSecurityPolicy({ connect: ["'self'", ...extraOrigins], formAction: ["'self'", ...extraOrigins] });
}

export const LOCAL_PORTAL_CSP = portalCsp();

type File = { body: Buffer; type: string; immutable: boolean };

export type LocalPortal = {
  /** Serves a portal file; false when the path is not one (the API gets it). */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
};

function list(dir: string, root: string, into: Map<string, File>): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) list(path, root, into);
    else if (!name.startsWith('.')) {
      const url = `/${relative(root, path).split('\\').join('/')}`;
      into.set(url, {
        body: readFileSync(path),
        type: TYPES[extname(name)] ?? 'application/octet-stream',
        immutable: url.startsWith('/assets/'),
      });
    }
  }
}

/** The portal's files, read once; paths are matched exactly against the build's list (no file-system lookups). */
export function localPortal(dist: string, settings: PortalSettings = { mode: 'local', apiUrl: '' }): LocalPortal {
  const headers = {
    'content-security-policy': portalCsp(settings.mode === 'oidc' ? [new URL(settings.issuer).origin] : []),
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
  };
  if (!existsSync(join(dist, 'index.html')))
    throw new Error(`no portal build in ${dist} (run: npx tsx portal/build.ts)`);
  const files = new Map<string, File>();
  list(dist, dist, files);
  const index = files.get('/index.html');
  if (index !== undefined) files.set('/', index);
  files.set('/config.json', {
    body: Buffer.from(JSON.stringify(settings)),
    type: TYPES['.json'] ?? 'application/json',
    immutable: false,
  });
  return {
    handle(req, res) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const file = files.get(path);
      if (file === undefined) return false;
      res.writeHead(200, {
        'content-type': file.type,
        'content-length': String(file.body.length),
        'cache-control': file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
        ...headers,
      });
      res.end(req.method === 'HEAD' ? undefined : file.body);
      return true;
    },
  };
}
