import type { Channel } from '#lib/domain/common.ts';
import { SYSTEM_SUBJECT } from '#lib/domain/identity.ts';
import type { IntegrationType } from '#lib/domain/integration.ts';
import { abandonGrant, changeStatus, failRevoke } from '#lib/domain/lifecycle.ts';
import type { AccessRequest, UnitGrant } from '#lib/domain/request.ts';
import type { GrantContext, IntegrationDriver } from '#lib/integrations/types.ts';
import { logger } from '#lib/observability/logger.ts';
import type { Store } from '#lib/store/store.ts';
import { type LoadOutput, MAX_WAIT_SECONDS, type Next, type RegisterTokenInput } from '#lib/workflow/contract.ts';
import type { Executions } from '#lib/workflow/executions.ts';

export type WorkflowDeps = {
  store: Store;
  executions: Executions;
  driverFor: (type: IntegrationType) => IntegrationDriver;
  resolveSecret: (ref: string) => Promise<string>;
  seal: (plain: string) => Promise<string>;
  now?: () => Date;
};

const CHANNEL: Channel = 'workflow';

function secondsUntil(iso: string, now: Date): number {
  return Math.ceil((Date.parse(iso) - now.getTime()) / 1000);
}

function waitFor(seconds: number): number {
  return Math.min(Math.max(seconds, 1), MAX_WAIT_SECONDS);
}

/**
 * The state machine's steps. Each takes the request id, reads the request and acts on what the data says
 * (the state machine is a function of the data: docs/architecture.md), so repeating any step, or restarting the whole execution, is harmless.
 */
export class WorkflowService {
  private readonly now: () => Date;

