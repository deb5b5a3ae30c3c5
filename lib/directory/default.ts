import { config } from '#lib/config.ts';
import { lazy } from '#lib/lazy.ts';
import { createDocumentClient } from '#lib/store/client.ts';
import { DirectoryStore } from './store.ts';

/** The function's identity directory on the table (one client at module scope, created on first use). */
export const defaultDirectory: () => DirectoryStore = /* @__PURE__ */ lazy(
  () => new DirectoryStore(createDocumentClient(), config().tableName),
);
