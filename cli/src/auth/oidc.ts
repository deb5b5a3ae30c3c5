import * as oidc from 'openid-client';
import * as z from 'zod';
import type { Ctx } from '../context.ts';
import { CliError, SignedOutError } from '../errors.ts';
import { expiryOf, type Session } from '../session.ts';
import { opener } from './browser.ts';
import { listenForCallback } from './loopback.ts';
import { printable } from './printable.ts';

/**
 * OIDC sign-in with openid-client (docs/cli-sign-in.md): the authorization code grant with PKCE (S256) on a loopback
 * redirect (RFC 8252), or the device authorization grant (RFC 8628). The issuer, the CLI's client id and its scopes
 * come from the API's `GET /auth-config` unless given. The API is then called with the access token.
 */
export type OidcLoginOptions = {
  device?: boolean;
  browser?: boolean;
  issuer?: string;
  clientId?: string;
  scope?: string;
};

type OidcSession = Extract<Session, { kind: 'oidc' }>;

/** How long the browser sign-in waits for the redirect. */
const SIGN_IN_TIMEOUT_MS = 5 * 60_000;

const AuthConfig = z.object({
  issuer: z.url(),
  cli: z.object({ clientId: z.string().min(1), scopes: z.array(z.string().min(1)) }).optional(),
  local: z.boolean().optional(),
});

export async function loginOidc(ctx: Ctx, url: string, options: OidcLoginOptions): Promise<Session> {
  const announced =
    options.issuer !== undefined && options.clientId !== undefined ? undefined : await authConfigOf(url);
  const issuer = options.issuer ?? announced?.issuer;
  const clientId = options.clientId ?? announced?.cli?.clientId;
  if (issuer === undefined) throw new CliError(`${url} announces no issuer: pass --issuer <url>`);
  if (clientId === undefined) {
    throw new CliError(
      announced?.local === true
        ? `${url} is a local runtime with no OIDC client for the CLI: use \`stint login --local --user <id>\``
        : `${url} announces no OIDC client for the CLI: pass --client-id <id> (ask your Stint administrator)`,
    );
  }
  // The portal's and the Cognito clients' scopes when nothing says otherwise: the API wants an email.
  const scope = options.scope ?? announced?.cli?.scopes.join(' ') ?? 'openid email profile';
  const config = await configure(issuer, clientId);

  const device =
    options.device === true ||
    // No browser to open here (a server, SSH): the device flow, where the issuer offers it, works from any device.
    (options.device === undefined &&
      options.browser !== false &&
      opener() === undefined &&
      config.serverMetadata().device_authorization_endpoint !== undefined);
  const tokens = device ? await deviceGrant(ctx, config, scope) : await codeGrant(ctx, config, scope, options);
  return sessionOf(tokens, { url, issuer: config.serverMetadata().issuer, clientId });
}

/** The refresh_token grant; any failure (no refresh token, refused, issuer unreachable) means signing in again. */
export async function refresh(session: Extract<Session, { kind: 'oidc' }>): Promise<Session> {
  if (session.refreshToken === undefined) {
    throw new SignedOutError(`the session expired (no refresh token): run \`stint login --url ${session.url}\``);
  }
  try {
    const config = await configure(session.issuer, session.clientId);
    const tokens = await oidc.refreshTokenGrant(config, session.refreshToken);
    const renewed = sessionOf(tokens, session);
    // Issuers that do not rotate refresh tokens (or ID tokens) answer without them: the old ones stay good.
    return {
      ...renewed,
      refreshToken: renewed.refreshToken ?? session.refreshToken,
      ...(renewed.idToken === undefined && session.idToken !== undefined ? { idToken: session.idToken } : {}),
      ...(renewed.scope === undefined && session.scope !== undefined ? { scope: session.scope } : {}),
    };
  } catch (error) {
    throw new SignedOutError(
      `the session expired and could not be renewed (${messageOf(error)}): run \`stint login --url ${session.url}\``,
    );
  }
}

/** Revokes the refresh token at the issuer (RFC 7009) where it offers revocation; the session file goes either way. */
export async function revokeRefreshToken(session: Extract<Session, { kind: 'oidc' }>): Promise<void> {
  if (session.refreshToken === undefined) return;
  try {
    const config = await configure(session.issuer, session.clientId, 10);
    if (config.serverMetadata().revocation_endpoint === undefined) return;
    await oidc.tokenRevocation(config, session.refreshToken, { token_type_hint: 'refresh_token' });
  } catch {
    // Signing out still forgets the tokens; a refresh token the issuer could not be told about expires on its own.
  }
}

