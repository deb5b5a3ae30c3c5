import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { routes } from '#functions/api/routes.ts';
import { IDENTITY_READS } from '#lib/store/access.ts';
import { type CfnTemplate, functionByEntry, onlyResourceOfType, synth } from './synth.ts';

/**
 * API functions verify the bearer token themselves (API Gateway flattens array claims such as groups): each one is
 * told the authorizer's own issuer and audiences, and can read the directory to resolve its caller.
 */
const Authorizer = z.object({ JwtConfiguration: z.object({ Issuer: z.unknown(), Audience: z.array(z.unknown()) }) });

function authorizerOf(cfn: CfnTemplate) {
  return Authorizer.parse(onlyResourceOfType(cfn, 'AWS::ApiGatewayV2::Authorizer')[1].Properties).JwtConfiguration;
}

const authenticated = routes.filter((r) => r.auth);
const envOf = (cfn: CfnTemplate, entry: string) =>
  functionByEntry(cfn, `functions/api/${entry}.ts`).Environment.Variables;

describe('API functions know the token issuer', () => {
  it("gives every authenticated route the Cognito pool's issuer, both clients, key set and UserInfo endpoint", () => {
    const { cfn } = synth({ stackName: 'StintTest' });
    const { Issuer, Audience } = authorizerOf(cfn);
    const [poolId] = onlyResourceOfType(cfn, 'AWS::Cognito::UserPool');
    const [domainId] = onlyResourceOfType(cfn, 'AWS::Cognito::UserPoolDomain');
    expect(Audience).toHaveLength(2);

    for (const route of authenticated) {
      const env = envOf(cfn, route.entry);
      expect(env.STINT_JWT_ISSUER, route.entry).toEqual(Issuer);
      expect(env.STINT_JWT_AUDIENCE, route.entry).toEqual({ 'Fn::Join': ['', [Audience[0], ',', Audience[1]]] });
      expect(env.STINT_JWKS_URL, route.entry).toEqual({
        'Fn::Join': ['', [{ 'Fn::GetAtt': [poolId, 'ProviderURL'] }, '/.well-known/jwks.json']],
      });
      expect(env.STINT_USERINFO_URL, route.entry).toEqual({
        'Fn::Join': [
          '',
          ['https://', { Ref: domainId }, '.auth.', { Ref: 'AWS::Region' }, '.amazoncognito.com/oauth2/userInfo'],
        ],
      });
      expect(env.STINT_TABLE_NAME, route.entry).toBeDefined();
    }
    expect(envOf(cfn, 'health').STINT_JWT_ISSUER).toBeUndefined();
    expect(envOf(cfn, 'health').STINT_USERINFO_URL).toBeUndefined();
  });

  it("gives a configured issuer's audiences as a comma list, and leaves its key set to discovery", () => {
    const auth = { issuer: 'https://login.example.com/oauth2/default', audience: ['api://stint', 'stint-cli'] };
    const { cfn } = synth({ stackName: 'StintProd', auth, portal: { clientId: 'stint-portal' } });

    for (const route of authenticated) {
      const env = envOf(cfn, route.entry);
      expect(env.STINT_JWT_ISSUER, route.entry).toBe(auth.issuer);
      expect(env.STINT_JWT_AUDIENCE, route.entry).toBe('api://stint,stint-cli');
      expect(env.STINT_JWKS_URL, route.entry).toBeUndefined();
      expect(env.STINT_USERINFO_URL, route.entry).toBeUndefined();
    }
  });

  it("names a configured issuer's key set when auth.jwksUrl is given (an issuer without discovery)", () => {
    const auth = { issuer: 'https://idp.example.com', audience: ['stint'], jwksUrl: 'https://idp.example.com/keys' };
    const { cfn } = synth({ stackName: 'StintKeys', auth, portal: { clientId: 'stint-portal' } });

    for (const route of authenticated) expect(envOf(cfn, route.entry).STINT_JWKS_URL, route.entry).toBe(auth.jwksUrl);
  });

  it('lets every authenticated route, /me and /openapi.json included, read the directory to resolve its caller', () => {
    const missing = routes.filter((r) => r.auth && !IDENTITY_READS.every((a) => r.dynamo.includes(a)));
    expect(missing.map((r) => r.path)).toEqual([]);
  });
});

describe('GET /auth-config says where to sign in', () => {
  const signInVariables = ['STINT_AUTH_ISSUER', 'STINT_CLI_CLIENT_ID', 'STINT_CLI_SCOPES'];

  it("names the authorizer's issuer and the Cognito pool's CLI client, to that function only", () => {
    const { cfn } = synth({ stackName: 'StintTest' });
    const { Issuer } = authorizerOf(cfn);
    const cliClient = onlyResourceOfType(cfn, 'AWS::Cognito::UserPoolClient', (_id, r) =>
      String(r.Properties.ClientName).endsWith('-cli'),
    )[0];

    const env = envOf(cfn, 'auth-config');
    expect(env.STINT_AUTH_ISSUER).toEqual(Issuer);
    expect(env.STINT_CLI_CLIENT_ID).toEqual({ Ref: cliClient });
    expect(env.STINT_CLI_SCOPES).toBe('openid email profile');
    expect(env.STINT_JWT_ISSUER).toBeUndefined();
    expect(env.STINT_TABLE_NAME).toBeUndefined();
    const others = routes.filter((r) => r.entry !== 'auth-config');
    for (const route of others) {
      const variables = Object.keys(envOf(cfn, route.entry));
      expect(
        variables.filter((v) => signInVariables.includes(v)),
        route.entry,
      ).toEqual([]);
    }
  });

  it("names a configured issuer and, when configured, the CLI's client there", () => {
    const auth = { issuer: 'https://login.example.com/oauth2/default', audience: ['api://stint'] };
    const portal = { clientId: 'stint-portal' };
    const withCli = synth({
      stackName: 'StintProd',
      auth,
      portal,
      cli: { clientId: 'stint-cli', scopes: 'openid email' },
    });
    const withoutCli = synth({ stackName: 'StintProd', auth, portal });

    expect(envOf(withCli.cfn, 'auth-config')).toMatchObject({
      STINT_AUTH_ISSUER: auth.issuer,
      STINT_CLI_CLIENT_ID: 'stint-cli',
      STINT_CLI_SCOPES: 'openid email',
    });
    const bare = envOf(withoutCli.cfn, 'auth-config');
    expect(bare.STINT_AUTH_ISSUER).toBe(auth.issuer);
    expect(bare.STINT_CLI_CLIENT_ID).toBeUndefined();
    expect(bare.STINT_CLI_SCOPES).toBeUndefined();
  });
});
