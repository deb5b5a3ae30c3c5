import type { StintEvent } from '#events/schemas.ts';
import { type AccessUnit, sameUnit } from '#lib/domain/bundle.ts';
import type { Integration } from '#lib/domain/integration.ts';
import type { AccessRequest, RequestStatus } from '#lib/domain/request.ts';
import { driftDetectedEvent, orphanRevokedEvent } from '#lib/events/sweep-events.ts';
import type { ManagedPrincipal } from '#lib/integrations/types.ts';
import { logger } from '#lib/observability/logger.ts';
import type { Store } from '#lib/store/store.ts';
import { type Holder, isSweptType, type ListManagedAnswer, type SweptType } from '#lib/workflow/contract.ts';

/**
 * The orphan sweep's view of the targets: the driver functions (Lambda Invoke; lib/integrations/driver-client.ts
 * sweepTarget), which run each driver in its own network placement with its own secret.
 */
export type SweepTarget = {
  /** What Stint created on the target, and the principal of each holder (same order). */
  listManaged(type: SweptType, integrationId: string, holders: Holder[]): Promise<ListManagedAnswer>;
  /** Removes one principal Stint created (the driver refuses one without its marker). */
  revokeManaged(type: SweptType, integrationId: string, principal: ManagedPrincipal): Promise<void>;
};

export type SweepDeps = {
  store: Store;
  target: SweepTarget;
  /** Publishes the sweep's findings (PutEvents on the audit bus, same envelope as the stream's events). */
  publish: (events: StintEvent[]) => Promise<void>;
  now?: () => Date;
};

export type SweepReport = {
  /** Integrations whose target was read. */
  swept: number;
  /** Integrations whose target could not be read or an orphan not removed (logged; the SweepFailures metric). */
  failed: number;
  /** Principals removed (each with a grant.orphan_revoked event). */
  revoked: number;
  /** ACTIVE units whose principal the target lacks (each with a grant.drift_detected event). */
  drift: number;
  /** Marked principals whose request this deployment has no record of (another deployment's): kept, logged. */
  foreign: number;
  /** Findings whose event could not be published (logged; counted in failed too). */
  unpublished: number;
  /** Set when nothing was removed because the live requests could not be read completely (fail closed). */
  aborted?: string;
};

/**
 * Statuses whose requests hold (or may be about to hold) their principals. Every status that is not final: a grant
 * in flight (APPROVED, GRANTING: the driver may have created the principal before the request records it) is never
 * swept, nor a revoke in progress or failed (REVOKING, REVOKE_FAILED: the revoke path and the reconciler own it, and
 * raise the alarm). Read in the order requests move through them, so one moving on during the read is seen again
 * rather than missed.
 */
export const LIVE_STATUSES: readonly RequestStatus[] = [
  'PENDING',
  'APPROVED',
  'GRANTING',
  'ACTIVE',
  'REVOKING',
  'REVOKE_FAILED',
];

const PAGE = 100;

type LiveRead = { requests: AccessRequest[] };

/**
 * The orphan sweep and drift check (docs/operations.md), run by the reconciler on its own schedule. Per integration
 * whose driver takes part (contract.ts SWEPT_TYPES):
 * - orphan: a principal Stint created (its prefix and marker, as the driver lists it) for a request this deployment
 *   knows, that no live request holds → removed through the driver (as revoke does), then `grant.orphan_revoked`.
 *   A marked principal whose request this deployment has no record of is another deployment's: kept (`foreign`);
 * - drift: an ACTIVE request's granted unit whose principal the target lacks → `grant.drift_detected` (report only).
 *
 * Races. A grant creates its principal only once its request is GRANTING (written), and principalOf is
 * deterministic, so a principal is expected by name whatever its request's record says. The live requests are read
 * before and after the target is listed and a principal held in either read is kept: a request made (and granted)
 * while the sweep runs is in the second. A principal that names its request is checked once more against that
 * request (a consistent read) just before it is removed: live, or changed since the sweep began → kept, the next
 * sweep decides. Drift is reported only for requests ACTIVE in both reads (a grant finishing during the sweep is not
 * drift).
 *
 * Failures. Live requests that cannot be read completely → nothing is removed anywhere (fail closed). A target that
 * cannot be read, or an orphan that cannot be removed → a logged error and `failed`, and the sweep goes on.
 */
