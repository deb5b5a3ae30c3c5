/**
 * A field path as a form knows it: the path in the request body. The API names body fields `body.<path>` and may
 * write indices in brackets (`body.targets[0].resource`); both become `targets.0.resource`. Other sources keep their
 * prefix (`query.status`, `token.sub`).
 */
function bodyPath(path: string): string {
  const dotted = path.replace(/\[(\d+)\]/g, '.$1');
  return dotted.startsWith('body.') ? dotted.slice('body.'.length) : dotted;
}

/**
 * An RFC 9457 problem the API answered, with its field messages keyed by their path in the request body
 * (`targets.0.resource`, `approval.sets.0.groups`).
 */
export class ProblemError extends Error {
  override readonly name = 'ProblemError';
  readonly status: number;
  readonly title: string;
  readonly field: string | undefined;
  readonly fields: Readonly<Record<string, string>>;

  constructor(status: number, body: unknown) {
    const p = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const detail = typeof p.detail === 'string' ? p.detail : `The API answered ${status}`;
    super(detail);
    this.status = status;
    this.title = typeof p.title === 'string' ? p.title : 'Request failed';
    this.field = typeof p.field === 'string' ? bodyPath(p.field) : undefined;
    const fields: Record<string, string> = {};
    if (Array.isArray(p.errors)) {
      for (const e of p.errors as unknown[]) {
        if (typeof e !== 'object' || e === null) continue;
        const { field, message } = e as { field?: unknown; message?: unknown };
        const raw = Array.isArray(field) ? field.join('.') : typeof field === 'string' ? field : undefined;
        const path = raw === undefined ? undefined : bodyPath(raw);
        if (path !== undefined && typeof message === 'string' && fields[path] === undefined) fields[path] = message;
      }
    }
    if (this.field !== undefined && fields[this.field] === undefined) fields[this.field] = detail;
    this.fields = fields;
  }

  /** The message for a form field, also when the API names a part of it (`targets` for `targets.0.resource`). */
  forField(path: string): string | undefined {
    return this.fields[path];
  }
}

/** A message for any error a query or mutation can fail with. */
export function messageOf(error: unknown): string {
  if (error instanceof ProblemError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
