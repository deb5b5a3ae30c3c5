/**
 * Exit codes, documented in docs/cli.md: scripts branch on them.
 * 0 done; 1 refused or failed (the API said no, a request ended REJECTED, a command failed); 2 usage (a bad flag,
 * a missing argument with no terminal to ask on); 3 not signed in (no session, or the token was refused and could
 * not be renewed).
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, signedOut: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error the CLI reports as one line on stderr, with the exit code it means. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.failed,
    /** Extra members of the `--output json` error object (the API's status, title, field). */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}

export class SignedOutError extends CliError {
  constructor(message = 'not signed in: run `stint login --url <api>` (or `stint login --local --user <id>`)') {
    super(message, EXIT.signedOut);
  }
}

/**
 * Writes an error as one line on stderr (a JSON object `{"error": {...}}` under `--output json`) and answers its
 * exit code. Anything that is not a CliError is a failure of the CLI itself or of the network: its message only.
 */
export function report(error: unknown, json: boolean, write: (line: string) => void): ExitCode {
  const cli =
    error instanceof CliError
      ? error
      : new CliError(error instanceof Error ? messageOf(error) : String(error), EXIT.failed);
  if (json) {
    write(`${JSON.stringify({ error: { message: cli.message, exitCode: cli.exitCode, ...cli.details } })}\n`);
  } else {
    write(`stint: ${cli.message}\n`);
  }
  return cli.exitCode;
}

/** fetch's "fetch failed" hides the reason (ECONNREFUSED…) in `cause`. */
function messageOf(error: Error): string {
  const cause = (error as { cause?: unknown }).cause;
  if (error.message === 'fetch failed' && cause instanceof Error) return `could not reach the API: ${cause.message}`;
  return error.message;
}
