import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generatedSchema, SCHEMA_FILE } from '../../portal/scripts/generate-api.ts';

describe("the portal's API types", () => {
  it('are generated from the current API description (run `npm run portal:api` when this fails)', async () => {
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(await generatedSchema());
  });

  it('know the routes the portal calls, with their documented bodies', () => {
    const schema = readFileSync(SCHEMA_FILE, 'utf8');
    for (const path of ['"/me"', '"/catalog"', '"/requests"', '"/requests/{id}/approve"', '"/flows/{id}"']) {
      expect(schema).toContain(path);
    }
  });
});
