import * as z from 'zod';
import { hasControlCharacters, isWellFormed, NOT_WELL_FORMED } from './well-formed.ts';

// The zod building blocks of well-formed text (the predicates live zod-free in well-formed.ts).

/** Any string, but well-formed: the base of every string field that reaches a key, a log or a target. */
export const WellFormed = z.string().refine(isWellFormed, { message: NOT_WELL_FORMED, abort: true });

/** Single-line text: ids, names, emails, subjects, group names. Well-formed, no control characters at all. */
export const Line = WellFormed.refine((s) => !hasControlCharacters(s, { allowWhitespace: false }), {
  message: 'must not contain control characters',
});

/** Free text (justifications, reasons, descriptions): well-formed; tab and line breaks allowed, other controls not. */
export const Text = WellFormed.refine((s) => !hasControlCharacters(s, { allowWhitespace: true }), {
  message: 'must not contain control characters other than tab and line breaks',
});
