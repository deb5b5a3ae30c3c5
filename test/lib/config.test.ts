import { describe, expect, it } from 'vitest';
import { parseConfig } from '#lib/config.ts';

describe('parseConfig: Teams', () => {
  it('reports the optional tenant and client secret of a proactive bot when they are set', () => {
    const teams = parseConfig({
      STINT_TEAMS_APP_ID: '6f1c2b9e-3a4d-4e5f-8a7b-1c2d3e4f5a6b',
      STINT_TEAMS_TENANT_ID: '72f988bf-86f1-41af-91ab-2d7cd011db47',
      STINT_TEAMS_APP_PASSWORD_REF: 'env:TEAMS_APP_PASSWORD',
      STINT_TEAMS_GRAPH_LOOKUP: 'true',
    }).teams;

    expect(teams.tenantIdIfSet).toBe('72f988bf-86f1-41af-91ab-2d7cd011db47');
    expect(teams.hasAppPassword).toBe(true);
    expect(teams.graphLookup).toBe(true);
  });

  it('says they are absent for a webhook-only bot, and a required read of them fails with the variable name', () => {
    const teams = parseConfig({ STINT_TEAMS_APP_ID: '6f1c2b9e-3a4d-4e5f-8a7b-1c2d3e4f5a6b' }).teams;

    expect(teams.tenantIdIfSet).toBeUndefined();
    expect(teams.hasAppPassword).toBe(false);
    expect(teams.graphLookup).toBe(true); // on by default, as in infra/config.ts
    expect(() => teams.appPasswordRef).toThrow('STINT_TEAMS_APP_PASSWORD_REF');
  });
});

describe('parseConfig: the API token issuer', () => {
  it('reads the issuer, the audiences as a comma list and an optional JWKS URL', () => {
    const jwt = parseConfig({
      STINT_JWT_ISSUER: 'https://login.example.com/oauth2/default',
      STINT_JWT_AUDIENCE: 'api://stint, stint-cli',
      STINT_JWKS_URL: 'https://login.example.com/oauth2/default/v1/keys',
    }).jwt;

    expect(jwt).toEqual({
      issuer: 'https://login.example.com/oauth2/default',
      audiences: ['api://stint', 'stint-cli'],
      jwksUrl: 'https://login.example.com/oauth2/default/v1/keys',
    });
  });

  it('fails with the variable name when an API function is not told the issuer or audience', () => {
    expect(() => parseConfig({ STINT_JWT_AUDIENCE: 'stint' }).jwt).toThrow('STINT_JWT_ISSUER');
    expect(() => parseConfig({ STINT_JWT_ISSUER: 'https://login.example.com' }).jwt).toThrow('STINT_JWT_AUDIENCE');
    expect(() => parseConfig({ STINT_JWT_ISSUER: 'https://login.example.com', STINT_JWT_AUDIENCE: ' , ' }).jwt).toThrow(
      'names no audience',
    );
  });
});

describe('parseConfig: what GET /auth-config announces', () => {
  it('reads the issuer, and the CLI client with its space-separated scopes when one is set', () => {
    const signIn = parseConfig({
      STINT_AUTH_ISSUER: 'https://login.example.com/oauth2/default',
      STINT_CLI_CLIENT_ID: 'stint-cli',
      STINT_CLI_SCOPES: 'openid email offline_access',
    }).signIn;

    expect(signIn).toEqual({
      issuer: 'https://login.example.com/oauth2/default',
      cli: { clientId: 'stint-cli', scopes: ['openid', 'email', 'offline_access'] },
    });
  });

  it('has no CLI client without STINT_CLI_CLIENT_ID, and fails naming STINT_AUTH_ISSUER without an issuer', () => {
    expect(parseConfig({ STINT_AUTH_ISSUER: 'https://idp.example.com' }).signIn.cli).toBeUndefined();
    expect(() => parseConfig({}).signIn).toThrow('STINT_AUTH_ISSUER');
  });
});
