import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type AwsService, routeAws } from '#lib/local/http.ts';

/** Serves local AWS services on an ephemeral port, as the runtime does, for SDK clients in tests. */
export async function serveAws(services: Record<string, AwsService>): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    routeAws(services, req, res).then(
      (handled) => {
        if (!handled) res.writeHead(404).end();
      },
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export const sdkConfig = (endpoint: string) => ({
  endpoint,
  region: 'local',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
});
