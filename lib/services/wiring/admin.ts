import { config } from '#lib/config.ts';
import { lazy } from '#lib/lazy.ts';
import { oncallProvidersOf } from '#lib/oncall/config.ts';
import { AdminService } from '../admin.ts';
import { DirectoryAdminService } from '../directory-admin.ts';
import { directory, roles, secretRefMode, store } from './store.ts';

/** Flows, integrations and bundles (the admin API): the table only. */
export const admin = /* @__PURE__ */ lazy(
  () =>
    new AdminService({
      store: store(),
      roles: roles(),
      secretRefMode: secretRefMode(),
      oncall: oncallProvidersOf(config()),
    }),
);
/** Directory users and groups (the admin API). */
export const directoryAdmin = /* @__PURE__ */ lazy(
  () => new DirectoryAdminService({ directory: directory(), roles: roles() }),
);