  constructor(private readonly deps: WorkflowDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  private actor(action: string, reason?: string) {
    return {
      by: SYSTEM_SUBJECT,
      channel: CHANNEL,
      action,
      at: this.now(),
      ...(reason === undefined ? {} : { reason }),
    };
  }

  async load(requestId: string): Promise<LoadOutput> {
    const request = await this.deps.store.getRequest(requestId);
    if (request === undefined) {
      logger.warn('execution for a missing request', { requestId });
      return { next: 'done', waitSeconds: 1, version: 0 };
    }
    return { ...route(request, this.now()), version: request.version };
  }

  /**
   * Store the wait's task token, unless the request moved on since Load: then resume at once so Load runs
   * again. Both this write and a decision are conditional on the version, so exactly one of them resumes.
   */
  async registerToken(input: RegisterTokenInput): Promise<void> {
    const status = input.kind === 'approval' ? 'PENDING' : 'ACTIVE';
    const field = input.kind === 'approval' ? 'approvalToken' : 'activeToken';
    const { changed } = await this.deps.store.updateRequest(input.requestId, (current) => {
      if (current.status !== status) return null;
      if (input.version !== undefined && current.version !== input.version) return null;
      return { ...current, [field]: input.taskToken };
    });
    if (!changed) await this.deps.executions.resume(input.taskToken);
  }

  async timeOut(requestId: string): Promise<void> {
    await this.deps.store.updateRequest(requestId, (current) => {
      if (current.status !== 'PENDING' || current.approvalDeadline === undefined) return null;
      if (Date.parse(current.approvalDeadline) > this.now().getTime()) return null; // a chunk of a long wait ended
      return changeStatus(current, 'TIMED_OUT', this.actor('time-out', 'no decision before the approval deadline'));
    });
  }

  private async context(
    request: AccessRequest,
    index: number,
    expiresAt: Date,
    purpose: 'grant' | 'cleanup' = 'grant',
  ): Promise<{ ctx: GrantContext; driver: IntegrationDriver }> {
    const unit = request.units[index];
    if (unit === undefined) throw new Error(`request ${request.id} has no unit ${index}`);
    // Taking access away must keep working after an admin deleted the integration or edited its resources.
    const cleanup = purpose === 'cleanup';
    const integration = await this.deps.store.getIntegration(unit.integrationId, { includeDeleted: cleanup });
    if (integration === undefined) throw new Error(`integration ${unit.integrationId} no longer exists`);
    let resource = integration.resources.find((r) => r.id === unit.resource);
    let permission = resource?.permissions.find((p) => p.id === unit.permission);
    if (cleanup) {
      permission ??= { id: unit.permission, grants: [] };
      resource ??= { id: unit.resource, owners: [], permissions: [permission] };
    }
    if (resource === undefined || permission === undefined) {
      throw new Error(`integration ${unit.integrationId} no longer offers ${unit.permission} on ${unit.resource}`);
    }
    const driver = this.deps.driverFor(integration.type);
    const adminSecret = await this.deps.resolveSecret(integration.secretRef);
    return {
      driver,
      ctx: {
        requestId: request.id,
        grantee: request.grantee,
        integration,
        unit,
        resource,
        permission,
        expiresAt,
        adminSecret,
      },
    };
  }

  /** APPROVED → GRANTING → grant every unit (recording each as it lands) → ACTIVE. */
  async grant(requestId: string): Promise<void> {
    const { store } = this.deps;
    const { request: granting } = await store.updateRequest(requestId, (current) => {
      if (current.status !== 'APPROVED') return null;
      const expiresAt = new Date(this.now().getTime() + current.durationMinutes * 60_000).toISOString();
      return changeStatus(current, 'GRANTING', this.actor('grant'), { expiresAt });
    });
    if (granting.status !== 'GRANTING') return; // someone else moved it on; Load routes
    const expiresAt = new Date(granting.expiresAt ?? this.now().toISOString());
    const grants: UnitGrant[] = [...granting.grants];
    for (const [index, unit] of granting.units.entries()) {
      if (grants.some((g) => sameUnit(g.unit, unit))) continue;
      const { ctx, driver } = await this.context(granting, index, expiresAt);
      await store.addLeaseHolder(granting.grantee.sub, unit, granting.id, {
        ...this.actor('lease-add'),
        at: this.now().toISOString(),
      });
      const result = await driver.grant(ctx);
      const grant: UnitGrant = {
        unit,
        state: result.state,
        ...(result.access === undefined ? {} : { access: result.access }),
        ...(result.secret === undefined ? {} : { sealedSecret: await this.deps.seal(result.secret) }),
      };
      grants.push(grant);
      await store.updateRequest(requestId, (current) =>
        current.status === 'GRANTING' ? { ...current, grants: [...grants] } : null,
      );
    }
    await store.updateRequest(requestId, (current) => {
      if (current.status !== 'GRANTING') return null;
      const grantedAt = this.now();
      const finalExpiry = current.expiresAt ?? expiresAt.toISOString();
      return changeStatus(current, 'ACTIVE', this.actor('activate'), {
        grants,
        grantedAt: grantedAt.toISOString(),
        expiresAt: finalExpiry,
        enforcedExpiresAt: finalExpiry,
      });
    });
  }

  /**
   * Grant gave up: undo whatever landed (nothing left behind on the target), then FAILED with the reason. When the
   * undo fails, the request goes to REVOKING (`endReason: 'failed'`, the reason recorded): the revoke path retries
   * the undo for hours, raises the alarm if it keeps failing, and ends the request FAILED once the target is clean.
   */
  async grantFailed(requestId: string, error: { Error: string; Cause?: string }): Promise<void> {
    const request = await this.deps.store.getRequest(requestId);
    if (request === undefined || (request.status !== 'GRANTING' && request.status !== 'APPROVED')) return;
    const reason = failureReason(error);
    try {
      await this.undoUnits(
        request,
        request.units.map((_, i) => i),
        true,
      );
    } catch (undoError) {
      logger.warn('undoing a failed grant failed; handing it to the revoke path', {
        requestId,
        error: undoError instanceof Error ? undoError.name : 'unknown',
      });
      await this.deps.store.updateRequest(requestId, (current) =>
        current.status === 'GRANTING' || current.status === 'APPROVED'
          ? abandonGrant(current, { ...this.actor('abandon-grant', reason), reason })
          : null,
      );
      return;
    }
    await this.deps.store.updateRequest(requestId, (current) => {
      if (current.status === 'APPROVED') current = changeStatus(current, 'GRANTING', this.actor('grant'));
      if (current.status !== 'GRANTING') return null;
      return changeStatus(current, 'FAILED', this.actor('fail', reason), {
        failureReason: reason,
        grants: current.grants.map(eraseSecret),
      });
    });
  }

  /** Move the target-side expiry (VALID UNTIL) to the extended expiresAt. */
  async applyExtension(requestId: string): Promise<void> {
    const request = await this.deps.store.getRequest(requestId);
    if (request === undefined || request.status !== 'ACTIVE' || request.expiresAt === undefined) return;
    const expiresAt = request.expiresAt;
    for (const [index, grant] of request.grants.entries()) {
      const unitIndex = request.units.findIndex((u) => sameUnit(u, grant.unit));
      const { ctx, driver } = await this.context(
        request,
        unitIndex < 0 ? index : unitIndex,
        new Date(expiresAt),
        'cleanup',
      );
      await driver.extend(ctx, grant.state);
    }
    await this.deps.store.updateRequest(requestId, (current) =>
      current.status === 'ACTIVE' && current.expiresAt === expiresAt
        ? { ...current, enforcedExpiresAt: expiresAt }
        : null,
    );
  }

  /**
   * ACTIVE → REVOKING (once expiresAt has passed; REVOKING already when someone revoked early) → revoke every unit
   * → EXPIRED | REVOKED, or FAILED when it undoes a grant that failed (`endReason: 'failed'`). An ACTIVE grant whose
   * expiry lies ahead (extended since Load) is left alone.
   */
  async revoke(requestId: string): Promise<void> {
    const { store } = this.deps;
    const { request } = await store.updateRequest(requestId, (current) => {
      if (current.status !== 'ACTIVE') return null;
      // Extended after Load routed here: the time is not up; Load routes to apply-extension and waits again.
      if (current.expiresAt !== undefined && Date.parse(current.expiresAt) > this.now().getTime()) return null;
      return changeStatus(current, 'REVOKING', this.actor('revoke', 'the grant expired'), { endReason: 'expired' });
    });
    if (request.status !== 'REVOKING') return;
    // Undoing a grant that failed: every unit, recorded or not (a driver may have created something, then failed).
    const abandoned = request.endReason === 'failed';
    await this.undoUnits(
      request,
      abandoned
        ? request.units.map((_, i) => i)
        : request.grants.map((g) => request.units.findIndex((u) => sameUnit(u, g.unit))),
      abandoned,
    );
    await store.updateRequest(requestId, (current) => {
      if (current.status !== 'REVOKING') return null;
      if (current.endReason === 'failed') {
        return changeStatus(current, 'FAILED', this.actor('fail', current.failureReason), {
          grants: current.grants.map(eraseSecret),
        });
      }
      const to = current.endReason === 'revoked' ? 'REVOKED' : 'EXPIRED';
      return changeStatus(current, to, this.actor(to === 'REVOKED' ? 'revoked' : 'expired'), {
        revokedAt: this.now().toISOString(),
        grants: current.grants.map(eraseSecret),
      });
    });
  }

  async revokeFailed(requestId: string, error: { Error: string; Cause?: string }): Promise<void> {
    const reason = failureReason(error);
    await this.deps.store.updateRequest(requestId, (current) =>
      current.status === 'REVOKING' ? failRevoke(current, { ...this.actor('revoke-failed', reason), reason }) : null,
    );
  }

  /**
   * Revoke units on their targets. A shared principal is revoked only when no other request holds the
   * same unit (the lease); a per-request principal is always revoked.
   */
  private async undoUnits(request: AccessRequest, indexes: number[], evenUnrecorded: boolean): Promise<void> {
    const { store } = this.deps;
    for (const index of indexes) {
      const unit = request.units[index];
      if (unit === undefined) continue;
      const grant = request.grants.find((g) => sameUnit(g.unit, unit));
      if (grant === undefined && !evenUnrecorded) continue;
      const { ctx, driver } = await this.context(
        request,
        index,
        new Date(request.expiresAt ?? this.now().toISOString()),
        'cleanup',
      );
      const lease = await store.removeLeaseHolder(request.grantee.sub, unit, request.id, {
        ...this.actor('lease-remove'),
        at: this.now().toISOString(),
      });
      if (driver.perRequestPrincipal || lease.requestIds.length === 0) {
        await driver.revoke(ctx, grant?.state ?? {});
      } else {
        logger.info('unit still held by another request; target left as is', {
          requestId: request.id,
          holders: lease.requestIds.length,
        });
      }
    }
  }
}

function sameUnit(a: { integrationId: string; resource: string; permission: string }, b: typeof a): boolean {
  return a.integrationId === b.integrationId && a.resource === b.resource && a.permission === b.permission;
}

function eraseSecret(grant: UnitGrant): UnitGrant {
  const { sealedSecret: _erased, ...rest } = grant;
  return rest;
}

/** The Catch's Cause is the Lambda error as JSON ({ errorType, errorMessage, trace }): keep the message only. */
export function failureReason(error: { Error: string; Cause?: string }): string {
  let message = error.Cause ?? '';
  try {
    const parsed: unknown = JSON.parse(message);
    if (
      parsed !== null &&
      typeof parsed === 'object' &&
      'errorMessage' in parsed &&
      typeof parsed.errorMessage === 'string'
    ) {
      message = parsed.errorMessage;
    }
  } catch {
    // not JSON: keep as is
  }
  return `${error.Error}: ${message}`.slice(0, 2000);
}

/** Where the data says the execution should go next. */
export function route(request: AccessRequest, now: Date): { next: Next; waitSeconds: number } {
  switch (request.status) {
    case 'PENDING':
      return {
        next: 'await-approval',
        waitSeconds: waitFor(secondsUntil(request.approvalDeadline ?? now.toISOString(), now)),
      };
    case 'APPROVED':
    case 'GRANTING':
      return { next: 'grant', waitSeconds: 1 };
    case 'ACTIVE': {
      const left = secondsUntil(request.expiresAt ?? now.toISOString(), now);
      if (left <= 0) return { next: 'revoke', waitSeconds: 1 };
      if (request.enforcedExpiresAt !== request.expiresAt) return { next: 'apply-extension', waitSeconds: 1 };
      return { next: 'await-expiry', waitSeconds: waitFor(left) };
    }
    case 'REVOKING':
      return { next: 'revoke', waitSeconds: 1 };
    default:
      return { next: 'done', waitSeconds: 1 };
  }
}
