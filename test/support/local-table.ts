import * as z from 'zod';
import type { LocalRuntime } from '#lib/local/runtime.ts';

/**
 * The table's name as the functions see it (the reconciler's environment): the test process's own environment holds
 * no function's variables.
 */
export function tableNameOf(runtime: LocalRuntime): string {
  return z.string().parse(runtime.environmentOf('functions/workflow/reconciler.ts').STINT_TABLE_NAME);
}
