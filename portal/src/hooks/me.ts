import { useQuery } from '@tanstack/react-query';
import { type Ok, unwrap } from '../api/client.ts';
import { useApi } from '../app-context.tsx';

export type Me = Ok<'get-me'>;

/** GET /me: who the API says I am (groups from the token and the directory) and whether I am admin or auditor. */
export function useMe() {
  const api = useApi();
  return useQuery({
    queryKey: ['me'],
    queryFn: async () => unwrap(await api.GET('/me')),
    staleTime: 60_000,
  });
}
