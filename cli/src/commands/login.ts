import { mintLocal } from '../auth/local.ts';
import { loginOidc } from '../auth/oidc.ts';
import type { Ctx } from '../context.ts';
import { UsageError } from '../errors.ts';
import { printJson } from '../output.ts';
import { describeSession, requireUrl, type Session, writeSession } from '../session.ts';

type Options = {
  local?: boolean;
  user?: string;
  email?: string;
  group: string[];
  device?: boolean;
  browser: boolean;
  issuer?: string;
  clientId?: string;
  scope?: string;
};

/** The default of `--url` with `--local`: where `npm start` listens. */
export const LOCAL_URL = 'http://localhost:8787';

export async function run(ctx: Ctx, _args: string[], options: Options): Promise<void> {
  let session: Session;
  if (options.local === true) {
    const sub = options.user ?? (ctx.interactive ? await askUser() : undefined);
    if (sub === undefined) throw new UsageError('stint login --local needs --user <id>');
    session = await mintLocal(requireUrl(ctx.url ?? LOCAL_URL), {
      sub,
      email: options.email ?? `${sub}@example.com`,
      groups: options.group,
    });
  } else {
    if (options.user !== undefined || options.group.length > 0) {
      throw new UsageError('--user, --email and --group go with --local; an OIDC sign-in says who you are');
    }
    session = await loginOidc(ctx, requireUrl(ctx.url), {
      ...(options.device === undefined ? {} : { device: options.device }),
      browser: options.browser,
      ...(options.issuer === undefined ? {} : { issuer: options.issuer }),
      ...(options.clientId === undefined ? {} : { clientId: options.clientId }),
      ...(options.scope === undefined ? {} : { scope: options.scope }),
    });
  }
  writeSession(session);
  if (ctx.json) {
    printJson(ctx, {
      url: session.url,
      kind: session.kind,
      expiresAt: new Date(session.expiresAt * 1000).toISOString(),
      ...(session.kind === 'local' ? { user: session.identity } : { issuer: session.issuer }),
    });
  } else {
    ctx.out(`Signed in: ${describeSession(session)}\n`);
  }
}

async function askUser(): Promise<string | undefined> {
  const { text, isCancel } = await import('@clack/prompts');
  const answer = await text({ message: 'Sign in as (user id)', validate: (v) => (v?.trim() ? undefined : 'required') });
  return isCancel(answer) ? undefined : answer.trim();
}
