import { UserManager, WebStorageStateStore } from 'oidc-client-ts';
import type { PortalConfig } from '../config.ts';

/** Who is signed in, as the portal shows it (the API decides what they may do: GET /me). */
export type Session = { sub: string; label: string };

/**
 * How the portal signs in and gets a bearer token for each API call. Tokens live in memory and sessionStorage
 * (gone when the tab closes), are refreshed before they expire and never appear in a URL.
 */
export interface Authenticator {
  readonly kind: 'local' | 'oidc';
  /** The current session, after completing a sign-in redirect if the page was opened by one. */
  start(): Promise<Session | undefined>;
  /** A valid access token, refreshed when close to expiry; undefined when signed out. */
  token(): Promise<string | undefined>;
  signOut(): Promise<void>;
}

const REFRESH_MARGIN_S = 120;

function expiryOf(jwt: string): number {
  try {
    const payload = JSON.parse(atob((jwt.split('.')[1] ?? '').replace(/-/g, '+').replace(/_/g, '/'))) as {
      exp?: unknown;
    };
    return typeof payload.exp === 'number' ? payload.exp : 0;
  } catch {
    return 0;
  }
}

/** The identity a person types into the local sign-in form. */
export type LocalIdentity = { sub: string; email: string; groups: string[] };

const LOCAL_KEY = 'stint.local.session';

/**
 * Local runtime only: the runtime's own issuer (POST /_local/token) mints a token for whoever is typed in. The
 * identity is kept for the tab so the token can be minted again before it expires.
 */
export class LocalAuthenticator implements Authenticator {
  readonly kind = 'local';
  private current: { identity: LocalIdentity; token: string } | undefined;

  constructor(private readonly apiUrl: string) {}

  async start(): Promise<Session | undefined> {
    const stored = sessionStorage.getItem(LOCAL_KEY);
    if (stored === null) return undefined;
    try {
      const parsed = JSON.parse(stored) as { identity: LocalIdentity; token: string };
      this.current = parsed;
      return this.session(parsed.identity);
    } catch {
      sessionStorage.removeItem(LOCAL_KEY);
      return undefined;
    }
  }

  async signIn(identity: LocalIdentity): Promise<Session> {
    const token = await this.mint(identity);
    this.current = { identity, token };
    sessionStorage.setItem(LOCAL_KEY, JSON.stringify(this.current));
    return this.session(identity);
  }

  async token(): Promise<string | undefined> {
    if (this.current === undefined) return undefined;
    if (expiryOf(this.current.token) - Date.now() / 1000 < REFRESH_MARGIN_S) {
      this.current = { identity: this.current.identity, token: await this.mint(this.current.identity) };
      sessionStorage.setItem(LOCAL_KEY, JSON.stringify(this.current));
    }
    return this.current.token;
  }

  async signOut(): Promise<void> {
    this.current = undefined;
    sessionStorage.removeItem(LOCAL_KEY);
  }

  private session(identity: LocalIdentity): Session {
    return { sub: identity.sub, label: identity.email === '' ? identity.sub : `${identity.sub} (${identity.email})` };
  }

  private async mint(identity: LocalIdentity): Promise<string> {
    const res = await fetch(`${this.apiUrl}/_local/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(identity),
    });
    const body = (await res.json().catch(() => ({}))) as {
      token?: string;
      message?: string;
      errors?: { field: string; message: string }[];
    };
    if (!res.ok || body.token === undefined) {
      const first = body.errors?.[0];
      throw new Error(first === undefined ? (body.message ?? 'sign-in failed') : `${first.field}: ${first.message}`);
    }
    return body.token;
  }
}

/**
 * OpenID Connect authorization code flow with PKCE (oidc-client-ts) against the deployment's issuer (Cognito
 * managed login, Okta, Entra ID…). The redirect comes back to `redirectPath` with `?code&state`, which are removed
 * from the address bar once exchanged; tokens are renewed silently with the refresh token.
 */
export class OidcAuthenticator implements Authenticator {
  readonly kind = 'oidc';
  private readonly manager: UserManager;

  constructor(config: Extract<PortalConfig, { mode: 'oidc' }>) {
    this.manager = new UserManager({
      authority: config.issuer,
      client_id: config.clientId,
      redirect_uri: `${window.location.origin}${config.redirectPath}`,
      post_logout_redirect_uri: `${window.location.origin}${config.redirectPath}`,
      response_type: 'code',
      scope: config.scopes,
      userStore: new WebStorageStateStore({ store: window.sessionStorage }),
      stateStore: new WebStorageStateStore({ store: window.sessionStorage }),
      automaticSilentRenew: true,
    });
  }

  async start(): Promise<Session | undefined> {
    const params = new URLSearchParams(window.location.search);
    if (params.has('code') && params.has('state')) {
      await this.manager.signinRedirectCallback();
      window.history.replaceState(null, '', `${window.location.pathname}${window.location.hash}`);
    }
    const user = await this.manager.getUser();
    if (user === null || user.expired === true) return undefined;
    const sub = user.profile.sub;
    return { sub, label: typeof user.profile.email === 'string' ? user.profile.email : sub };
  }

  signIn(): Promise<void> {
    return this.manager.signinRedirect();
  }

  async token(): Promise<string | undefined> {
    let user = await this.manager.getUser();
    if (user !== null && (user.expires_in ?? 0) < REFRESH_MARGIN_S) user = await this.manager.signinSilent();
    return user?.access_token;
  }

  /** Forgets the tokens here first, then ends the issuer's session too (RP-initiated logout), back to the portal. */
  async signOut(): Promise<void> {
    const user = await this.manager.getUser();
    await this.manager.removeUser();
    await this.manager
      .signoutRedirect(user?.id_token === undefined ? {} : { id_token_hint: user.id_token })
      .catch(() => undefined);
  }
}

export function authenticatorFor(config: PortalConfig): LocalAuthenticator | OidcAuthenticator {
  return config.mode === 'local' ? new LocalAuthenticator(config.apiUrl) : new OidcAuthenticator(config);
}
