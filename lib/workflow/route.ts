import type { AccessUnit } from '#lib/domain/bundle.ts';
import { sameUnit } from '#lib/domain/bundle.ts';
import type { IntegrationType } from '#lib/domain/integration.ts';
import type { AccessRequest, PendingWork, UnitGrant } from '#lib/domain/request.ts';
import { isTerminal as isTerminalStatus } from '#lib/domain/transitions.ts';
import { branchOf, DriverAction, type LoadOutput, MAX_WAIT_SECONDS, type Next } from './contract.ts';

/**
 * Pure: where the data says a request's execution goes next. Load computes it from the table; a caller that has just
 * written the request (the API, a driver step) computes it from what it wrote and hands it to the state machine, which
 * then skips Load. Every step re-reads the request and acts on what the data says, so a stale route costs a step,
 * never a wrong action.
 */

function secondsUntil(iso: string, now: Date): number {
  return Math.ceil((Date.parse(iso) - now.getTime()) / 1000);
}

function waitFor(seconds: number): number {
  return Math.min(Math.max(seconds, 1), MAX_WAIT_SECONDS);
}

/** Whether the revoke path still has to take this unit away (every unit when undoing a failed grant). */
export function needsRevoke(request: AccessRequest, unit: AccessUnit): boolean {
  const grant = grantOf(request, unit);
  if (grant === undefined) return request.endReason === 'failed';
  return grant.revoked !== true;
}

/** What the drivers reported for this unit of the request, if anything yet. */
export function grantOf(request: AccessRequest, unit: AccessUnit): UnitGrant | undefined {
  return request.grants.find((g) => sameUnit(g.unit, unit));
}

/** The state machine's `$.load` for a request whose units have these integration types. */
export function routeOutput(request: AccessRequest, types: IntegrationType[], now: Date): LoadOutput {
  const next = route(request, types, now);
  // The driver step's read-ahead: the integrations of the units its driver type handles.
  const integrationIds = DriverAction.safeParse(next.next).success
    ? [
        ...new Set(
          request.units.filter((_, i) => (types[i] ?? 'postgresql') === next.driver).map((u) => u.integrationId),
        ),
      ]
    : [];
  return { ...next, version: request.version, branch: branchOf(next.next, next.driver), integrationIds };
}

/**
 * The route of a request a caller has just written, when its units' types are recorded on it (else undefined: the
 * execution loads the request and looks the types up).
 */
export function routeOf(request: AccessRequest, now: Date): LoadOutput | undefined {
  const types = request.unitTypes;
  if (types === undefined || types.length !== request.units.length) return undefined;
  return routeOutput(request, types, now);
}

export type Route = { next: Next; waitSeconds: number; driver: IntegrationType };

/**
 * The next target-side step for `action`: the first unit with work due now (its type's driver function does it),
 * else a Poll wait until the earliest pending unit is due. `undefined` when no unit has work left.
 */
function nextUnitWork(
  request: AccessRequest,
  types: IntegrationType[],
  now: Date,
  hasWork: (unit: AccessUnit, grant: UnitGrant | undefined) => boolean,
  dueAt: (grant: UnitGrant | undefined) => string | undefined,
  next: Next,
): Route | undefined {
  let earliest: { at: number; driver: IntegrationType } | undefined;
  for (const [index, unit] of request.units.entries()) {
    const grant = grantOf(request, unit);
    if (!hasWork(unit, grant)) continue;
    const driver = types[index] ?? 'postgresql';
    const at = dueAt(grant);
    if (at === undefined || Date.parse(at) <= now.getTime()) return { next, waitSeconds: 1, driver };
    if (earliest === undefined || Date.parse(at) < earliest.at) earliest = { at: Date.parse(at), driver };
  }
  if (earliest === undefined) return undefined;
  return {
    next: 'poll',
    waitSeconds: waitFor(Math.ceil((earliest.at - now.getTime()) / 1000)),
    driver: earliest.driver,
  };
}

/** Where the data says the execution should go next. */
export function route(request: AccessRequest, types: IntegrationType[], now: Date): Route {
  const first = types[0] ?? 'postgresql';
  const pendingAt = (action: PendingWork['action']) => (g: UnitGrant | undefined) =>
    g?.pending?.action === action ? g.pending.nextAt : undefined;
  switch (request.status) {
    case 'PENDING':
      return {
        next: 'await-approval',
        waitSeconds: waitFor(secondsUntil(request.approvalDeadline ?? now.toISOString(), now)),
        driver: first,
      };
    case 'APPROVED':
      return { next: 'grant', waitSeconds: 1, driver: first };
    case 'GRANTING':
      return (
        nextUnitWork(
          request,
          types,
          now,
          (_, g) => g === undefined || g.pending !== undefined,
          pendingAt('grant'),
          'grant',
        ) ?? { next: 'grant', waitSeconds: 1, driver: first } // all granted: the step activates
      );
    case 'ACTIVE': {
      const left = secondsUntil(request.expiresAt ?? now.toISOString(), now);
      if (left <= 0) return { next: 'revoke', waitSeconds: 1, driver: first };
      if (request.enforcedExpiresAt !== request.expiresAt) {
        return (
          nextUnitWork(
            request,
            types,
            now,
            (_, g) => g !== undefined && g.enforcedExpiresAt !== request.expiresAt,
            () => undefined,
            'apply-extension',
          ) ?? { next: 'apply-extension', waitSeconds: 1, driver: first }
        );
      }
      return { next: 'await-expiry', waitSeconds: waitFor(left), driver: first };
    }
    case 'REVOKING':
      return (
        nextUnitWork(request, types, now, (unit) => needsRevoke(request, unit), pendingAt('revoke'), 'revoke') ?? {
          next: 'revoke',
          waitSeconds: 1,
          driver: first,
        }
      );
    default: {
      if (!isTerminalStatus(request.status)) return { next: 'done', waitSeconds: 1, driver: first };
      return (
        nextUnitWork(
          request,
          types,
          now,
          (_, g) => g?.cleanup !== undefined,
          (g) => g?.cleanup?.dueAt,
          'cleanup',
        ) ?? { next: 'done', waitSeconds: 1, driver: first }
      );
    }
  }
}
