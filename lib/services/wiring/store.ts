import { config } from '#lib/config.ts';
import { defaultDirectory } from '#lib/directory/default.ts';
import type { SecretRefMode } from '#lib/integrations/secret-ref.ts';
import { lazy } from '#lib/lazy.ts';
import { createDocumentClient } from '#lib/store/client.ts';
import { Store } from '#lib/store/store.ts';
import type { Roles } from '../requests.ts';

/**
 * What every service builds on: the table and the directory. Each Lambda entry imports the wiring module of the
 * service it calls (lib/services/wiring/*.ts), so its bundle holds that service's SDK clients and no other's.
 * Singletons are built on first use (lib/lazy.ts); a `@__PURE__` annotation on each lazy() call lets esbuild drop one (and
 * its SDK client) that a function imports through a shared module but never reads.
 */
export const store = /* @__PURE__ */ lazy(() => new Store(createDocumentClient(), config().tableName));
/** The identity directory on the same table (SCIM, channels, and the requester's manager and groups). */
export const directory = defaultDirectory;
export const roles = (): Roles => ({ adminGroup: config().adminGroup, auditorGroup: config().auditorGroup });
export const secretRefMode = (): SecretRefMode => ({ local: config().local, prefix: config().secretsPrefix });
