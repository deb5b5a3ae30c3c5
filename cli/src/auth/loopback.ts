import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { CLI_REDIRECT_URIS } from '../../../lib/identity/loopback.ts';
import { CliError } from '../errors.ts';
import { printable } from './printable.ts';

/**
 * The loopback redirect of the browser sign-in (RFC 8252 section 7.3): an HTTP listener on the loopback interface
 * only, on the first port of CLI_REDIRECT_URIS that is free (Cognito matches the port exactly, so no other port will
 * do), answering the one callback path. A callback whose `state` is not this sign-in's is refused with 400 and the
 * sign-in keeps waiting: a stray or forged redirect can neither complete it nor end it.
 */
export type LoopbackRedirect = {
  /** The redirect URI to send, byte for byte, in the authorization and the token request. */
  redirectUri: string;
  /** The callback URL (with code and state) once the browser comes back with this sign-in's state. */
  callback: Promise<URL>;
  close(): Promise<void>;
};

const PAGE = (title: string, text: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>` +
  `<body style="font-family:system-ui,sans-serif;margin:4rem auto;max-width:32rem"><h1>${title}</h1><p>${text}</p></body></html>`;

export async function listenForCallback(expectedState: string, timeoutMs: number): Promise<LoopbackRedirect> {
  let resolve!: (url: URL) => void;
  let reject!: (error: Error) => void;
  const callback = new Promise<URL>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A rejection nobody awaits yet (the caller awaits after opening the browser) must not crash the process.
  callback.catch(() => undefined);

  const answer = (res: ServerResponse, status: number, title: string, text: string) => {
    res.writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
      'referrer-policy': 'no-referrer',
    });
    res.end(PAGE(title, text));
  };

  let redirectUri: string | undefined;
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    // Read against the redirect URI itself: openid-client sends this URL without its query back as redirect_uri.
    const url = new URL(req.url ?? '/', redirectUri);
    if (req.method !== 'GET' || redirectUri === undefined || `${url.origin}${url.pathname}` !== redirectUri) {
      return answer(res, 404, 'Not found', 'Nothing here.');
    }
    if (url.searchParams.get('state') !== expectedState) {
      // Not this sign-in's redirect: refused, and the sign-in goes on waiting for its own.
      return answer(res, 400, 'Sign-in refused', 'This link does not belong to the sign-in in progress.');
    }
    const error = url.searchParams.get('error');
    if (error !== null) {
      answer(res, 400, 'Sign-in failed', 'The sign-in was not completed. You can close this tab.');
      const description = url.searchParams.get('error_description');
      const detail = `${error}${description === null ? '' : ` (${description})`}`;
      reject(new CliError(`the issuer refused the sign-in: ${printable(detail)}`));
      return;
    }
    answer(res, 200, 'Signed in to Stint', 'You can close this tab and go back to the terminal.');
    resolve(url);
  };

  const servers: Server[] = [];
  for (const candidate of CLI_REDIRECT_URIS) {
    const uri = new URL(candidate);
    const port = uri.port === '' ? 80 : Number(uri.port);
    const v4 = await bind(onRequest, port, '127.0.0.1');
    if (typeof v4 === 'string') continue;
    // localhost may resolve to ::1 first: listen there too, and skip a port another program holds on ::1 (the
    // browser would bring it the code). No IPv6 loopback at all is fine.
    const v6 = await bind(onRequest, port, '::1');
    if (v6 === 'EADDRINUSE' || v6 === 'EACCES') {
      await new Promise((done) => v4.close(done));
      continue;
    }
    servers.push(v4);
    if (typeof v6 !== 'string') servers.push(v6);
    redirectUri = candidate;
    break;
  }
  if (redirectUri === undefined) {
    const ports = CLI_REDIRECT_URIS.map((u) => new URL(u).port || '80').join(', ');
    throw new CliError(`could not listen for the sign-in redirect on localhost port ${ports} (all in use)`);
  }

  const timer = setTimeout(
    () =>
      reject(
        new CliError(
          `the sign-in was not completed within ${Math.round(timeoutMs / 60_000)} minutes: run \`stint login\` again`,
        ),
      ),
    timeoutMs,
  );
  timer.unref();
  return {
    redirectUri,
    callback,
    async close() {
      clearTimeout(timer);
      await Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((done) => {
              server.close(() => done());
              server.closeAllConnections();
            }),
        ),
      );
    },
  };
}

/** A server listening on host:port, or the error code why not (EADDRINUSE: taken; EADDRNOTAVAIL: no such address). */
function bind(
  onRequest: (req: IncomingMessage, res: ServerResponse) => void,
  port: number,
  host: string,
): Promise<Server | string> {
  return new Promise((resolve) => {
    const server = createServer(onRequest);
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'EUNKNOWN'));
    server.listen({ port, host, exclusive: true }, () => resolve(server));
  });
}
