import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { classifyAddress, createOutbound, type Resolver } from '#lib/targets/outbound.ts';
import { expectSuccess, PermanentDeliveryError, RetryableDeliveryError } from '#lib/targets/types.ts';
import { header, nth, type Receiver, rejectionOf, startReceiver } from './receiver.ts';

function portOf(server: Server): number {
  const address: AddressInfo | string | null = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
}

const strict = createOutbound({ local: false, allowPrivateNetwork: false });

describe('classifyAddress', () => {
  it.each([
    ['8.8.8.8', 'public', 'unicast'],
    ['172.32.0.1', 'public', 'unicast'],
    ['100.128.0.1', 'public', 'unicast'],
    ['2606:4700:4700::1111', 'public', 'unicast'],
    ['10.0.0.1', 'private', 'private'],
    ['172.16.0.1', 'private', 'private'],
    ['172.31.255.254', 'private', 'private'],
    ['192.168.1.1', 'private', 'private'],
    ['100.64.0.1', 'private', 'carrierGradeNat'],
    ['127.0.0.1', 'private', 'loopback'],
    ['127.8.8.8', 'private', 'loopback'],
    ['::1', 'private', 'loopback'],
    ['169.254.1.1', 'private', 'linkLocal'],
    ['fe80::1', 'private', 'linkLocal'],
    ['fc00::1', 'private', 'uniqueLocal'],
    ['fd12:3456::1', 'private', 'uniqueLocal'],
    ['169.254.169.254', 'never', 'metadata'],
    ['fd00:ec2::254', 'never', 'metadata'],
    ['0.0.0.0', 'never', 'unspecified'],
    ['::', 'never', 'unspecified'],
    ['224.0.0.1', 'never', 'multicast'],
    ['255.255.255.255', 'never', 'broadcast'],
  ])('classifies %s as %s (%s)', (address, policy, range) => {
    const found = classifyAddress(address);
    expect(found.policy).toBe(policy);
    expect(found.range).toBe(range);
  });

  it('judges an IPv4-mapped IPv6 address by its IPv4 address', () => {
    expect(classifyAddress('::ffff:10.0.0.1')).toMatchObject({ address: '10.0.0.1', range: 'private' });
    expect(classifyAddress('::ffff:a9fe:a9fe')).toMatchObject({ address: '169.254.169.254', range: 'metadata' });
    expect(classifyAddress('::ffff:8.8.8.8')).toMatchObject({ address: '8.8.8.8', policy: 'public' });
  });

  it('judges a NAT64 address by the IPv4 address it reaches', () => {
    expect(classifyAddress('64:ff9b::a9fe:a9fe')).toMatchObject({ address: '169.254.169.254', range: 'metadata' });
    expect(classifyAddress('64:ff9b::808:808')).toMatchObject({ address: '8.8.8.8', policy: 'public' });
  });
});

describe('createOutbound refuses unsafe destinations', () => {
  it('refuses http:// outside local mode', async () => {
    const error = await rejectionOf(strict.send({ method: 'POST', url: 'http://siem.example.com/in', body: '{}' }));
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toBe('refused http:// destination siem.example.com: HTTPS only');
  });

  it('refuses other schemes even in local mode', async () => {
    const local = createOutbound({ local: true, allowPrivateNetwork: true });
    const error = await rejectionOf(local.send({ method: 'GET', url: 'ftp://siem.example.com/' }));
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toMatch(/refused ftp:\/\/ destination/);
  });

  it('refuses the instance metadata address, even when the target allows a private network', async () => {
    for (const allowPrivateNetwork of [false, true]) {
      const outbound = createOutbound({ local: false, allowPrivateNetwork });
      const error = await rejectionOf(
        outbound.send({ method: 'GET', url: 'https://169.254.169.254/latest/meta-data/' }),
      );
      expect(error).toBeInstanceOf(PermanentDeliveryError);
      expect(error.message).toBe('refused destination 169.254.169.254: is a cloud metadata address');
    }
  });

  it('refuses a private address and says how to allow it', async () => {
    const error = await rejectionOf(strict.send({ method: 'POST', url: 'https://10.0.0.1/hec', body: '{}' }));
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toBe(
      'refused destination 10.0.0.1: is a private network address (set allowPrivateNetwork on the target to allow it)',
    );
  });

  it('refuses an IPv6 loopback literal', async () => {
    const error = await rejectionOf(strict.send({ method: 'POST', url: 'https://[::1]:8088/hec', body: '{}' }));
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toMatch(/^refused destination ::1: is a loopback address/);
  });

  it('refuses an IPv4-mapped IPv6 literal of a private address', async () => {
    const error = await rejectionOf(strict.send({ method: 'GET', url: 'https://[::ffff:192.168.0.10]/' }));
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toMatch(/resolves to 192\.168\.0\.10, which is a private network address/);
  });

  it('refuses a host name that resolves to a loopback address (localhost, real resolver)', async () => {
    const error = await rejectionOf(strict.send({ method: 'POST', url: 'https://localhost/hec', body: '{}' }));
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toMatch(
      /^refused destination localhost: resolves to (127\.0\.0\.1|::1), which is a loopback/,
    );
  });

  it('refuses a host name when any of its addresses is private', async () => {
    const resolve: Resolver = async () => [
      { address: '93.184.215.14', family: 4 },
      { address: '10.1.2.3', family: 4 },
    ];
    const outbound = createOutbound({ local: false, allowPrivateNetwork: false, resolve });
    const error = await rejectionOf(outbound.send({ method: 'POST', url: 'https://siem.example.com/', body: '{}' }));
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toMatch(
      /^refused destination siem\.example\.com: resolves to 10\.1\.2\.3, which is a private/,
    );
  });

  it('treats a failed resolution as retryable', async () => {
    const resolve: Resolver = async () => {
      throw Object.assign(new Error('getaddrinfo EAI_AGAIN'), { code: 'EAI_AGAIN' });
    };
    const outbound = createOutbound({ local: false, allowPrivateNetwork: false, resolve });
    const error = await rejectionOf(outbound.send({ method: 'GET', url: 'https://siem.example.com/' }));
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error.message).toBe('siem.example.com: DNS EAI_AGAIN');
  });
});

