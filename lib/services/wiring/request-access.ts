import { lazy } from '#lib/lazy.ts';
import { credentialsKey } from './credentials-key.ts';
import { requestService } from './request-service.ts';

/** Requests for GET /requests/{id}/access: the credentials key opens sealed secrets; no Step Functions. */
export const requestAccess = /* @__PURE__ */ lazy(() => requestService({ credentialsKey }));
