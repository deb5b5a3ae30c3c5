import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';

/** What a local AWS service answers to one request (the runtime's HTTP server writes it out). */
export type AwsResponse = {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
};

/** One AWS JSON-protocol service behind the runtime's single port, chosen by the X-Amz-Target prefix. */
export type AwsService = {
  handle(target: string, body: Buffer, headers: IncomingHttpHeaders): Promise<AwsResponse>;
};

export class PayloadTooLargeError extends Error {
  override readonly name = 'PayloadTooLargeError';
}

/** Reads a request body; rejects with PayloadTooLargeError past `limit` bytes without buffering the rest. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      req.resume();
      reject(new PayloadTooLargeError(`body of ${declared} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(new PayloadTooLargeError(`body over ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

export function send(res: ServerResponse, response: AwsResponse): void {
  const body = typeof response.body === 'string' ? Buffer.from(response.body) : response.body;
  res.writeHead(response.status, { ...response.headers, 'content-length': String(body.length) });
  res.end(body);
}

/** An AWS JSON-protocol error the SDK v3 deserializes into the named exception class. */
export function awsError(contentType: string, type: string, message: string, status = 400): AwsResponse {
  return {
    status,
    headers: { 'content-type': contentType, 'x-amzn-errortype': type },
    body: JSON.stringify({ __type: type, message }),
  };
}

export function awsJson(contentType: string, body: unknown): AwsResponse {
  return { status: 200, headers: { 'content-type': contentType }, body: JSON.stringify(body ?? {}) };
}

/**
 * Serves the AWS services of the runtime on one port: a request whose X-Amz-Target starts with a service's
 * prefix goes to it. Resolves to false when the request is not an AWS API call.
 */
export async function routeAws(
  services: Readonly<Record<string, AwsService>>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<boolean> {
  const target = req.headers['x-amz-target'];
  if (req.method !== 'POST' || typeof target !== 'string') return false;
  const service = services[target.split('.')[0] ?? ''];
  if (service === undefined) return false;
  const body = await readBody(req, 16 * 1024 * 1024);
  send(res, await service.handle(target, body, req.headers));
  return true;
}
