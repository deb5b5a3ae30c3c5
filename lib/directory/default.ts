import { config } from '#lib/config.ts';
import { createDocumentClient } from '#lib/store/client.ts';
import { DirectoryStore } from './store.ts';

let directory: DirectoryStore | undefined;

/** The function's identity directory on the table (one client at module scope, created on first use). */
export function defaultDirectory(): DirectoryStore {
  directory ??= new DirectoryStore(createDocumentClient(), config().tableName);
  return directory;
}
