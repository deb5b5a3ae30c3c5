import * as z from 'zod';
import { ValidationError } from '#lib/domain/errors.ts';

/**
 * Opaque paging cursor: base64url of `{ k, p?, d? }` where `k` names the listing it belongs to, `p` is the sort key
 * of the last item returned (the next page starts strictly after it) and `d` the day partition (all-requests
 * listing). Positions are sort keys, not raw LastEvaluatedKeys, so one cursor works across merged partitions.
 */
const CursorBody = z.strictObject({
  k: z.string().min(1),
  p: z.string().min(1).max(1024).optional(),
  d: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/)
    .optional(),
});
export type CursorBody = z.infer<typeof CursorBody>;

export function encodeCursor(body: CursorBody): string {
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
}

export function decodeCursor(kind: string, cursor: string | undefined): Omit<CursorBody, 'k'> {
  if (cursor === undefined) return {};
  const invalid = () => new ValidationError('cursor is not valid for this listing', 'cursor');
  if (!/^[A-Za-z0-9_-]+$/.test(cursor) || cursor.length > 2048) throw invalid();
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  const parsed = CursorBody.safeParse(json);
  if (!parsed.success || parsed.data.k !== kind) throw invalid();
  const { k: _kind, ...position } = parsed.data;
  return position;
}

export const DEFAULT_LIMIT = 25;
export const MAX_LIMIT = 100;

export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
    throw new ValidationError(`limit must be an integer from 1 to ${MAX_LIMIT}`, 'limit');
  return limit;
}
