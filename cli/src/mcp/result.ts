import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { CliError, SignedOutError } from '../errors.ts';

/** A tool's answer: the JSON as text (for clients that read only text) and as `structuredContent`. */
export function answer(value: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(value, null, 2) }], structuredContent: value };
}

/** A refusal or failure as a tool result the model reads (`isError`), one line, like the CLI's stderr line. */
export function refusal(message: string): CallToolResult {
  return { content: [{ type: 'text', text: message }], isError: true };
}

/**
 * The one line for an error a tool call ended with: the API's problem (unwrap made it a CliError), not being signed
 * in (the agent cannot fix that: the person must sign in, in a terminal), or the network.
 */
export function messageOf(error: unknown): string {
  if (error instanceof SignedOutError) {
    return `${error.message}. The person must do this in a terminal (an agent cannot sign in), then call the tool again.`;
  }
  if (error instanceof CliError) return error.message;
  if (error instanceof Error) {
    // fetch's "fetch failed" hides the reason (ECONNREFUSED…) in `cause`.
    const cause = (error as { cause?: unknown }).cause;
    if (error.message === 'fetch failed' && cause instanceof Error) return `could not reach the API: ${cause.message}`;
    return error.message;
  }
  return String(error);
}
