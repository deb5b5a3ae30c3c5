import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Aws, CfnOutput, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import type { StintConfig } from '#infra/config.ts';
import { contentSecurityPolicy } from '#lib/http/portal-csp.ts';

/** One CSP builder for CloudFront and the local runtime (lib/http/portal-csp.ts). */
export { contentSecurityPolicy };

/** The runtime settings the portal reads from `/config.json` next to index.html (docs/portal.md). */
export type PortalSettings = {
  readonly apiUrl: string;
  readonly issuer: string;
  readonly clientId: string;
};

export type PortalProps = {
  readonly config: StintConfig;
  /** The built portal (index.html, assets/*); a config.json in it is never uploaded. */
  readonly distPath: string;
  /**
   * Origins the browser may call besides the portal itself, for the Content-Security-Policy header: the
   * region's API Gateway hosts, the issuer's origin, the sign-in domain. None of them may refer to a resource
   * that depends on the distribution (see the class comment).
   */
  readonly connectOrigins: readonly string[];
  /** Origins the sign-in may submit forms to (the issuer, the managed login domain). */
  readonly formActionOrigins: readonly string[];
};

/**
 * The web portal in AWS: a private S3 bucket served only through CloudFront (origin access control), HTTPS only,
 * security headers with a strict Content-Security-Policy, and the deployed files with `/config.json`.
 *
 * CloudFormation ordering, and why there is no dependency cycle: the API's CORS configuration and the Cognito
 * app client's callback URLs name the distribution's domain, so they depend on the distribution. The headers
 * policy is part of the distribution, so it must not depend on the API: its CSP allows the region's API Gateway
 * hosts (`https://*.execute-api.<region>.amazonaws.com`, built from the region alone) and sign-in origins built
 * from strings, not from resource attributes. The exact API origin is added by the deployment, which runs after
 * both the API and the distribution exist: it writes a `<meta http-equiv="Content-Security-Policy">` into
 * index.html whose `connect-src` names only `'self'`, `https://<api id>.execute-api.<region>.amazonaws.com` and
 * the sign-in origins. A browser enforces every policy it is given, so the effective `connect-src` is the exact API
 * origin (docs/portal.md, "Hosting in AWS").
 */
export class Portal extends Construct {
  readonly bucket: s3.Bucket;
  readonly distribution: cloudfront.Distribution;
  readonly responseHeadersPolicy: cloudfront.ResponseHeadersPolicy;
  /** Every origin the portal is served from: the distribution's domain, and the custom domain when configured. */
  readonly origins: readonly string[];
  /** The CSP the header carries (the deployed index.html narrows `connect-src` further). */
  readonly contentSecurityPolicy: string;
  private readonly distPath: string;
  private readonly connectOrigins: readonly string[];

