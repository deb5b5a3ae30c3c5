import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stack, Stage } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { cognitoDomainPrefix } from '#infra/constructs/api.ts';
import { contentSecurityPolicy, withMetaCsp } from '#infra/constructs/portal.ts';
import type { StintStack } from '#infra/stint-stack.ts';
import { type CfnTemplate, onlyResourceOfType, resourcesOfType, synth } from './synth.ts';

/**
 * A CloudFormation value as text: literals as they are, `{Ref: X}` as `<X>`, `{Fn::GetAtt: [X, A]}` as `<X.A>`,
 * `Fn::Join` joined, `Fn::Sub` with its `${…}` kept, so a test can read a header or a URL the way it will be.
 */
function render(value: unknown): string {
  if (typeof value === 'string') return value;
  const ref = z.object({ Ref: z.string() }).safeParse(value);
  if (ref.success) return `<${ref.data.Ref}>`;
  const att = z.object({ 'Fn::GetAtt': z.tuple([z.string(), z.string()]) }).safeParse(value);
  if (att.success) return `<${att.data['Fn::GetAtt'].join('.')}>`;
  const join = z.object({ 'Fn::Join': z.tuple([z.string(), z.array(z.unknown())]) }).safeParse(value);
  if (join.success) return join.data['Fn::Join'][1].map(render).join(join.data['Fn::Join'][0]);
  const sub = z.object({ 'Fn::Sub': z.string() }).safeParse(value);
  if (sub.success) return sub.data['Fn::Sub'];
  throw new Error(`cannot render ${JSON.stringify(value)}`);
}

/** The resources a resource refers to (Ref, Fn::GetAtt, Fn::Sub `${X}`/`${X.A}`, DependsOn). */
function referencesOf(resource: unknown, ids: ReadonlySet<string>): Set<string> {
  const found = new Set<string>();
  const add = (id: unknown): void => {
    if (typeof id === 'string' && ids.has(id)) found.add(id);
  };
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const child of node) visit(child);
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    for (const [key, child] of Object.entries(node)) {
      if (key === 'Ref') add(child);
      else if (key === 'Fn::GetAtt' && Array.isArray(child)) add(child[0]);
      else if (key === 'Fn::Sub' && typeof child === 'string') {
        for (const m of child.matchAll(/\$\{([^}.!]+)/g)) add(m[1]);
      } else if (key === 'DependsOn') {
        for (const d of [child].flat()) add(d);
      }
      visit(child);
    }
  };
  visit(resource);
  return found;
}

/** A dependency cycle among the template's resources (as a path of logical ids), or undefined when there is none. */
function dependencyCycle(resources: Record<string, unknown>): string[] | undefined {
  const ids = new Set(Object.keys(resources));
  const edges = new Map([...ids].map((id) => [id, referencesOf(resources[id], ids)]));
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 'done') return undefined;
    if (state.get(id) === 'open') return [...path.slice(path.indexOf(id)), id];
    state.set(id, 'open');
    path.push(id);
    for (const next of edges.get(id) ?? []) {
      const cycle = visit(next);
      if (cycle !== undefined) return cycle;
    }
    path.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const id of ids) {
    const cycle = visit(id);
    if (cycle !== undefined) return cycle;
  }
  return undefined;
}

const Deployment = z.object({
  SourceObjectKeys: z.array(z.string()),
  SourceMarkers: z.array(z.record(z.string(), z.unknown())).optional(),
  DestinationBucketName: z.object({ Ref: z.string() }),
  DestinationBucketKeyPrefix: z.string().optional(),
  Prune: z.boolean(),
  SystemMetadata: z.object({ 'cache-control': z.string() }),
  DistributionId: z.object({ Ref: z.string() }).optional(),
  DistributionPaths: z.array(z.string()).optional(),
});
type Deployment = z.infer<typeof Deployment>;

/**
 * The files a deployment uploads, source by source (a key twice means two sources write it), read from the staged
 * assets with deploy-time markers rendered.
 */