async function authConfigOf(url: string): Promise<z.infer<typeof AuthConfig>> {
  let res: Response;
  try {
    res = await fetch(`${url}/auth-config`, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new CliError(`could not reach the API at ${url}: ${messageOf(error)}`);
  }
  const parsed = AuthConfig.safeParse(await res.json().catch(() => undefined));
  if (!res.ok || !parsed.success) {
    throw new CliError(
      `${url} did not say where to sign in (GET /auth-config answered ${res.status}): pass --issuer and --client-id`,
    );
  }
  return parsed.data;
}

/** Plain http only for an issuer on this machine (tests, a local stand-in): anywhere else tokens would travel in clear. */
function isLoopback(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

async function configure(issuer: string, clientId: string, timeout?: number): Promise<oidc.Configuration> {
  const server = new URL(issuer);
  const insecure = server.protocol === 'http:' && isLoopback(server);
  if (server.protocol !== 'https:' && !insecure) {
    throw new CliError(`the issuer ${issuer} must be an https URL (plain http only on this machine's loopback)`);
  }
  try {
    return await oidc.discovery(server, clientId, undefined, oidc.None(), {
      ...(insecure ? { execute: [oidc.allowInsecureRequests] } : {}),
      ...(timeout === undefined ? {} : { timeout }),
    });
  } catch (error) {
    throw new CliError(`could not read the OpenID configuration of ${issuer}: ${messageOf(error)}`);
  }
}

async function codeGrant(
  ctx: Ctx,
  config: oidc.Configuration,
  scope: string,
  options: OidcLoginOptions,
): Promise<oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const redirect = await listenForCallback(state, SIGN_IN_TIMEOUT_MS);
  try {
    const authorizationUrl = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirect.redirectUri,
      scope,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    }).href;
    const open = options.browser === false ? undefined : opener();
    if (open === undefined) {
      ctx.err(`Open this URL to sign in: ${authorizationUrl}\n`);
    } else {
      ctx.err(`Opening the browser to sign in. If it does not open, visit: ${authorizationUrl}\n`);
      open(authorizationUrl);
    }
    ctx.err('Waiting for the sign-in to complete…\n');
    const callback = await redirect.callback;
    // The callback URL without its query is exactly the redirect_uri sent above (openid-client sends it back).
    return await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`the sign-in failed: ${messageOf(error)}`);
  } finally {
    await redirect.close();
  }
}

async function deviceGrant(
  ctx: Ctx,
  config: oidc.Configuration,
  scope: string,
): Promise<oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers> {
  if (config.serverMetadata().device_authorization_endpoint === undefined) {
    throw new CliError(
      `the issuer ${config.serverMetadata().issuer} does not offer the device flow: sign in without --device`,
    );
  }
  try {
    const start = await oidc.initiateDeviceAuthorization(config, { scope });
    ctx.err(`To sign in, open ${printable(start.verification_uri)} and enter the code ${printable(start.user_code)}\n`);
    if (start.verification_uri_complete !== undefined) {
      ctx.err(`(or open ${printable(start.verification_uri_complete)})\n`);
    }
    ctx.err('Waiting for the sign-in to complete…\n');
    // openid-client waits `interval` seconds between polls and 5 s more after each slow_down (RFC 8628 section 3.5),
    // until the code expires.
    return await oidc.pollDeviceAuthorizationGrant(config, start);
  } catch (error) {
    const code = error instanceof oidc.ResponseBodyError ? error.error : undefined;
    if (code === 'expired_token') throw new CliError('the sign-in code expired: run `stint login --device` again');
    if (code === 'access_denied') throw new CliError('the sign-in was refused at the issuer');
    throw new CliError(`the sign-in failed: ${messageOf(error)}`);
  }
}

function sessionOf(
  tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers,
  where: { url: string; issuer: string; clientId: string },
): OidcSession {
  const expiresIn = tokens.expiresIn();
  return {
    kind: 'oidc',
    url: where.url,
    issuer: where.issuer,
    clientId: where.clientId,
    accessToken: tokens.access_token,
    expiresAt: expiresIn === undefined ? expiryOf(tokens.access_token) : Math.floor(Date.now() / 1000) + expiresIn,
    ...(tokens.refresh_token === undefined ? {} : { refreshToken: tokens.refresh_token }),
    ...(tokens.id_token === undefined ? {} : { idToken: tokens.id_token }),
    ...(tokens.scope === undefined ? {} : { scope: tokens.scope }),
  };
}

/** openid-client's errors carry the issuer's `error` and `error_description`; a network failure hides in `cause`. */
function messageOf(error: unknown): string {
  if (error instanceof oidc.ResponseBodyError) {
    return printable(
      error.error_description === undefined ? error.error : `${error.error}: ${error.error_description}`,
    );
  }
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    if (error.message === 'fetch failed' && cause instanceof Error) return printable(cause.message);
    return printable(error.message);
  }
  return printable(String(error));
}
