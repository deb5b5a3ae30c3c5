import { CliError, SignedOutError } from '../errors.ts';
import { expiryOf, type LocalIdentity, type Session } from '../session.ts';

/**
 * Signing in to a local runtime (`npm start`): its issuer (`POST /_local/token`) mints a token for whoever is named,
 * which is what makes it local only. The API verifies that token exactly as API Gateway verifies a real one.
 */
export async function mintLocal(url: string, identity: LocalIdentity): Promise<Extract<Session, { kind: 'local' }>> {
  let res: Response;
  try {
    res = await fetch(`${url}/_local/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sub: identity.sub, email: identity.email, groups: identity.groups, use: 'id' }),
    });
  } catch (error) {
    const cause = (error as { cause?: { message?: string } }).cause?.message ?? String(error);
    throw new CliError(`could not reach a local runtime at ${url}: ${cause}`);
  }
  if (res.status === 404)
    throw new CliError(`${url} is not a local runtime (no /_local/token): use \`stint login --url ${url}\``);
  const body = (await res.json().catch(() => ({}))) as { token?: unknown; message?: unknown; errors?: unknown };
  if (!res.ok || typeof body.token !== 'string') {
    const detail = Array.isArray(body.errors)
      ? (body.errors as { field?: string; message?: string }[]).map((e) => `${e.field}: ${e.message}`).join('; ')
      : String(body.message ?? res.status);
    throw new CliError(`the local issuer refused: ${detail}`);
  }
  return { kind: 'local', url, accessToken: body.token, expiresAt: expiryOf(body.token), identity };
}

export async function renewLocal(session: Extract<Session, { kind: 'local' }>): Promise<Session> {
  try {
    return await mintLocal(session.url, session.identity);
  } catch (error) {
    throw new SignedOutError(`the local session expired and could not be renewed (${(error as Error).message})`);
  }
}