function uploadedFiles(stack: Stack, deployment: Deployment): [string, string][] {
  const outdir = Stage.of(stack)?.outdir;
  if (outdir === undefined) throw new Error('no stage');
  const files: [string, string][] = [];
  deployment.SourceObjectKeys.forEach((key, i) => {
    const dir = join(outdir, `asset.${key.replace(/\.zip$/, '')}`);
    const markers = deployment.SourceMarkers?.[i] ?? {};
    const walk = (at: string, prefix: string): void => {
      for (const entry of readdirSync(at, { withFileTypes: true })) {
        if (entry.isDirectory()) walk(join(at, entry.name), `${prefix}${entry.name}/`);
        else {
          let text = readFileSync(join(at, entry.name), 'utf8');
          for (const [marker, value] of Object.entries(markers)) text = text.replaceAll(marker, render(value));
          files.push([`${deployment.DestinationBucketKeyPrefix ?? ''}${prefix}${entry.name}`, text]);
        }
      }
    };
    walk(dir, '');
  });
  return files;
}

/** The one upload of `key` among `files`. */
function fileOf(files: [string, string][], key: string): string {
  const found = files.filter(([k]) => k === key);
  if (found.length !== 1) throw new Error(`${key} is uploaded ${found.length} times`);
  return found[0]?.[1] ?? '';
}

function deployments(cfn: CfnTemplate): Deployment[] {
  return resourcesOfType(cfn, 'Custom::CDKBucketDeployment').map(([, r]) => Deployment.parse(r.Properties));
}

const Csp = z.object({
  SecurityHeadersConfig: z.object({
    ContentSecurityPolicy: z.object({ ContentSecurityPolicy: z.unknown(), Override: z.literal(true) }),
    StrictTransportSecurity: z.object({
      AccessControlMaxAgeSec: z.number(),
      IncludeSubdomains: z.boolean(),
      Preload: z.boolean(),
      Override: z.literal(true),
    }),
    ContentTypeOptions: z.object({ Override: z.literal(true) }),
    FrameOptions: z.object({ FrameOption: z.string(), Override: z.literal(true) }),
    ReferrerPolicy: z.object({ ReferrerPolicy: z.string(), Override: z.literal(true) }),
  }),
});

function headersOf(cfn: CfnTemplate) {
  const [, policy] = onlyResourceOfType(cfn, 'AWS::CloudFront::ResponseHeadersPolicy');
  return Csp.parse(
    z.object({ ResponseHeadersPolicyConfig: z.unknown() }).parse(policy.Properties).ResponseHeadersPolicyConfig,
  ).SecurityHeadersConfig;
}

/** The CSP header as a map of directive → its sources. */
function directives(policy: string): Map<string, string[]> {
  return new Map(
    policy.split(';').map((d) => {
      const [name = '', ...sources] = d.trim().split(/\s+/);
      return [name, sources];
    }),
  );
}

const Distribution = z.object({
  DistributionConfig: z.object({
    Aliases: z.array(z.string()).optional(),
    DefaultRootObject: z.string(),
    HttpVersion: z.string(),
    PriceClass: z.string(),
    ViewerCertificate: z
      .object({ AcmCertificateArn: z.string(), MinimumProtocolVersion: z.string(), SslSupportMethod: z.string() })
      .optional(),
    DefaultCacheBehavior: z.object({
      ViewerProtocolPolicy: z.string(),
      Compress: z.boolean(),
      AllowedMethods: z.array(z.string()),
      ResponseHeadersPolicyId: z.object({ Ref: z.string() }),
      TargetOriginId: z.string(),
    }),
    Origins: z.array(
      z.object({
        Id: z.string(),
        DomainName: z.unknown(),
        OriginAccessControlId: z.object({ 'Fn::GetAtt': z.tuple([z.string(), z.literal('Id')]) }).optional(),
        S3OriginConfig: z.object({ OriginAccessIdentity: z.string() }).optional(),
      }),
    ),
  }),
});

function distributionOf(cfn: CfnTemplate) {
  const [id, r] = onlyResourceOfType(cfn, 'AWS::CloudFront::Distribution');
  return { id, ...Distribution.parse(r.Properties).DistributionConfig };
}