describe('createOutbound over HTTPS to verified addresses', () => {
  let dir: string;
  let cert: string;
  let server: Server;
  let port: number;
  const seen: { host: string | undefined; servername: unknown; path: string | undefined }[] = [];

  beforeAll(async () => {
    // A throwaway CA-less self-signed certificate for siem.test and 127.0.0.1.
    dir = mkdtempSync(join(tmpdir(), 'stint-outbound-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=siem.test',
        '-addext',
        'subjectAltName=DNS:siem.test,IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (req, res) => {
      const servername = 'servername' in req.socket ? req.socket.servername : undefined;
      seen.push({ host: req.headers.host, servername, path: req.url });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = portOf(server);
  });

  afterAll(async () => {
    await closeServer(server);
    rmSync(dir, { recursive: true, force: true });
  });

  it('lets 127.0.0.1 through when the target allows a private network', async () => {
    const outbound = createOutbound({ local: false, allowPrivateNetwork: true, ca: cert });
    const response = await outbound.send({ method: 'POST', url: `https://127.0.0.1:${port}/in`, body: '{}' });
    expect(response.status).toBe(200);
    expect(response.body).toBe('{"ok":true}');
    expect(response.headers['content-type']).toBe('application/json');
  });

  it('connects to the verified address once, keeping SNI and Host as the host name', async () => {
    const lookups: string[] = [];
    const resolve: Resolver = async (hostname) => {
      lookups.push(hostname);
      return [{ address: '127.0.0.1', family: 4 }];
    };
    const outbound = createOutbound({ local: false, allowPrivateNetwork: true, ca: cert, resolve });
    seen.length = 0;
    const response = await outbound.send({ method: 'POST', url: `https://siem.test:${port}/hec?x=1`, body: '{}' });
    expect(response.status).toBe(200);
    expect(lookups).toEqual(['siem.test']);
    expect(seen).toEqual([{ host: `siem.test:${port}`, servername: 'siem.test', path: '/hec?x=1' }]);
  });

  it('refuses the same host name without allowPrivateNetwork, before connecting', async () => {
    const resolve: Resolver = async () => [{ address: '127.0.0.1', family: 4 }];
    const outbound = createOutbound({ local: false, allowPrivateNetwork: false, ca: cert, resolve });
    seen.length = 0;
    const error = await rejectionOf(outbound.send({ method: 'POST', url: `https://siem.test:${port}/`, body: '{}' }));
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toMatch(/siem\.test: resolves to 127\.0\.0\.1, which is a loopback address/);
    expect(seen).toEqual([]);
  });

  it('checks the certificate against the host name (a wrong name is a delivery error)', async () => {
    const resolve: Resolver = async () => [{ address: '127.0.0.1', family: 4 }];
    const outbound = createOutbound({ local: false, allowPrivateNetwork: true, ca: cert, resolve });
    const error = await rejectionOf(outbound.send({ method: 'POST', url: `https://other.test:${port}/`, body: '{}' }));
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error.message).toBe('other.test: ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('does not trust a self-signed certificate it was not given', async () => {
    const outbound = createOutbound({ local: false, allowPrivateNetwork: true });
    const error = await rejectionOf(outbound.send({ method: 'GET', url: `https://127.0.0.1:${port}/` }));
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error.message).toBe('127.0.0.1: DEPTH_ZERO_SELF_SIGNED_CERT');
  });
});

describe('createOutbound exchange limits', () => {
  let receiver: Receiver | undefined;
  let server: Server | undefined;
  afterEach(async () => {
    await receiver?.close();
    receiver = undefined;
    if (server !== undefined) await closeServer(server);
    server = undefined;
  });
  const local = createOutbound({ local: true, allowPrivateNetwork: true });

  it('sends the method, path, headers and body as given', async () => {
    receiver = await startReceiver(() => ({ status: 201, body: 'created', headers: { 'x-answer': 'yes' } }));
    const response = await local.send({
      method: 'PUT',
      url: `${receiver.url}/a/b?c=d`,
      headers: { 'content-type': 'application/json', authorization: 'Bearer t' },
      body: new TextEncoder().encode('{"é":1}'),
    });
    expect(response).toEqual({ status: 201, headers: expect.objectContaining({ 'x-answer': 'yes' }), body: 'created' });
    expect(receiver.received).toHaveLength(1);
    const got = nth(receiver.received, 0);
    expect(got.method).toBe('PUT');
    expect(got.path).toBe('/a/b?c=d');
    expect(header(got, 'authorization')).toBe('Bearer t');
    expect(header(got, 'content-length')).toBe('8'); // bytes, not characters: é is two
    expect(got.body.toString('utf8')).toBe('{"é":1}');
  });

  it('refuses a header value with a line break before sending anything (permanent)', async () => {
    receiver = await startReceiver(() => ({ status: 200 }));
    const error = await rejectionOf(
      local.send({ method: 'POST', url: receiver.url, headers: { 'x-sumo-host': 'a\r\nx-injected: 1' }, body: '{}' }),
    );
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toBe('127.0.0.1: request refused before sending (ERR_INVALID_CHAR)');
    expect(receiver.received).toHaveLength(0);
  });

  it('times out on a server that never answers (retryable)', async () => {
    server = createHttpServer(() => {
      // accepts the request and never answers
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const outbound = createOutbound({ local: true, allowPrivateNetwork: true, totalTimeoutMs: 300 });
    const error = await rejectionOf(outbound.send({ method: 'POST', url: `http://127.0.0.1:${portOf(server)}/` }));
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error.message).toBe('127.0.0.1: timed out after 300 ms');
  });

  it('gives up connecting after the connect timeout (retryable)', async () => {
    // A listener whose process never accepts: once its accept queue (backlog 1) is full, the kernel drops further
    // SYNs and a connection attempt stays pending. The child blocks in Atomics.wait (no CPU) and is killed after.
    const child = spawn(
      process.execPath,
      [
        '-e',
        `const s = require('node:net').createServer().listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
           process.stdout.write(s.address().port + '\\n', () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000));
         });`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const fillers: Socket[] = [];
    try {
      const [chunk] = await once(child.stdout, 'data');
      const port = Number(String(chunk).trim());
      for (let i = 0; i < 4; i++) fillers.push(connect({ port, host: '127.0.0.1' }).on('error', () => {}));
      await Promise.all(fillers.slice(0, 2).map((socket) => once(socket, 'connect')));
      const outbound = createOutbound({ local: true, allowPrivateNetwork: true, connectTimeoutMs: 200 });
      const error = await rejectionOf(outbound.send({ method: 'POST', url: `http://127.0.0.1:${port}/`, body: '{}' }));
      expect(error).toBeInstanceOf(RetryableDeliveryError);
      expect(error.message).toBe('127.0.0.1: connect timed out after 200 ms');
    } finally {
      for (const socket of fillers) socket.destroy();
      child.kill();
    }
  });

  it('counts a resolver that never answers against the total timeout', async () => {
    const resolve: Resolver = () => new Promise(() => {});
    const outbound = createOutbound({ local: false, allowPrivateNetwork: false, totalTimeoutMs: 200, resolve });
    const error = await rejectionOf(outbound.send({ method: 'GET', url: 'https://siem.example.com/' }));
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error.message).toBe('siem.example.com: timed out after 200 ms');
  });

  it('treats a refused connection as retryable', async () => {
    server = createHttpServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = portOf(server);
    await closeServer(server);
    server = undefined;
    const error = await rejectionOf(local.send({ method: 'GET', url: `http://127.0.0.1:${port}/` }));
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error.message).toBe('127.0.0.1: ECONNREFUSED');
  });

  it('keeps 64 KiB of a 10 MB answer and discards the rest', async () => {
    const tenMegabytes = 'x'.repeat(10 * 1024 * 1024);
    receiver = await startReceiver(() => ({ status: 200, body: tenMegabytes }));
    const response = await local.send({ method: 'GET', url: `${receiver.url}/big` });
    expect(response.status).toBe(200);
    expect(response.body.length).toBe(64 * 1024);
  });

  it('honours a smaller cap', async () => {
    receiver = await startReceiver(() => ({ status: 400, body: 'e'.repeat(5000) }));
    const outbound = createOutbound({ local: true, allowPrivateNetwork: true, maxResponseBytes: 1000 });
    const response = await outbound.send({ method: 'POST', url: receiver.url, body: '{}' });
    expect(response.body).toBe('e'.repeat(1000));
  });

  it('does not follow a redirect: the 3xx comes back and is a permanent failure', async () => {
    receiver = await startReceiver(() => ({ status: 302, headers: { location: 'http://169.254.169.254/' } }));
    const response = await local.send({ method: 'POST', url: `${receiver.url}/in`, body: '{}' });
    expect(response.status).toBe(302);
    expect(response.headers.location).toBe('http://169.254.169.254/');
    expect(receiver.received).toHaveLength(1);
    expect(() => expectSuccess(response, 'webhook')).toThrow(PermanentDeliveryError);
  });
});
