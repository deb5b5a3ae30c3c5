import { type Query, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useRef } from 'react';
import { type Body, type Ok, unwrap } from '../api/client.ts';
import { useApi } from '../app-context.tsx';
import { type ApproverSetLike, record } from '../components/request-parts.tsx';
import { backoff, IN_FLIGHT } from '../components/status.tsx';

export type Catalog = Ok<'get-catalog'>;
export type CatalogFlow = Catalog['flows'][number];
export type RequestView = Ok<'get-request'>;
export type RequestList = Ok<'list-requests'>;
export type Scope = 'mine' | 'approvals';

/** While ACTIVE nothing is in flight, but the grant can end (expiry, someone's revoke): look again now and then. */
const ACTIVE_POLL_MS = 30_000;

/** ACTIVE past its expiry: the workflow is about to end it, so the page watches closely until it does. */
export function overdue(request: { status: string; expiresAt?: string }): boolean {
  return request.status === 'ACTIVE' && request.expiresAt !== undefined && Date.parse(request.expiresAt) <= Date.now();
}

/**
 * The backoff attempt of a polled query: how many answers it got since the watched state last changed, so a
 * request that moves (PENDING → APPROVED → GRANTING) is watched closely again at each step.
 */
function useAttempts() {
  const last = useRef<{ key: string; base: number }>({ key: '', base: 0 });
  return (key: string, updates: number): number => {
    if (last.current.key !== key) last.current = { key, base: updates };
    return updates - last.current.base;
  };
}

/** A manual flow's approver sets, when the catalog names them (read defensively: not every API version does). */
export function approverSetsOf(flow: CatalogFlow): ApproverSetLike[] | undefined {
  const sets = record(flow.approval)?.sets;
  if (flow.approval.mode !== 'manual' || !Array.isArray(sets)) return undefined;
  return sets.map(record).filter((set) => set !== undefined) as ApproverSetLike[];
}

/** Whether approvers of a manual flow must give a reason, when the catalog says. */
export function reasonRequiredOf(flow: CatalogFlow | undefined): boolean | undefined {
  const value = record(flow?.approval)?.reasonRequired;
  return typeof value === 'boolean' ? value : undefined;
}

/** GET /catalog: the flows I may request under. */
export function useCatalog() {
  const api = useApi();
  return useQuery({
    queryKey: ['catalog'],
    queryFn: async () => unwrap(await api.GET('/catalog')),
    staleTime: 60_000,
  });
}

/** One flow of the catalog, or undefined while loading / when I may not request under it. */
export function useCatalogFlow(flowId: string): CatalogFlow | undefined {
  return useCatalog().data?.flows.find((f) => f.id === flowId);
}

/** GET /requests for a scope: polled with backoff while any request listed is in flight. */
export function useRequests(scope: Scope) {
  const api = useApi();
  const attempt = useAttempts();
  return useQuery({
    queryKey: ['requests', scope],
    queryFn: async () => unwrap(await api.GET('/requests', { params: { query: { scope, limit: 100 } } })),
    refetchInterval: (query: Query<RequestList>) => {
      const items = query.state.data?.items ?? [];
      const inFlight = items.some((r) => IN_FLIGHT.has(r.status));
      const key = items.map((r) => `${r.id}:${r.status}`).join(',');
      if (inFlight || items.some(overdue)) return backoff(true, attempt(key, query.state.dataUpdateCount));
      return items.some((r) => r.status === 'ACTIVE') ? ACTIVE_POLL_MS : false;
    },
  });
}

/**
 * GET /requests/{id}: live while in flight or past its expiry (backoff, reset at each status change), now and then
 * while ACTIVE.
 */
export function useRequest(id: string) {
  const api = useApi();
  const attempt = useAttempts();
  return useQuery({
    queryKey: ['request', id],
    queryFn: async () => unwrap(await api.GET('/requests/{id}', { params: { path: { id } } })),
    refetchInterval: (query: Query<RequestView>) => {
      const request = query.state.data;
      if (request === undefined) return false;
      const watched = overdue(request) ? 'ACTIVE-overdue' : request.status;
      if (IN_FLIGHT.has(request.status) || overdue(request)) {
        return backoff(true, attempt(watched, query.state.dataUpdateCount));
      }
      return request.status === 'ACTIVE' ? ACTIVE_POLL_MS : false;
    },
  });
}

/** After any change to a request: its page shows the answer, and the lists look again. */
function useRequestChanged() {
  const client = useQueryClient();
  return (request: RequestView) => {
    client.setQueryData(['request', request.id], request);
    void client.invalidateQueries({ queryKey: ['requests'] });
  };
}

export type CreateInput = Body<'create-request'>;

/** POST /requests. */
export function useCreateRequest() {
  const api = useApi();
  const changed = useRequestChanged();
  return useMutation({
    mutationFn: async (body: CreateInput) => unwrap(await api.POST('/requests', { body })),
    onSuccess: changed,
  });
}

export type Decision = 'approve' | 'reject';

/** POST /requests/{id}/approve or /reject; the decided request leaves the inbox at once. */
export function useDecide() {
  const api = useApi();
  const client = useQueryClient();
  const changed = useRequestChanged();
  return useMutation({
    mutationFn: async (input: { id: string; decision: Decision; reason?: string }) => {
      const options = { params: { path: { id: input.id } }, body: reasonBody(input.reason) };
      return unwrap(
        input.decision === 'approve'
          ? await api.POST('/requests/{id}/approve', options)
          : await api.POST('/requests/{id}/reject', options),
      );
    },
    onSuccess: (request) => {
      client.setQueryData<RequestList>(['requests', 'approvals'], (list) =>
        list === undefined ? list : { ...list, items: list.items.filter((r) => r.id !== request.id) },
      );
      changed(request);
    },
  });
}

/** POST /requests/{id}/cancel or /revoke (with an optional reason). */
export function useEnd(action: 'cancel' | 'revoke') {
  const api = useApi();
  const changed = useRequestChanged();
  return useMutation({
    mutationFn: async (input: { id: string; reason?: string }) => {
      const options = { params: { path: { id: input.id } }, body: reasonBody(input.reason) };
      return unwrap(
        action === 'cancel'
          ? await api.POST('/requests/{id}/cancel', options)
          : await api.POST('/requests/{id}/revoke', options),
      );
    },
    onSuccess: changed,
  });
}

/** POST /requests/{id}/extend. */
export function useExtend() {
  const api = useApi();
  const changed = useRequestChanged();
  return useMutation({
    mutationFn: async (input: { id: string; minutes: number; reason?: string }) =>
      unwrap(
        await api.POST('/requests/{id}/extend', {
          params: { path: { id: input.id } },
          body: { minutes: input.minutes, ...reasonBody(input.reason) },
        }),
      ),
    onSuccess: changed,
  });
}

/** The API refuses an empty reason: leave it out instead. */
function reasonBody(reason: string | undefined): { reason?: string } {
  const trimmed = reason?.trim() ?? '';
  return trimmed === '' ? {} : { reason: trimmed };
}
