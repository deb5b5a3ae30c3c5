import { beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { CLI_REDIRECT_URIS } from '#lib/identity/loopback.ts';
import { type CfnResource, type CfnTemplate, onlyResourceOfType, resourcesOfType, synth } from './synth.ts';

/** The HTTP API's CORS configuration and the Cognito sign-in the stack creates for the portal and the CLI. */
const Cors = z.strictObject({
  AllowOrigins: z.array(z.unknown()),
  AllowHeaders: z.array(z.string()),
  ExposeHeaders: z.array(z.string()),
  AllowMethods: z.array(z.string()),
  MaxAge: z.number(),
  AllowCredentials: z.boolean(),
});

function corsOf(cfn: CfnTemplate) {
  const [, api] = onlyResourceOfType(cfn, 'AWS::ApiGatewayV2::Api');
  return Cors.parse(api.Properties.CorsConfiguration);
}

/** `https://<distribution domain>` and, with `suffix`, a URL under it, as the template spells them. */
function distributionOrigin(cfn: CfnTemplate, suffix?: string) {
  const [distributionId] = onlyResourceOfType(cfn, 'AWS::CloudFront::Distribution');
  const parts: unknown[] = ['https://', { 'Fn::GetAtt': [distributionId, 'DomainName'] }];
  return { 'Fn::Join': ['', suffix === undefined ? parts : [...parts, suffix]] };
}

const Client = z.object({
  ClientName: z.string(),
  GenerateSecret: z.boolean(),
  AllowedOAuthFlows: z.array(z.string()),
  AllowedOAuthFlowsUserPoolClient: z.boolean(),
  AllowedOAuthScopes: z.array(z.string()),
  CallbackURLs: z.array(z.unknown()),
  LogoutURLs: z.array(z.unknown()).optional(),
  ExplicitAuthFlows: z.array(z.string()),
  PreventUserExistenceErrors: z.string(),
  SupportedIdentityProviders: z.array(z.string()),
  RefreshTokenValidity: z.number(),
  TokenValidityUnits: z.object({ RefreshToken: z.string() }),
  UserPoolId: z.object({ Ref: z.string() }),
});

function clientNamed(cfn: CfnTemplate, name: string): { id: string } & z.infer<typeof Client> {
  const [id, r] = onlyResourceOfType(cfn, 'AWS::Cognito::UserPoolClient', (_id, c) => c.Properties.ClientName === name);
  return { id, ...Client.parse(r.Properties) };
}

function audiences(cfn: CfnTemplate): unknown[] {
  const [, authorizer] = onlyResourceOfType(cfn, 'AWS::ApiGatewayV2::Authorizer');
  return z.object({ JwtConfiguration: z.object({ Audience: z.array(z.unknown()) }) }).parse(authorizer.Properties)
    .JwtConfiguration.Audience;
}

describe('HTTP API CORS', () => {
  let cfn: CfnTemplate;
  beforeAll(() => {
    ({ cfn } = synth({ stackName: 'StintTest' }));
  });

  it("admits exactly the portal's origin, without credentials", () => {
    const cors = corsOf(cfn);
    expect(cors.AllowOrigins).toEqual([distributionOrigin(cfn)]);
    expect(cors.AllowCredentials).toBe(false);
  });

  it('allows the headers and methods the portal uses, exposes etag and location, and caches preflights 10 minutes', () => {
    expect(corsOf(cfn)).toMatchObject({
      AllowHeaders: ['authorization', 'content-type', 'if-match', 'if-none-match', 'x-stint-channel'],
      ExposeHeaders: ['etag', 'location'],
      AllowMethods: ['GET', 'POST', 'PUT', 'DELETE'],
      MaxAge: 600,
    });
  });

  it('has no wildcard anywhere in its CORS configuration', () => {
    expect(JSON.stringify(corsOf(cfn))).not.toContain('*');
  });

  it('adds the custom domain to the admitted origins when one is configured', () => {
    const { cfn: custom } = synth({
      stackName: 'StintTest',
      portal: {
        domainName: 'stint.example.com',
        certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d',
      },
    });
    expect(corsOf(custom).AllowOrigins).toEqual([distributionOrigin(custom), 'https://stint.example.com']);
    expect(clientNamed(custom, 'StintTest-portal').CallbackURLs).toEqual([
      distributionOrigin(custom, '/'),
      'https://stint.example.com/',
    ]);
  });
});

describe('Cognito sign-in when the stack creates the pool', () => {
  let cfn: CfnTemplate;
  beforeAll(() => {
    ({ cfn } = synth({ stackName: 'StintTest' }));
  });

  it('creates a managed login domain named after the stack and the account', () => {
    const [poolId] = onlyResourceOfType(cfn, 'AWS::Cognito::UserPool');
    const [, domain] = onlyResourceOfType(cfn, 'AWS::Cognito::UserPoolDomain');
    expect(domain.Properties).toEqual({
      UserPoolId: { Ref: poolId },
      Domain: { 'Fn::Join': ['', ['stinttest-', { Ref: 'AWS::AccountId' }]] },
      ManagedLoginVersion: 2,
    });
  });

  it('gives each client a managed login style with Cognito’s own values', () => {
    const [poolId] = onlyResourceOfType(cfn, 'AWS::Cognito::UserPool');
    const styles = resourcesOfType(cfn, 'AWS::Cognito::ManagedLoginBranding').map(([, r]: [string, CfnResource]) => r);
    expect(styles.map((r) => r.Properties).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))).toEqual(
      [clientNamed(cfn, 'StintTest-cli').id, clientNamed(cfn, 'StintTest-portal').id]
        .map((clientId) => ({
          UserPoolId: { Ref: poolId },
          ClientId: { Ref: clientId },
          UseCognitoProvidedValues: true,
        }))
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    );
  });

  it('creates the portal client: public, code flow only, OIDC scopes, the portal origin as callback and sign-out', () => {
    const portal = clientNamed(cfn, 'StintTest-portal');
    const home = distributionOrigin(cfn, '/');
    expect(portal).toMatchObject({
      GenerateSecret: false,
      AllowedOAuthFlows: ['code'],
      AllowedOAuthFlowsUserPoolClient: true,
      AllowedOAuthScopes: ['openid', 'email', 'profile'],
      CallbackURLs: [home],
      LogoutURLs: [home],
      ExplicitAuthFlows: ['ALLOW_REFRESH_TOKEN_AUTH'],
      PreventUserExistenceErrors: 'ENABLED',
      SupportedIdentityProviders: ['COGNITO'],
    });
    expect([portal.RefreshTokenValidity, portal.TokenValidityUnits.RefreshToken]).toEqual([720, 'minutes']);
  });

  it('creates the CLI client: public, code flow only, the fixed loopback redirect URLs', () => {
    const cli = clientNamed(cfn, 'StintTest-cli');
    expect(cli).toMatchObject({
      GenerateSecret: false,
      AllowedOAuthFlows: ['code'],
      AllowedOAuthScopes: ['openid', 'email', 'profile'],
      CallbackURLs: [...CLI_REDIRECT_URIS],
      ExplicitAuthFlows: ['ALLOW_REFRESH_TOKEN_AUTH'],
      PreventUserExistenceErrors: 'ENABLED',
      SupportedIdentityProviders: ['COGNITO'],
    });
    for (const url of cli.CallbackURLs.map(String)) expect(new URL(url).hostname).toBe('localhost');
  });

  it('offers no password, SRP or implicit sign-in to either client', () => {
    for (const [, r] of resourcesOfType(cfn, 'AWS::Cognito::UserPoolClient')) {
      const client = Client.parse(r.Properties);
      expect(client.ExplicitAuthFlows, client.ClientName).toEqual(['ALLOW_REFRESH_TOKEN_AUTH']);
      expect(client.AllowedOAuthFlows, client.ClientName).not.toContain('implicit');
    }
  });

  it('accepts tokens of both clients at the JWT authorizer', () => {
    expect(audiences(cfn)).toEqual([
      { Ref: clientNamed(cfn, 'StintTest-portal').id },
      { Ref: clientNamed(cfn, 'StintTest-cli').id },
    ]);
  });
});

describe('Cognito sign-in with a configured issuer', () => {
  it('creates no pool, domain or client, and keeps the configured audiences', () => {
    const auth = { issuer: 'https://login.example.com/oauth2/default', audience: ['api://stint'] };
    const { cfn } = synth({ stackName: 'StintTest', auth, portal: { clientId: 'portal-client' } });
    for (const type of [
      'AWS::Cognito::UserPool',
      'AWS::Cognito::UserPoolDomain',
      'AWS::Cognito::UserPoolClient',
      'AWS::Cognito::ManagedLoginBranding',
    ]) {
      expect(resourcesOfType(cfn, type), type).toEqual([]);
    }
    expect(audiences(cfn)).toEqual(['api://stint']);
    expect(corsOf(cfn).AllowOrigins).toEqual([distributionOrigin(cfn)]);
  });
});