  constructor(scope: Construct, id: string, props: PortalProps) {
    super(scope, id);
    const { config } = props;
    if (!existsSync(join(props.distPath, 'index.html'))) {
      throw new Error(
        `The portal is not built: ${join(props.distPath, 'index.html')} does not exist (infra/app.ts builds it ` +
          "before synth; StintStack's portalDistPath names another build)",
      );
    }
    this.distPath = props.distPath;
    this.connectOrigins = props.connectOrigins;
    const destroy = config.removalPolicy === 'destroy';
    const removalPolicy = destroy ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;

    // S3 delivers the server access logs under a bucket policy (logging.s3.amazonaws.com), not a log-delivery ACL,
    // so the log bucket can disable ACLs like every other bucket.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    const accessLogs = new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(config.logRetentionDays) }],
      removalPolicy,
      autoDeleteObjects: destroy,
    });
    Validations.of(accessLogs).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This bucket is the target of the portal bucket’s server access logs; logging it into itself would loop.',
    });
    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'portal/',
      removalPolicy,
      autoDeleteObjects: destroy,
    });

    this.contentSecurityPolicy = contentSecurityPolicy({
      connect: ["'self'", ...props.connectOrigins],
      formAction: ["'self'", ...props.formActionOrigins],
    });
    this.responseHeadersPolicy = new cloudfront.ResponseHeadersPolicy(this, 'Headers', {
      comment: 'Stint portal: HSTS, no sniffing, no framing, no referrer, strict CSP',
      securityHeadersBehavior: {
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(730),
          includeSubdomains: true,
          preload: true,
          override: true,
        },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER, override: true },
        contentSecurityPolicy: { contentSecurityPolicy: this.contentSecurityPolicy, override: true },
      },
    });

    const custom = config.portal.domainName;
    const certificateArn = config.portal.certificateArn;
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: `Stint portal (${config.stackName})`,
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        compress: true,
        responseHeadersPolicy: this.responseHeadersPolicy,
      },
      defaultRootObject: 'index.html',
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      priceClass: cloudfront.PriceClass[priceClassKey(config.portal.priceClass)],
      ...(custom !== undefined && certificateArn !== undefined
        ? {
            domainNames: [custom],
            certificate: acm.Certificate.fromCertificateArn(this, 'Certificate', certificateArn),
            minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
            sslSupportMethod: cloudfront.SSLMethod.SNI,
          }
        : {}),
    });
    const acknowledgements = [
      {
        id: 'AwsSolutions-CFR1',
        reason:
          'The portal is a set of static files any signed-in or not-yet-signed-in person may load; who may do what ' +
          'is decided by the API’s JWT authorizer, not by the viewer’s country.',
      },
      {
        id: 'AwsSolutions-CFR2',
        reason:
          'The distribution serves static files only (GET/HEAD, cached); the API it calls is a separate endpoint ' +
          'with its own throttling. A web ACL can be attached by the operator if their policy requires one.',
      },
      {
        id: 'AwsSolutions-CFR3',
        reason:
          'CloudFront standard logs need an ACL-enabled bucket; reads of the origin bucket are recorded by its S3 ' +
          'server access logs, and every call that matters goes to the API, whose stage logs each request.',
      },
    ];
    if (custom === undefined) {
      acknowledgements.push({
        id: 'AwsSolutions-CFR4',
        reason:
          'Without portal.domainName the distribution uses the default *.cloudfront.net certificate, whose minimum ' +
          'TLS version CloudFront fixes; with a custom domain and ACM certificate it requires TLSv1.2_2021.',
      });
    }
    Validations.of(this.distribution).acknowledge(...acknowledgements);

    this.origins = [
      `https://${this.distribution.distributionDomainName}`,
      ...(custom === undefined ? [] : [`https://${custom}`]),
    ];
    new CfnOutput(Stack.of(this), 'PortalUrl', {
      description: 'The Stint web portal',
      value: `${this.origins[this.origins.length - 1]}/`,
    });
  }

  /**
   * Uploads the portal: hashed assets cached for a year (their names change with their content), index.html
   * (with the exact API origin in its CSP) and config.json never cached; then invalidates those two.
   */
  deploy(settings: PortalSettings & { readonly apiOrigin: string; readonly scopes: string }): void {
    const assetsDir = join(this.distPath, 'assets');
    const assets = existsSync(assetsDir)
      ? new s3deploy.BucketDeployment(this, 'DeployAssets', {
          destinationBucket: this.bucket,
          destinationKeyPrefix: 'assets/',
          sources: [s3deploy.Source.asset(assetsDir)],
          // Other deployments write index.html and config.json; old hashed files stay for pages still open.
          prune: false,
          cacheControl: [
            s3deploy.CacheControl.setPublic(),
            s3deploy.CacheControl.maxAge(Duration.days(365)),
            s3deploy.CacheControl.immutable(),
          ],
          memoryLimit: 512,
        })
      : undefined;
    const indexHtml = withMetaCsp(
      readFileSync(join(this.distPath, 'index.html'), 'utf8'),
      contentSecurityPolicy({ connect: ["'self'", settings.apiOrigin, ...this.metaConnectOrigins()] }),
    );
    const pages = new s3deploy.BucketDeployment(this, 'DeployPages', {
      destinationBucket: this.bucket,
      sources: [
        s3deploy.Source.asset(this.distPath, { exclude: ['assets', 'assets/**', 'index.html', 'config.json'] }),
        s3deploy.Source.data('index.html', indexHtml),
        s3deploy.Source.jsonData('config.json', {
          mode: 'oidc',
          apiUrl: settings.apiUrl,
          issuer: settings.issuer,
          clientId: settings.clientId,
          scopes: settings.scopes,
          redirectPath: '/',
        }),
      ],
      prune: false,
      cacheControl: [s3deploy.CacheControl.noCache()],
      distribution: this.distribution,
      distributionPaths: ['/', '/index.html', '/config.json'],
      memoryLimit: 512,
    });
    // index.html names the new assets: they are uploaded first.
    if (assets !== undefined) pages.node.addDependency(assets);
    this.acknowledgeDeploymentHandler(pages);
  }

  /** CDK's one deployment handler (a singleton function both deployments share) and its role. */
  private acknowledgeDeploymentHandler(deployment: s3deploy.BucketDeployment): void {
    const handler = deployment.handlerRole.node.scope;
    if (handler === undefined) return;
    const stack = Stack.of(this);
    const bucketId = stack.getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket);
    const assetsBucket = `arn:<AWS::Partition>:s3:::cdk-${stack.synthesizer.bootstrapQualifier ?? 'hnb659fds'}-assets-<AWS::AccountId>-<AWS::Region>/*`;
    const copy = 'CDK’s deployment handler copies the staged zip from the CDK assets bucket into the portal bucket';
    Validations.of(handler).acknowledge(
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: 'CDK’s deployment handler writes its own CloudWatch logs with the basic execution role, nothing more.',
      },
      ...['s3:GetObject*', 's3:GetBucket*', 's3:List*', 's3:DeleteObject*', 's3:Abort*'].map((action) => ({
        id: `AwsSolutions-IAM5[Action::${action}]`,
        reason: `${copy}: ${action} on those two buckets only (CDK's grantRead / grantReadWrite).`,
      })),
      {
        id: `AwsSolutions-IAM5[Resource::${assetsBucket}]`,
        reason: `${copy}; it reads the objects of the bootstrap assets bucket, whose key is a content hash.`,
      },
      {
        id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/*]`,
        reason: `${copy}; it writes and (with prune off) never deletes unrelated keys of the portal bucket.`,
      },
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'CDK’s deployment handler asks CloudFront for an invalidation of index.html and config.json after the ' +
          'upload; CDK grants cloudfront:CreateInvalidation and GetInvalidation on * (the only actions on *).',
      },
      {
        id: 'AwsSolutions-L1',
        reason:
          'The deployment handler is CDK’s own function (aws-s3-deployment), whose runtime CDK chooses and updates ' +
          'with aws-cdk-lib; it runs only during deployments.',
      },
    );
  }

  /** The header's connect-src origins without the region-wide API Gateway wildcard. */
  private metaConnectOrigins(): string[] {
    return this.connectOrigins.filter((origin) => !origin.includes('*'));
  }
}

