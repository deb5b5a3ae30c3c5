/**
 * The portal's Content-Security-Policy: only its own origin for scripts, styles, fonts and images (no inline code,
 * no CDN); `connect` adds where fetch may go; `formAction` where forms may post. Without `formAction` (the policy
 * placed in index.html) only `connect-src` is given: the browser combines it with the header's full policy.
 */
export function contentSecurityPolicy(sources: {
  readonly connect: readonly string[];
  readonly formAction?: readonly string[];
}): string {
  const connect = `connect-src ${sources.connect.join(' ')}`;
  if (sources.formAction === undefined) return connect;
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    connect,
    `form-action ${sources.formAction.join(' ')}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
    "manifest-src 'self'",
  ].join('; ');
}
