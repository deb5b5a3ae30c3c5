import type * as z from 'zod';
import { ValidationError } from '#lib/domain/errors.ts';
import type { TargetConfig } from './config.ts';

/** A kind's options, parsed with its schema; a ValidationError names `options.<field>` (nested and unknown keys too). */
export function parseTargetOptions<S extends z.ZodType>(target: TargetConfig, schema: S): z.output<S> {
  const parsed = schema.safeParse(target.options);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => {
    // An unknown key is reported on the object itself: name the key instead.
    const path = issue.code === 'unrecognized_keys' ? [...issue.path, ...issue.keys.slice(0, 1)] : issue.path;
    return { path: ['options', ...path.map(String)].join('.'), message: issue.message };
  });
  const first = issues[0] ?? { path: 'options', message: 'invalid' };
  throw new ValidationError(
    `target "${target.name}" (${target.kind}): ${first.path}: ${first.message}`,
    first.path,
    issues,
  );
}

/** The endpoint as a URL without query, fragment or credentials (credentials belong in the secret). */
export function plainEndpoint(target: TargetConfig, what = 'the endpoint'): URL {
  const url = new URL(target.endpoint);
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new ValidationError(`target ${target.name}: ${what} takes no query, fragment or credentials`, 'endpoint');
  }
  return url;
}
