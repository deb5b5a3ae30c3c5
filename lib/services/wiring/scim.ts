import { lazy } from '#lib/lazy.ts';
import { ScimService } from '#lib/scim/service.ts';
import { directory } from './store.ts';

export const scim = lazy(() => new ScimService(directory()));
