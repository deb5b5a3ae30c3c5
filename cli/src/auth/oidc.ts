import type { Ctx } from '../context.ts';
import { CliError } from '../errors.ts';
import type { Session } from '../session.ts';

export type OidcLoginOptions = {
  device?: boolean;
  browser?: boolean;
  issuer?: string;
  clientId?: string;
  scope?: string;
};

/** OIDC sign-in (authorization code + PKCE on a loopback redirect, or the device flow): being built (issue 11). */
export async function loginOidc(_ctx: Ctx, _url: string, _options: OidcLoginOptions): Promise<Session> {
  throw new CliError('OIDC sign-in is not available in this build yet: use `stint login --local` against npm start');
}

export async function refresh(_session: Extract<Session, { kind: 'oidc' }>): Promise<Session> {
  throw new CliError('OIDC sessions cannot be renewed in this build yet');
}

/** Revokes the refresh token at the issuer (RFC 7009) where it offers revocation; the session file goes either way. */
export async function revokeRefreshToken(_session: Extract<Session, { kind: 'oidc' }>): Promise<void> {}
