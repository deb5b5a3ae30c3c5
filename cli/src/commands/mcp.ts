import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Ctx } from '../context.ts';
import { createStintServer } from '../mcp/server.ts';
import { describeSession, readSession } from '../session.ts';

declare const STINT_VERSION: string;

type Options = {
  /** `--no-access`: leave get_access out, so credentials never reach the agent. */
  access?: boolean;
};

/**
 * `stint mcp`: a Model Context Protocol server on stdin/stdout for an AI agent, acting as the signed-in user. It runs
 * until the client closes stdin. Stdout carries the protocol and nothing else; log lines go to stderr.
 */
export async function run(ctx: Ctx, _args: string[], options: Options = {}): Promise<void> {
  // A stray console.log from a dependency would corrupt the protocol stream: send it to stderr.
  console.log = console.error;
  console.info = console.error;
  console.debug = console.error;
  const log = (line: string) => ctx.err(`${line}\n`);
  const access = options.access !== false;
  const server = createStintServer(ctx, {
    access,
    version: typeof STINT_VERSION === 'string' ? STINT_VERSION : '0.0.0',
    log,
  });

  const closed = new Promise<void>((resolve) => {
    server.server.onclose = resolve;
  });
  // The SDK's stdio transport does not notice the end of stdin by itself: the client closing it ends the server.
  process.stdin.once('end', () => {
    server.close().catch((error: unknown) => log(`stint mcp: closing: ${String(error)}`));
  });
  await server.connect(new StdioServerTransport());
  log(`stint mcp: serving on stdio as ${who()}${access ? '' : ' (no get_access: credentials stay out of the agent)'}`);
  await closed;
}

function who(): string {
  try {
    const session = readSession();
    return session === undefined
      ? 'nobody yet (tools will ask the person to run `stint login`)'
      : describeSession(session);
  } catch (error) {
    return `nobody: ${(error as Error).message}`;
  }
}
