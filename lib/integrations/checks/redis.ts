import * as z from 'zod';
import { ValidationError } from '#lib/domain/errors.ts';
import type { IntegrationInput } from '#lib/domain/integration.ts';
import { endpointFields, TlsMode } from '#lib/integrations/principals.ts';
import type { DriverChecks } from '#lib/integrations/types.ts';

/** Redis's config and checks: every grant an ACL rule Stint may pass on (the driver, with ioredis, is ../redis.ts). */
export const RedisConfig = z.strictObject({
  ...endpointFields(6379),
  /** Default: verify-full, or disable in the local runtime. `true` = verify-full, `false` = disable. */
  tls: z.union([z.boolean(), TlsMode]).optional(),
});
export type RedisConfig = z.infer<typeof RedisConfig>;

/** Rules that set a password or a user flag: Stint sets those itself (`reset on #<hash>`), a permission never may. */
const USER_RULES = new Set([
  'on',
  'off',
  'nopass',
  'resetpass',
  'reset',
  'clearselectors',
  'sanitize-payload',
  'skip-sanitize-payload',
]);
const WORD_RULES = new Set(['allcommands', 'nocommands', 'allkeys', 'resetkeys', 'allchannels', 'resetchannels']);
const COMMAND_RULE = /^[+-](@[a-z0-9_-]+|[a-z0-9_.:-]+(\|\S+)?)$/i;
const KEY_RULE = /^(~|%(R|W|RW|WR)~)\S+$/i;
const CHANNEL_RULE = /^&\S+$/;

/** Why one command / key / channel rule (not a selector) may not back a permission, or undefined when it may. */
function plainRuleProblem(rule: string): string | undefined {
  const lower = rule.toLowerCase();
  if (USER_RULES.has(lower)) return `"${rule}" sets a user flag or password; Stint sets those itself`;
  if (/^[><#!]/.test(rule)) return 'rules that set or remove a password (>, <, #, !) are not allowed';
  if (rule === '' || /\s/.test(rule)) return 'one ACL rule per grant, without spaces';
  if (WORD_RULES.has(lower) || COMMAND_RULE.test(rule) || KEY_RULE.test(rule) || CHANNEL_RULE.test(rule))
    return undefined;
  return `"${rule}" is not an ACL command, key or channel rule (+cmd, -@category, ~pattern, %R~pattern, &channel, allkeys…)`;
}

/**
 * Why an ACL rule may not back a permission's grant, or undefined when it may: command rules (`+get`, `-@dangerous`,
 * `+config|get`), key rules (`~k:*`, `%R~k:*`, `allkeys`, `resetkeys`), channel rules (`&chan:*`), a selector of
 * those (`(~k:* +get)`). Anything that sets a password or a flag is refused; Redis checks the names at grant.
 */
export function aclRuleProblem(rule: string): string | undefined {
  if (rule.startsWith('(') || rule.endsWith(')')) {
    const inner = /^\((.*)\)$/.exec(rule)?.[1]?.trim();
    if (inner === undefined || inner === '') return 'a selector is "(" rules ")", e.g. "(~k:* +get)"';
    for (const part of inner.split(/\s+/)) {
      const problem = plainRuleProblem(part);
      if (problem !== undefined) return `in the selector: ${problem}`;
    }
    return undefined;
  }
  return plainRuleProblem(rule);
}

/** Every grant of every permission is an ACL rule Stint may pass on: a ValidationError names the first that is not. */
function checkRules(input: IntegrationInput): void {
  const issues: { path: string; message: string }[] = [];
  input.resources.forEach((resource, r) => {
    resource.permissions.forEach((permission, p) => {
      permission.grants.forEach((rule, g) => {
        const problem = aclRuleProblem(rule);
        if (problem !== undefined)
          issues.push({ path: `resources.${r}.permissions.${p}.grants.${g}`, message: problem });
      });
    });
  });
  const first = issues[0];
  if (first !== undefined)
    throw new ValidationError(`invalid redis ACL rule: ${first.path}: ${first.message}`, first.path, issues);
}

export const redisChecks: DriverChecks = {
  type: 'redis',
  configSchema: RedisConfig,
  needsSecret: true,
  async checkIntegration(input) {
    checkRules(input);
  },
};
