/** What every command is given: how to print, and whether a person is there to answer questions. */
export type Ctx = {
  /** `--output json`: one JSON document on stdout, errors as JSON on stderr. */
  json: boolean;
  /** stdin and stdout are a terminal: missing arguments may be asked for, a live status line may be drawn. */
  interactive: boolean;
  /** `--url` or STINT_URL, when given: the API to talk to instead of the signed-in session's. */
  url: string | undefined;
  out(text: string): void;
  err(text: string): void;
};

export function contextOf(options: { output?: string; url?: string }): Ctx {
  return {
    json: options.output === 'json',
    interactive: process.stdin.isTTY === true && process.stdout.isTTY === true && process.env.CI !== 'true',
    url: options.url,
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
  };
}
