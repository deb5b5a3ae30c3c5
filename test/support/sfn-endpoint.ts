import { createServer, type Server } from 'node:http';

/**
 * Step Functions at the wire level for handler tests (it has no local stand-in below the local runtime): an HTTP
 * endpoint speaking the awsJson1_0 protocol for StartExecution, SendTaskSuccess and SendTaskFailure. Point the
 * SDK at it with AWS_ENDPOINT_URL_SFN. It records each call (operation and parsed body); a task token not marked
 * live is answered with TaskDoesNotExist, as Step Functions does for a used or unknown token.
 */
export type SfnCall = { operation: string; body: Record<string, unknown> };

export type SfnEndpoint = {
  url: string;
  calls: SfnCall[];
  live(...tokens: string[]): void;
  stop(): Promise<void>;
};

export async function startSfnEndpoint(): Promise<SfnEndpoint> {
  const calls: SfnCall[] = [];
  const liveTokens = new Set<string>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const operation = String(req.headers['x-amz-target'] ?? '').replace(/^AWSStepFunctions\./, '');
      const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      const body = parsed !== null && typeof parsed === 'object' ? Object.fromEntries(Object.entries(parsed)) : {};
      calls.push({ operation, body });
      const reply = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify(payload));
      };
      if (operation === 'StartExecution') {
        reply(200, { executionArn: `arn:aws:states:us-east-1:000000000000:execution:m:${body.name}`, startDate: 0 });
      } else if (operation === 'SendTaskSuccess' || operation === 'SendTaskFailure') {
        const token = String(body.taskToken);
        if (liveTokens.delete(token)) reply(200, {});
        else reply(400, { __type: 'com.amazonaws.states#TaskDoesNotExist', message: 'Task does not exist' });
      } else {
        reply(400, { __type: 'com.amazonaws.states#InvalidArn', message: `${operation} is not emulated here` });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the SFN endpoint did not bind a TCP port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    calls,
    live: (...tokens) => {
      for (const token of tokens) liveTokens.add(token);
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
