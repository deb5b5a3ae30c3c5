import type { operations } from './schema.d.ts';

// Shared by the portal and the CLI (cli/src/api.ts): body types of the generated API description by operation id.

/** A success body type by operation id, e.g. `Ok<'get-request'>`. */
export type Ok<Op extends keyof operations> = operations[Op]['responses'] extends infer R
  ? R extends { 200: { content: { 'application/json': infer B } } }
    ? B
    : R extends { 201: { content: { 'application/json': infer B } } }
      ? B
      : never
  : never;

/** A request body type by operation id, e.g. `Body<'create-request'>`. */
export type Body<Op extends keyof operations> = operations[Op] extends {
  requestBody: { content: { 'application/json': infer B } };
}
  ? B
  : never;
