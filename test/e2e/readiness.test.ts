import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import * as z from 'zod';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { type Stint, startStint } from '#lib/local/stint.ts';

/**
 * Ready means ready: a script that waits for /health and then reads /catalog must see the demo flows. The probe
 * polls /health from the first moment the port answers; should the seeding run over this process's fetch (as it
 * once did), its write of the second demo flow is held until the probe has its answer, so the window in which
 * /health could be 200 before the demo is seeded is always there to be seen.
 */
let stint: Stint | undefined;
const realFetch = globalThis.fetch;

afterAll(async () => {
  globalThis.fetch = realFetch;
  await stint?.stop();
});

const Catalog = z.object({ flows: z.array(z.object({ id: z.string() })) });

it('answers /health with 200 only once the demo is seeded; before that 503 saying what it waits for', {
  timeout: 180_000,
}, async () => {
  const dir = await clusterParentDir('stint-readiness');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const notReady: unknown[] = [];

  const probe = (async () => {
    for (;;) {
      const health = await realFetch(`${url}/health`).catch(() => undefined);
      if (health?.status === 200) break;
      if (health !== undefined) notReady.push({ status: health.status, body: await health.json() });
      await new Promise((r) => setTimeout(r, 20));
    }
    const minted = await realFetch(`${url}/_local/token`, {
      method: 'POST',
      body: JSON.stringify({ sub: 'probe', email: 'probe@example.com', groups: [] }),
    });
    const { token } = z.object({ token: z.string() }).parse(await minted.json());
    const catalog = await realFetch(`${url}/catalog`, { headers: { authorization: `Bearer ${token}` } });
    return Catalog.parse(await catalog.json()).flows.map((f) => f.id);
  })();

  globalThis.fetch = async (input, init) => {
    const target = input instanceof Request ? input.url : String(input);
    if (init?.method === 'PUT' && target === `${url}/flows/demo-admin`) await probe.catch(() => undefined);
    return realFetch(input, init);
  };
  stint = await startStint({ port, pgDataDir: join(dir, 'postgres'), pgPort: await freePort(), log: () => {} });
  globalThis.fetch = realFetch;

  expect((await probe).sort()).toEqual(['demo-admin', 'demo-readonly']);
  for (const seen of notReady) {
    expect(seen).toMatchObject({ status: 503, body: { status: 503, waitingFor: expect.any(String) } });
  }
});