export class OrphanSweep {
  private readonly now: () => Date;

  constructor(private readonly deps: SweepDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  async run(): Promise<SweepReport> {
    const report: SweepReport = { swept: 0, failed: 0, revoked: 0, drift: 0, foreign: 0, unpublished: 0 };
    const startedAt = this.now();
    let integrations: Integration[];
    let before: LiveRead;
    try {
      integrations = (await this.integrations()).filter((i) => i.deleted !== true && isSweptType(i.type));
      if (integrations.length === 0) return report;
      before = await this.liveRequests();
    } catch (error) {
      report.aborted = 'the integrations or the live requests could not be read';
      logger.error('orphan sweep aborted: nothing removed', { error: errorName(error) });
      return report;
    }
    for (const integration of integrations) {
      try {
        const outcome = await this.sweepIntegration(integration, before, startedAt, report);
        if (outcome === 'aborted') {
          report.aborted = 'the live requests could not be read';
          return report;
        }
        report.swept++;
      } catch (error) {
        report.failed++;
        logger.error('orphan sweep failed for an integration', {
          integrationId: integration.id,
          type: integration.type,
          error: errorName(error),
          // Driver errors name the target and the SQL state, never a secret (lib/integrations/*.ts).
          detail: error instanceof Error ? error.message.slice(0, 300) : undefined,
        });
      }
    }
    if (report.revoked + report.drift + report.failed + report.foreign > 0 || report.aborted !== undefined)
      logger.info('orphan sweep', report);
    return report;
  }

  private async sweepIntegration(
    integration: Integration,
    before: LiveRead,
    startedAt: Date,
    report: SweepReport,
  ): Promise<'done' | 'aborted'> {
    if (!isSweptType(integration.type)) return 'done';
    const type = integration.type;
    const swept = { id: integration.id, type };
    const holders1 = holdersOf(before.requests, integration.id);
    const listed = await this.deps.target.listManaged(type, integration.id, holders1.map(toHolder));
    if (listed.principals.length !== holders1.length)
      throw new Error(`the ${type} driver named ${listed.principals.length} principals for ${holders1.length} units`);

    // The second read: requests that appeared (or were missed) while the target was listed.
    let after: LiveRead;
    try {
      after = await this.liveRequests();
    } catch (error) {
      logger.error('orphan sweep aborted: the live requests could not be read; nothing removed', {
        error: errorName(error),
      });
      return 'aborted';
    }
    const known = new Set(holders1.map((h) => key(h)));
    const added = holdersOf(after.requests, integration.id).filter((h) => !known.has(key(h)));
    const addedNames =
      added.length === 0
        ? []
        : (await this.deps.target.listManaged(type, integration.id, added.map(toHolder))).principals;
    const expected = new Set([...listed.principals, ...addedNames]);

    for (const principal of listed.managed) {
      if (expected.has(principal.name)) continue;
      const request =
        principal.requestId === undefined ? undefined : await this.deps.store.getRequest(principal.requestId);
      if (request === undefined) {
        // Marked, but for a request this deployment has no record of: another Stint deployment sharing the server
        // (a staging stack, a second region) made it, and removing it would end access this one never granted.
        report.foreign++;
        logger.warn('orphan sweep: kept a Stint-marked principal whose request this deployment does not know', {
          integrationId: integration.id,
          principal: principal.name,
          requestId: principal.requestId,
        });
        continue;
      }
      if (
        request !== undefined &&
        (LIVE_STATUSES.includes(request.status) || Date.parse(request.lastChange.at) >= startedAt.getTime())
      ) {
        // The request moved on while the sweep ran (or the index lagged behind): leave it to the next sweep.
        logger.info('orphan sweep: kept a principal whose request is live or changed during the sweep', {
          integrationId: integration.id,
          requestId: request.id,
          status: request.status,
        });
        continue;
      }
      try {
        await this.deps.target.revokeManaged(type, integration.id, principal);
      } catch (error) {
        report.failed++;
        logger.error('orphan sweep could not remove a principal', {
          integrationId: integration.id,
          principal: principal.name,
          error: errorName(error),
          detail: error instanceof Error ? error.message.slice(0, 300) : undefined,
        });
        continue;
      }
      report.revoked++;
      logger.warn('orphan sweep removed a principal no live request held', {
        integrationId: integration.id,
        principal: principal.name,
        requestId: principal.requestId,
        status: request?.status,
      });
      await this.publish(
        orphanRevokedEvent({
          integration: swept,
          principal: principal.name,
          requestId: principal.requestId,
          requestStatus: request?.status,
          at: startedAt,
        }),
        report,
      );
    }

    // Drift: ACTIVE in both reads, the unit granted, its principal not on the target.
    const managed = new Set(listed.managed.map((p) => p.name));
    const activeAfter = new Set(after.requests.filter((r) => r.status === 'ACTIVE').map((r) => r.id));
    for (const [index, holder] of holders1.entries()) {
      const { request, unit } = holder;
      if (request.status !== 'ACTIVE' || !activeAfter.has(request.id) || !granted(request, unit)) continue;
      const principal = listed.principals[index];
      if (principal === undefined || managed.has(principal)) continue;
      report.drift++;
      logger.warn('drift: the target lacks the principal of an ACTIVE request', {
        integrationId: integration.id,
        requestId: request.id,
        principal,
      });
      await this.publish(driftDetectedEvent({ integration: swept, request, unit, principal, at: startedAt }), report);
    }
    return 'done';
  }

  private async publish(event: StintEvent, report: SweepReport): Promise<void> {
    try {
      await this.deps.publish([event]);
    } catch (error) {
      report.unpublished++;
      report.failed++;
      logger.error('orphan sweep could not publish a finding', { eventId: event.id, error: errorName(error) });
    }
  }

  private async integrations(): Promise<Integration[]> {
    const all: Integration[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.deps.store.listIntegrations({ limit: PAGE, ...(cursor === undefined ? {} : { cursor }) });
      all.push(...page.items);
      cursor = page.cursor;
    } while (cursor !== undefined);
    return all;
  }

  /** Every request in a live status, all pages; throws when any page cannot be read. */
  private async liveRequests(): Promise<LiveRead> {
    const byId = new Map<string, AccessRequest>();
    for (const status of LIVE_STATUSES) {
      let cursor: string | undefined;
      do {
        const page = await this.deps.store.listRequestsByStatus(status, {
          limit: PAGE,
          ...(cursor === undefined ? {} : { cursor }),
        });
        // A request seen in two statuses (it moved on during the read): the later read wins.
        for (const request of page.items) byId.set(request.id, request);
        cursor = page.cursor;
      } while (cursor !== undefined);
    }
    return { requests: [...byId.values()] };
  }
}

type HeldUnit = { request: AccessRequest; unit: AccessUnit };

function holdersOf(requests: AccessRequest[], integrationId: string): HeldUnit[] {
  return requests.flatMap((request) =>
    request.units.filter((unit) => unit.integrationId === integrationId).map((unit) => ({ request, unit })),
  );
}

function toHolder(h: HeldUnit): Holder {
  return {
    requestId: h.request.id,
    unit: { integrationId: h.unit.integrationId, resource: h.unit.resource, permission: h.unit.permission },
  };
}

function key(h: HeldUnit): string {
  return JSON.stringify([h.request.id, h.unit.integrationId, h.unit.resource, h.unit.permission]);
}

/** The unit's grant is done and not revoked (a unit still granting or already revoked is not drift). */
function granted(request: AccessRequest, unit: AccessUnit): boolean {
  const grant = request.grants.find((g) => sameUnit(g.unit, unit));
  return grant !== undefined && grant.pending === undefined && grant.revoked !== true;
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'unknown';
}