/** The region's API Gateway hosts (execute-api), for a CSP that cannot name the API id. */
export const regionApiHosts = (): string => `https://*.execute-api.${Aws.REGION}.${Aws.URL_SUFFIX}`;

/** index.html with a CSP meta element first in its head, so it applies before any script or stylesheet loads. */
export function withMetaCsp(html: string, policy: string): string {
  const head = /<head(\s[^>]*)?>/i.exec(html);
  if (head === null) throw new Error('the portal index.html has no <head> to hold its Content-Security-Policy');
  const charset = /<meta\s+charset=["']?[^"'>\s]+["']?\s*\/?>/i.exec(html.slice(head.index));
  const at = charset === null ? head.index + head[0].length : head.index + charset.index + charset[0].length;
  const escaped = policy.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
  return `${html.slice(0, at)}\n    <meta http-equiv="Content-Security-Policy" content="${escaped}" />${html.slice(at)}`;
}

function priceClassKey(value: StintConfig['portal']['priceClass']): keyof typeof cloudfront.PriceClass {
  switch (value) {
    case 'PriceClass_100':
      return 'PRICE_CLASS_100';
    case 'PriceClass_200':
      return 'PRICE_CLASS_200';
    case 'PriceClass_All':
      return 'PRICE_CLASS_ALL';
  }
}