const Statement = z.object({
  Effect: z.string(),
  Principal: z.unknown(),
  Action: z.union([z.string(), z.array(z.string())]),
  Resource: z.unknown(),
  Condition: z.unknown().optional(),
});

function bucketPolicyOf(cfn: CfnTemplate, bucketId: string) {
  const found = resourcesOfType(cfn, 'AWS::S3::BucketPolicy').find(
    ([, r]) => JSON.stringify(r.Properties.Bucket) === JSON.stringify({ Ref: bucketId }),
  );
  if (found === undefined) throw new Error(`no policy for ${bucketId}`);
  return z.object({ PolicyDocument: z.object({ Statement: z.array(Statement) }) }).parse(found[1].Properties)
    .PolicyDocument.Statement;
}

describe('Portal (default configuration: Cognito pool, no custom domain)', () => {
  let stack: StintStack;
  let cfn: CfnTemplate;
  let outputs: Record<string, { Value: unknown }>;

  beforeAll(() => {
    let template: ReturnType<typeof synth>['template'];
    ({ stack, cfn, template } = synth({ stackName: 'StintTest' }));
    outputs = z
      .object({ Outputs: z.record(z.string(), z.object({ Value: z.unknown() })) })
      .parse(template.toJSON()).Outputs;
  });

  it('synthesizes without a dependency cycle between the API, Cognito and the distribution', () => {
    expect(dependencyCycle(cfn.Resources)).toBeUndefined();
  });

  it('keeps the site bucket private, SSL-only, encrypted, logged and not a website', () => {
    const [bucketId, bucket] = onlyResourceOfType(cfn, 'AWS::S3::Bucket', (id) => id.startsWith('PortalBucket'));
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket.Properties.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    });
    expect(bucket.Properties.WebsiteConfiguration).toBeUndefined();
    expect(bucket.Properties.OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
    const [logsId] = onlyResourceOfType(cfn, 'AWS::S3::Bucket', (id) => id.startsWith('PortalAccessLogs'));
    expect(bucket.Properties.LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: logsId },
      LogFilePrefix: 'portal/',
    });
    const denyPlainHttp = bucketPolicyOf(cfn, bucketId).find((s) => s.Effect === 'Deny');
    expect(denyPlainHttp).toMatchObject({
      Principal: { AWS: '*' },
      Action: 's3:*',
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    });
  });

  it('lets only this distribution read the bucket, through origin access control', () => {
    const [bucketId] = onlyResourceOfType(cfn, 'AWS::S3::Bucket', (id) => id.startsWith('PortalBucket'));
    const distribution = distributionOf(cfn);
    const [origin] = distribution.Origins;
    expect(distribution.Origins).toHaveLength(1);
    expect(origin?.DomainName).toEqual({ 'Fn::GetAtt': [bucketId, 'RegionalDomainName'] });
    expect(origin?.S3OriginConfig).toEqual({ OriginAccessIdentity: '' });
    const oacId = origin?.OriginAccessControlId?.['Fn::GetAtt'][0] ?? '';
    expect(cfn.Resources[oacId]?.Properties.OriginAccessControlConfig).toMatchObject({
      OriginAccessControlOriginType: 's3',
      SigningBehavior: 'always',
      SigningProtocol: 'sigv4',
    });
    expect(resourcesOfType(cfn, 'AWS::CloudFront::CloudFrontOriginAccessIdentity')).toEqual([]);

    const allows = bucketPolicyOf(cfn, bucketId).filter((s) => s.Effect === 'Allow');
    expect(allows).toEqual([
      {
        Effect: 'Allow',
        Principal: { Service: 'cloudfront.amazonaws.com' },
        Action: 's3:GetObject',
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/*']] },
        Condition: {
          StringEquals: {
            'AWS:SourceArn': {
              'Fn::Join': [
                '',
                [
                  'arn:',
                  { Ref: 'AWS::Partition' },
                  ':cloudfront::',
                  { Ref: 'AWS::AccountId' },
                  ':distribution/',
                  { Ref: distribution.id },
                ],
              ],
            },
          },
        },
      },
    ]);
  });

  it('redirects to HTTPS, serves HTTP/2 and HTTP/3, compresses, and uses the default price class', () => {
    const distribution = distributionOf(cfn);
    expect(distribution.DefaultCacheBehavior).toMatchObject({
      ViewerProtocolPolicy: 'redirect-to-https',
      Compress: true,
      AllowedMethods: ['GET', 'HEAD'],
    });
    expect(distribution.DefaultRootObject).toBe('index.html');
    expect(distribution.HttpVersion).toBe('http2and3');
    expect(distribution.PriceClass).toBe('PriceClass_100');
    expect(distribution.ViewerCertificate).toBeUndefined();
    expect(distribution.Aliases).toBeUndefined();
  });

  it('sends HSTS for two years with preload, nosniff, DENY framing and no referrer', () => {
    const [policyId] = onlyResourceOfType(cfn, 'AWS::CloudFront::ResponseHeadersPolicy');
    expect(distributionOf(cfn).DefaultCacheBehavior.ResponseHeadersPolicyId).toEqual({ Ref: policyId });
    const headers = headersOf(cfn);
    expect(headers.StrictTransportSecurity).toEqual({
      AccessControlMaxAgeSec: 63_072_000,
      IncludeSubdomains: true,
      Preload: true,
      Override: true,
    });
    expect(headers.FrameOptions.FrameOption).toBe('DENY');
    expect(headers.ReferrerPolicy.ReferrerPolicy).toBe('no-referrer');
    expect(headers.ContentTypeOptions.Override).toBe(true);
  });

  it('sends a strict CSP: own origin only, the region’s API hosts, the Cognito issuer and managed login domain', () => {
    const csp = render(headersOf(cfn).ContentSecurityPolicy.ContentSecurityPolicy);
    const cognitoDomain = 'https://stinttest-<AWS::AccountId>.auth.<AWS::Region>.amazoncognito.com';
    const issuer = 'https://cognito-idp.<AWS::Region>.<AWS::URLSuffix>';
    expect(Object.fromEntries(directives(csp))).toEqual({
      'default-src': ["'none'"],
      'script-src': ["'self'"],
      'style-src': ["'self'"],
      'img-src': ["'self'", 'data:'],
      'font-src': ["'self'"],
      'connect-src': ["'self'", 'https://*.execute-api.<AWS::Region>.<AWS::URLSuffix>', issuer, cognitoDomain],
      'form-action': ["'self'", issuer, cognitoDomain],
      'frame-ancestors': ["'none'"],
      'base-uri': ["'none'"],
      'object-src': ["'none'"],
      'manifest-src': ["'self'"],
    });
    expect(csp).not.toContain('unsafe');
  });

  it('uploads index.html whose own CSP names the exact API origin, with no wildcard', () => {
    const [apiId] = onlyResourceOfType(cfn, 'AWS::ApiGatewayV2::Api');
    const pages = deployments(cfn).find((d) => d.DestinationBucketKeyPrefix === undefined);
    if (pages === undefined) throw new Error('no pages deployment');
    const html = fileOf(uploadedFiles(stack, pages), 'index.html');
    const meta = /<meta http-equiv="Content-Security-Policy" content="([^"]+)" \/>/.exec(html);
    expect(meta?.[1]).toBe(
      `connect-src 'self' https://<${apiId}>.execute-api.<AWS::Region>.<AWS::URLSuffix> ` +
        'https://cognito-idp.<AWS::Region>.<AWS::URLSuffix> ' +
        'https://stinttest-<AWS::AccountId>.auth.<AWS::Region>.amazoncognito.com',
    );
    // Before the script it protects, right after the charset.
    expect(html.indexOf('Content-Security-Policy')).toBeGreaterThan(html.indexOf('<meta charset="UTF-8" />'));
    expect(html.indexOf('Content-Security-Policy')).toBeLessThan(html.indexOf('<script'));
  });

  it('writes config.json with the API, the Cognito issuer and the portal client, and never the built one', () => {
    const [apiId] = onlyResourceOfType(cfn, 'AWS::ApiGatewayV2::Api');
    const [poolId] = onlyResourceOfType(cfn, 'AWS::Cognito::UserPool');
    const [portalClientId] = onlyResourceOfType(
      cfn,
      'AWS::Cognito::UserPoolClient',
      (_id, r) => r.Properties.ClientName === 'StintTest-portal',
    );
    const files = deployments(cfn).flatMap((d) => uploadedFiles(stack, d));
    expect(files.map(([key]) => key).sort()).toEqual(['assets/app.js', 'config.json', 'index.html']);
    expect(JSON.parse(fileOf(files, 'config.json'))).toEqual({
      mode: 'oidc',
      apiUrl: `https://<${apiId}>.execute-api.<AWS::Region>.<AWS::URLSuffix>`,
      issuer: `<${poolId}.ProviderURL>`,
      clientId: `<${portalClientId}>`,
      scopes: 'openid email profile',
      redirectPath: '/',
    });
  });

  it('caches hashed assets for a year and index.html and config.json not at all, invalidating those on deploy', () => {
    const [distributionId] = onlyResourceOfType(cfn, 'AWS::CloudFront::Distribution');
    const [bucketId] = onlyResourceOfType(cfn, 'AWS::S3::Bucket', (id) => id.startsWith('PortalBucket'));
    const byPrefix = Object.fromEntries(deployments(cfn).map((d) => [d.DestinationBucketKeyPrefix ?? '', d]));
    expect(byPrefix['assets/']).toMatchObject({
      Prune: false,
      DestinationBucketName: { Ref: bucketId },
      SystemMetadata: { 'cache-control': 'public, max-age=31536000, immutable' },
    });
    expect(byPrefix['assets/']?.DistributionId).toBeUndefined();
    expect(byPrefix['']).toMatchObject({
      Prune: false,
      DestinationBucketName: { Ref: bucketId },
      SystemMetadata: { 'cache-control': 'no-cache' },
      DistributionId: { Ref: distributionId },
      DistributionPaths: ['/', '/index.html', '/config.json'],
    });
  });

  it('outputs the portal URL', () => {
    const [distributionId] = onlyResourceOfType(cfn, 'AWS::CloudFront::Distribution');
    expect(render(outputs.PortalUrl?.Value)).toBe(`https://<${distributionId}.DomainName>/`);
  });
});

describe('Portal with a custom domain and a configured issuer', () => {
  const auth = { issuer: 'https://login.example.com/oauth2/default', audience: ['api://stint'] };
  const certificateArn = 'arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d';
  let stack: StintStack;
  let cfn: CfnTemplate;

  beforeAll(() => {
    ({ stack, cfn } = synth({
      stackName: 'StintProd',
      auth,
      portal: {
        clientId: '0oa-portal',
        domainName: 'stint.example.com',
        certificateArn,
        priceClass: 'PriceClass_200',
        scopes: 'openid email profile groups',
        idpOrigins: ['https://sso.example.com'],
      },
    }));
  });

  it('creates no Cognito pool, client or domain', () => {
    for (const type of ['AWS::Cognito::UserPool', 'AWS::Cognito::UserPoolClient', 'AWS::Cognito::UserPoolDomain']) {
      expect(resourcesOfType(cfn, type), type).toEqual([]);
    }
    expect(dependencyCycle(cfn.Resources)).toBeUndefined();
  });

  it('serves the custom domain with its ACM certificate, TLS 1.2 (2021) and SNI, at the configured price class', () => {
    const distribution = distributionOf(cfn);
    expect(distribution.Aliases).toEqual(['stint.example.com']);
    expect(distribution.ViewerCertificate).toEqual({
      AcmCertificateArn: certificateArn,
      MinimumProtocolVersion: 'TLSv1.2_2021',
      SslSupportMethod: 'sni-only',
    });
    expect(distribution.PriceClass).toBe('PriceClass_200');
  });

  it("names the configured issuer's origin and the extra sign-in origins in the CSP, and nothing of Cognito", () => {
    const csp = directives(render(headersOf(cfn).ContentSecurityPolicy.ContentSecurityPolicy));
    expect(csp.get('connect-src')).toEqual([
      "'self'",
      'https://*.execute-api.<AWS::Region>.<AWS::URLSuffix>',
      'https://login.example.com',
      'https://sso.example.com',
    ]);
    expect(csp.get('form-action')).toEqual(["'self'", 'https://login.example.com', 'https://sso.example.com']);
  });

  it('writes config.json with the configured issuer, the portal client id and scopes', () => {
    const pages = deployments(cfn).find((d) => d.DestinationBucketKeyPrefix === undefined);
    if (pages === undefined) throw new Error('no pages deployment');
    const config = JSON.parse(fileOf(uploadedFiles(stack, pages), 'config.json'));
    expect(config).toMatchObject({
      mode: 'oidc',
      issuer: auth.issuer,
      clientId: '0oa-portal',
      scopes: 'openid email profile groups',
      redirectPath: '/',
    });
  });
});

describe('Portal building blocks', () => {
  it('finds a dependency cycle when there is one (so the no-cycle checks can fail)', () => {
    const cyclic = {
      Api: { Type: 'AWS::ApiGatewayV2::Api', Properties: { Cors: { 'Fn::GetAtt': ['Cdn', 'DomainName'] } } },
      Cdn: { Type: 'AWS::CloudFront::Distribution', Properties: { Headers: { Ref: 'Policy' } } },
      Policy: { Type: 'AWS::CloudFront::ResponseHeadersPolicy', Properties: { Csp: { 'Fn::Sub': `https://$\{Api}` } } },
    };
    expect(dependencyCycle(cyclic)).toEqual(['Api', 'Cdn', 'Policy', 'Api']);
    expect(dependencyCycle({ ...cyclic, Policy: { Type: 'X', Properties: {} } })).toBeUndefined();
  });

  it('puts the CSP meta element first in the head, after the charset, escaped', () => {
    const html = '<!doctype html><html><head><meta charset="utf-8"><title>x</title><script src="/a.js"></script>';
    const out = withMetaCsp(html, `connect-src 'self' https://a.example.com?x="1"&y`);
    expect(out).toContain(
      '<meta charset="utf-8">\n    <meta http-equiv="Content-Security-Policy" ' +
        'content="connect-src \'self\' https://a.example.com?x=&quot;1&quot;&amp;y" /><title>',
    );
    expect(withMetaCsp('<html><head lang="en"><script></script>', 'a')).toMatch(/^<html><head lang="en">\n {4}<meta/);
  });

  it('refuses an index.html without a head', () => {
    expect(() => withMetaCsp('<html><body></body></html>', 'a')).toThrow(/no <head>/);
  });

  it('builds a policy of connect-src alone for index.html, and the full policy for the header', () => {
    expect(contentSecurityPolicy({ connect: ["'self'", 'https://api.example.com'] })).toBe(
      "connect-src 'self' https://api.example.com",
    );
    expect(contentSecurityPolicy({ connect: ["'self'"], formAction: ["'self'"] })).toContain(
      "connect-src 'self'; form-action 'self'; frame-ancestors 'none'",
    );
  });

  it('derives a Cognito domain prefix from the stack name and account, without reserved words', () => {
    const stack = new Stack();
    expect(stack.resolve(cognitoDomainPrefix('Stint'))).toEqual({
      'Fn::Join': ['', ['stint-', { Ref: 'AWS::AccountId' }]],
    });
    expect(stack.resolve(cognitoDomainPrefix('My-AWS-Cognito-Stint'))).toEqual({
      'Fn::Join': ['', ['my-stint-', { Ref: 'AWS::AccountId' }]],
    });
    expect(stack.resolve(cognitoDomainPrefix('Amazon'))).toEqual({
      'Fn::Join': ['', ['stint-', { Ref: 'AWS::AccountId' }]],
    });
    const long = stack.resolve(cognitoDomainPrefix(`S${'a'.repeat(127)}`));
    expect(String(long['Fn::Join'][1][0]).length + 12).toBeLessThanOrEqual(63);
  });

  it('refuses to synthesize a portal that has not been built', () => {
    expect(existsSync('/nonexistent-portal/index.html')).toBe(false);
    expect(() => synthWithDist('/nonexistent-portal')).toThrow(/The portal is not built/);
  });
});

function synthWithDist(distPath: string): void {
  synth({ stackName: 'StintTest' }, { portalDistPath: distPath });
}
