import * as z from 'zod';
import { GroupName, Subject } from './common.ts';

/** The person behind a call: from verified JWT claims (API) or a verified channel user. */
export const Identity = z.object({
  sub: Subject,
  email: z.email(),
  groups: z.array(GroupName).max(500).default([]),
  manager: Subject.optional(),
});
export type Identity = z.infer<typeof Identity>;

/** The system itself (workflow steps, reconciler) when it changes an item. */
export const SYSTEM_SUBJECT = 'stint:system';
