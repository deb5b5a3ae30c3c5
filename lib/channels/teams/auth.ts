import { createRemoteJWKSet, errors, type JWTPayload, jwtVerify } from 'jose';
import * as z from 'zod';

/**
 * Verifies that an activity POSTed to the bot really comes from the Bot Framework Connector, as specified in
 * Microsoft's "Authentication with the Bot Connector API" (learn.microsoft.com/azure/bot-service/rest-api/
 * bot-framework-rest-connector-authentication, section "Authenticate requests from the Bot Connector service to
 * your bot"): the request carries `Authorization: Bearer <JWT>`; the JWT is signed (RS256) with a key published in
 * the JWKS that the OpenID metadata document (`https://login.botframework.com/v1/.well-known/openidconfiguration`)
 * names in `jwks_uri`; its issuer is `https://api.botframework.com`; its audience is the bot's Microsoft App ID;
 * it is within its validity period (the document allows 5 minutes of clock skew); and its `serviceUrl` claim
 * equals the activity's `serviceUrl`. Anything else is refused (401) before the activity is looked at.
 *
 * Not checked (yet): the per-key `endorsements` that bind a key to a `channelId` (jose's remote JWKS does not
 * expose extra JWK members); Stint only acts on `msteams` invokes, and the signature and audience already bind
 * the token to this bot.
 */
export const BOT_FRAMEWORK_OPENID_METADATA_URL = 'https://login.botframework.com/v1/.well-known/openidconfiguration';
export const BOT_FRAMEWORK_ISSUER = 'https://api.botframework.com';
/** The clock skew the Bot Connector authentication document allows. */
export const CLOCK_TOLERANCE_SECONDS = 5 * 60;

export type BotAuthFailure =
  | 'missing-token'
  | 'bad-token'
  | 'expired'
  | 'wrong-audience'
  | 'wrong-issuer'
  | 'unknown-key'
  | 'service-url-mismatch'
  | 'metadata-unavailable';

export type BotAuthCheck = { ok: true; claims: JWTPayload } | { ok: false; reason: BotAuthFailure };

const OpenIdMetadata = z.looseObject({ issuer: z.string().optional(), jwks_uri: z.url() });

export type BotFrameworkAuthOptions = {
  /** The bot's Microsoft App ID: the only accepted audience. */
  appId: string;
  /** OpenID metadata document; a local stand-in in tests. */
  openIdMetadataUrl?: string;
  now?: () => Date;
};

/** One per process (module scope): the metadata and the signing keys are fetched once and cached by jose. */
export class BotFrameworkAuth {
  private jwks: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;
  private readonly metadataUrl: string;

  constructor(private readonly options: BotFrameworkAuthOptions) {
    this.metadataUrl = options.openIdMetadataUrl ?? BOT_FRAMEWORK_OPENID_METADATA_URL;
  }

  async verify(authorization: string | undefined, activity: { serviceUrl?: unknown }): Promise<BotAuthCheck> {
    const match = /^Bearer ([A-Za-z0-9_.-]+)$/.exec(authorization?.trim() ?? '');
    const token = match?.[1];
    if (token === undefined) return { ok: false, reason: 'missing-token' };
    let keys: ReturnType<typeof createRemoteJWKSet>;
    try {
      keys = await this.keys();
    } catch {
      return { ok: false, reason: 'metadata-unavailable' };
    }
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(token, keys, {
        issuer: BOT_FRAMEWORK_ISSUER,
        audience: this.options.appId,
        algorithms: ['RS256'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['exp'],
        currentDate: this.options.now?.() ?? new Date(),
      }));
    } catch (error) {
      return { ok: false, reason: failureOf(error) };
    }
    if (typeof activity.serviceUrl !== 'string' || claims.serviceUrl !== activity.serviceUrl) {
      return { ok: false, reason: 'service-url-mismatch' };
    }
    return { ok: true, claims };
  }

  private keys(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    this.jwks ??= this.loadKeys().catch((error: unknown) => {
      this.jwks = undefined; // try again on the next activity
      throw error;
    });
    return this.jwks;
  }

  private async loadKeys(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    const response = await fetch(this.metadataUrl, { signal: AbortSignal.timeout(5000) });
    if (!response.ok) throw new Error(`OpenID metadata: HTTP ${response.status}`);
    const metadata = OpenIdMetadata.parse(await response.json());
    const jwksUri = new URL(metadata.jwks_uri);
    // The keys must come from where the metadata came from: a metadata document cannot send us to plain HTTP.
    if (jwksUri.protocol !== new URL(this.metadataUrl).protocol) throw new Error('OpenID metadata: jwks_uri scheme');
    return createRemoteJWKSet(jwksUri, { timeoutDuration: 5000, cacheMaxAge: 24 * 60 * 60 * 1000 });
  }
}

function failureOf(error: unknown): BotAuthFailure {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWKSNoMatchingKey) return 'unknown-key';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return 'wrong-audience';
    if (error.claim === 'iss') return 'wrong-issuer';
  }
  return 'bad-token';
}
