import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type ApiClient, type Body, etagOf, type Ok, unwrap } from '../api/client.ts';
import { useApi } from '../app-context.tsx';

/** The three kinds of admin configuration, by their API path segment. */
export type Kind = 'flows' | 'integrations' | 'bundles';

export type Flow = Ok<'get-flow'>;
export type Integration = Ok<'get-integration'>;
export type Bundle = Ok<'get-bundle'>;
export type FlowBody = Body<'put-flow'>;
export type IntegrationBody = Body<'put-integration'>;
export type BundleBody = Body<'put-bundle'>;

/** Per kind: the stored item, the PUT body, and the word people read ("flow", "integration", "bundle"). */
export type Kinds = {
  flows: { item: Flow; body: FlowBody };
  integrations: { item: Integration; body: IntegrationBody };
  bundles: { item: Bundle; body: BundleBody };
};

export const NOUN: Record<Kind, string> = { flows: 'flow', integrations: 'integration', bundles: 'bundle' };

/** Conditional-write headers: replace only the version read (If-Match), or create only (If-None-Match: *). */
export type Precondition = { ifMatch: string } | { create: true };

function conditionHeaders(pre: Precondition | undefined): Record<string, string> {
  if (pre === undefined) return {};
  return 'ifMatch' in pre ? { 'If-Match': pre.ifMatch } : { 'If-None-Match': '*' };
}

const cursorQuery = (cursor: string | undefined) => (cursor === undefined ? {} : { cursor });

/** The typed client calls per kind (openapi-fetch wants literal paths). */
const calls = {
  flows: {
    list: (api: ApiClient, cursor?: string) => api.GET('/flows', { params: { query: cursorQuery(cursor) } }),
    get: (api: ApiClient, id: string) => api.GET('/flows/{id}', { params: { path: { id } } }),
    put: (api: ApiClient, id: string, body: FlowBody, headers: Record<string, string>) =>
      api.PUT('/flows/{id}', { params: { path: { id } }, body, headers }),
    remove: (api: ApiClient, id: string, headers: Record<string, string>) =>
      api.DELETE('/flows/{id}', { params: { path: { id } }, headers }),
  },
  integrations: {
    list: (api: ApiClient, cursor?: string) => api.GET('/integrations', { params: { query: cursorQuery(cursor) } }),
    get: (api: ApiClient, id: string) => api.GET('/integrations/{id}', { params: { path: { id } } }),
    put: (api: ApiClient, id: string, body: IntegrationBody, headers: Record<string, string>) =>
      api.PUT('/integrations/{id}', { params: { path: { id } }, body, headers }),
    remove: (api: ApiClient, id: string, headers: Record<string, string>) =>
      api.DELETE('/integrations/{id}', { params: { path: { id } }, headers }),
  },
  bundles: {
    list: (api: ApiClient, cursor?: string) => api.GET('/bundles', { params: { query: cursorQuery(cursor) } }),
    get: (api: ApiClient, id: string) => api.GET('/bundles/{id}', { params: { path: { id } } }),
    put: (api: ApiClient, id: string, body: BundleBody, headers: Record<string, string>) =>
      api.PUT('/bundles/{id}', { params: { path: { id } }, body, headers }),
    remove: (api: ApiClient, id: string, headers: Record<string, string>) =>
      api.DELETE('/bundles/{id}', { params: { path: { id } }, headers }),
  },
};

/** GET /<kind>, one page per `cursor`; deleted items (tombstones) are left out. */
export function useAdminList<K extends Kind>(kind: K) {
  const api = useApi();
  return useInfiniteQuery({
    queryKey: ['admin', kind, 'list'],
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) => {
      const page = unwrap<unknown>(await calls[kind].list(api, pageParam)) as {
        items: Kinds[K]['item'][];
        cursor: string | null;
      };
      return { ...page, items: page.items.filter((i) => i.deleted !== true) };
    },
    getNextPageParam: (last) => last.cursor ?? undefined,
  });
}

/** Every page of a list, for pickers (integration ids in a target row); small lists in practice. */
export function useAllIntegrations() {
  const api = useApi();
  return useQuery({
    queryKey: ['admin', 'integrations', 'all'],
    queryFn: async () => {
      const all: Integration[] = [];
      let cursor: string | undefined;
      do {
        const page = unwrap(await calls.integrations.list(api, cursor));
        all.push(...page.items.filter((i) => i.deleted !== true));
        cursor = page.cursor ?? undefined;
      } while (cursor !== undefined);
      return all;
    },
    staleTime: 60_000,
  });
}

/**
 * GET /<kind>/{id} with its ETag, read afresh when an editor opens and not refetched behind its back: the ETag an
 * edit is saved against is the one of the version the person opened, so a change made meanwhile is refused (412)
 * instead of overwritten.
 */
export function useAdminItem<K extends Kind>(kind: K, id: string) {
  const api = useApi();
  return useQuery({
    queryKey: ['admin', kind, 'item', id],
    enabled: id !== 'new',
    refetchOnWindowFocus: false,
    queryFn: async () => {
      const result = await calls[kind].get(api, id);
      return { item: unwrap<unknown>(result) as Kinds[K]['item'], etag: etagOf(result.response) };
    },
  });
}

