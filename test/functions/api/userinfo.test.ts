import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler as getMe } from '#functions/api/get-me.ts';
import { lambdaContext } from '../../support/api-event.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';
import { stubHandlerEnv } from '../../support/handler-env.ts';
import { startTestIssuer, type TestIssuer } from '../../support/token.ts';

/**
 * An access token without `email` at handler level: the function asks the UserInfo endpoint named by
 * STINT_USERINFO_URL with the caller's token; an endpoint that fails is a 503 problem, never a 401.
 */
let table: LocalTable;
let issuer: TestIssuer;
let userinfo: Server;
/** What the UserInfo endpoint answers, by `sub` of the caller (default 200 with an email). */
const broken = new Set<string>();

beforeAll(async () => {
  table = await startDynalite();
  issuer = await startTestIssuer();
  userinfo = createServer(async (req, res) => {
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
    const sub = String(payload.sub);
    if (broken.has(sub)) return res.writeHead(502).end();
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ sub, email: `${sub}@idp.example` }));
  });
  await new Promise<void>((resolve) => userinfo.listen(0, '127.0.0.1', () => resolve()));
  const address = userinfo.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  stubHandlerEnv({ table, issuer });
  vi.stubEnv('STINT_USERINFO_URL', `http://127.0.0.1:${address.port}/oauth2/userInfo`);
});
afterAll(async () => {
  vi.unstubAllEnvs();
  userinfo.close();
  userinfo.closeAllConnections();
  await issuer.stop();
  await table.stop();
});

const me = async (sub: string) => {
  const result = await getMe(
    await issuer.event({ method: 'GET', path: '/me', claims: { sub, 'cognito:groups': ['dev'], token_use: 'access' } }),
    lambdaContext,
  );
  return {
    status: result.statusCode,
    type: result.headers?.['content-type']?.toString(),
    body: JSON.parse(result.body ?? '{}'),
  };
};

describe('GET /me with an access token that carries no email', () => {
  it('answers with the email the UserInfo endpoint gives and the groups of the token', async () => {
    const response = await me('nora');

    expect(response).toMatchObject({ status: 200, body: { sub: 'nora', email: 'nora@idp.example', groups: ['dev'] } });
  });

  it('answers 503 problem+json when the UserInfo endpoint fails', async () => {
    broken.add('otto');

    const response = await me('otto');

    expect(response).toMatchObject({
      status: 503,
      type: 'application/problem+json',
      body: { type: 'https://stint.dev/problems/identity-provider-unavailable', title: 'Service Unavailable' },
    });
  });
});
