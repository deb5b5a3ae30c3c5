/**
 * Writes events/schema/<type>.json (JSON Schema of each event's `detail`) and events/samples/<type>.json from
 * events/schemas.ts. Run after changing a schema: `npm run events:generate`. A test fails while they differ.
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generatedFiles } from '#lib/events/samples.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const files = generatedFiles();

for (const dir of ['events/schema', 'events/samples']) {
  await mkdir(join(root, dir), { recursive: true });
  // Drop files of event types that no longer exist.
  for (const name of await readdir(join(root, dir))) {
    if (!files.has(`${dir}/${name}`)) await rm(join(root, dir, name));
  }
}
for (const [path, content] of files) await writeFile(join(root, path), content);
console.log(`wrote ${files.size} files under events/schema and events/samples`);