/** PUT /<kind>/{id} under a precondition; answers the stored item and its new ETag. */
export function useSaveAdmin<K extends Kind>(kind: K) {
  const api = useApi();
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (input: { id: string; body: Kinds[K]['body']; pre: Precondition | undefined }) => {
      const put = calls[kind].put as (
        api: ApiClient,
        id: string,
        body: Kinds[K]['body'],
        headers: Record<string, string>,
      ) => ReturnType<(typeof calls)[K]['put']>;
      const result = await put(api, input.id, input.body, conditionHeaders(input.pre));
      return { item: unwrap<unknown>(result) as Kinds[K]['item'], etag: etagOf(result.response) };
    },
    onSuccess: (saved, input) => {
      client.setQueryData(['admin', kind, 'item', input.id], saved);
      void client.invalidateQueries({ queryKey: ['admin', kind, 'list'] });
      if (kind === 'integrations') void client.invalidateQueries({ queryKey: ['admin', 'integrations', 'all'] });
      void client.invalidateQueries({ queryKey: ['catalog'] });
    },
  });
}

/** DELETE /<kind>/{id} with If-Match (only the version shown is deleted). */
export function useDeleteAdmin(kind: Kind) {
  const api = useApi();
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (input: { id: string; etag: string | undefined }) => {
      const result = await calls[kind].remove(
        api,
        input.id,
        conditionHeaders(input.etag === undefined ? undefined : { ifMatch: input.etag }),
      );
      if (!result.response.ok) unwrap(result);
    },
    onSuccess: (_done, input) => {
      client.removeQueries({ queryKey: ['admin', kind, 'item', input.id] });
      void client.invalidateQueries({ queryKey: ['admin', kind, 'list'] });
      void client.invalidateQueries({ queryKey: ['catalog'] });
    },
  });
}

/** The PUT body of a stored item: everything but what the server owns (id, version, lastChange, deleted). */
export function bodyOf<K extends Kind>(item: Kinds[K]['item']): Kinds[K]['body'] {
  const { id: _id, version: _v, lastChange: _l, deleted: _d, ...body } = item;
  return body as unknown as Kinds[K]['body'];
}

// ─── Directory ───────────────────────────────────────────────────────────────────────────────────────────────

export type DirectoryUser = Ok<'get-directory-user'>;
export type DirectoryGroup = Ok<'get-directory-group'>;
export type Account = DirectoryUser['accounts'][number];

/** GET /directory/users, paged; `search` looks one user up by exact email (with @) or userName. */
export function useDirectoryUsers(search: string) {
  const api = useApi();
  const term = search.trim();
  return useInfiniteQuery({
    queryKey: ['directory', 'users', term],
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) => {
      const filter = term === '' ? {} : term.includes('@') ? { email: term } : { userName: term };
      return unwrap(await api.GET('/directory/users', { params: { query: { ...filter, ...cursorQuery(pageParam) } } }));
    },
    getNextPageParam: (last) => last.cursor ?? undefined,
  });
}

/** Every directory group (all pages): the user pages show which groups a user is in. */
export function useAllDirectoryGroups() {
  const api = useApi();
  return useQuery({
    queryKey: ['directory', 'groups', 'all'],
    queryFn: async () => {
      const all: DirectoryGroup[] = [];
      let cursor: string | undefined;
      do {
        const page = unwrap(await api.GET('/directory/groups', { params: { query: cursorQuery(cursor) } }));
        all.push(...page.items);
        cursor = page.cursor ?? undefined;
      } while (cursor !== undefined);
      return all;
    },
  });
}

/** GET /directory/users/{id} with its ETag (for the accounts form's If-Match). */
export function useDirectoryUser(id: string) {
  const api = useApi();
  return useQuery({
    queryKey: ['directory', 'user', id],
    refetchOnWindowFocus: false,
    queryFn: async () => {
      const result = await api.GET('/directory/users/{id}', { params: { path: { id } } });
      return { user: unwrap(result), etag: etagOf(result.response) };
    },
  });
}

export function useDirectoryGroup(id: string) {
  const api = useApi();
  return useQuery({
    queryKey: ['directory', 'group', id],
    queryFn: async () => unwrap(await api.GET('/directory/groups/{id}', { params: { path: { id } } })),
  });
}

/** PUT /directory/users/{id}/accounts: the user's complete list of linked accounts, If-Match the version read. */
export function useSaveAccounts(id: string) {
  const api = useApi();
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (input: { accounts: Account[]; etag: string | undefined }) => {
      const result = await api.PUT('/directory/users/{id}/accounts', {
        params: { path: { id } },
        body: { accounts: input.accounts },
        headers: input.etag === undefined ? {} : { 'If-Match': input.etag },
      });
      return { user: unwrap(result), etag: etagOf(result.response) };
    },
    onSuccess: (saved) => {
      client.setQueryData(['directory', 'user', id], saved);
      void client.invalidateQueries({ queryKey: ['directory', 'users'] });
    },
  });
}
