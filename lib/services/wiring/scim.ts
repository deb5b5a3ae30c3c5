import { lazy } from '#lib/lazy.ts';
import { ScimService } from '#lib/scim/service.ts';
import { directory } from './store.ts';

export const scim = /* @__PURE__ */ lazy(() => new ScimService(directory()));
