/**
 * Pure: the orphan sweep's findings (lib/services/sweep.ts) as audit events. A finding is not a request's state
 * change, so no stream record stands for it: the sweep publishes these itself, with the envelope the stream's events
 * have (lib/events/from-stream.ts) and a deterministic id per finding and sweep run (de-duplicate on it).
 */
import { SCHEMA_VERSION, StintEvent, type StintEventOf, severityOf } from '#events/schemas.ts';
import type { AccessUnit } from '#lib/domain/bundle.ts';
import { SYSTEM_SUBJECT } from '#lib/domain/identity.ts';
import type { IntegrationType } from '#lib/domain/integration.ts';
import type { AccessRequest, RequestStatus } from '#lib/domain/request.ts';
import { viewOf } from './from-stream.ts';

export type SweptIntegration = { id: string; type: IntegrationType };

function envelope(id: string, type: 'grant.orphan_revoked' | 'grant.drift_detected', at: Date) {
  return {
    id,
    type,
    schemaVersion: SCHEMA_VERSION,
    time: at.toISOString(),
    severity: severityOf(type, false),
    actor: { sub: SYSTEM_SUBJECT, channel: 'reconciler' as const },
  };
}

/** A principal no live request held, removed by the sweep that ran at `at`. */
export function orphanRevokedEvent(finding: {
  integration: SweptIntegration;
  principal: string;
  requestId?: string | undefined;
  requestStatus?: RequestStatus | undefined;
  at: Date;
}): StintEventOf<'grant.orphan_revoked'> {
  const event = StintEvent.parse({
    ...envelope(
      `sweep:${finding.integration.id}:${finding.principal}:${finding.at.toISOString()}`,
      'grant.orphan_revoked',
      finding.at,
    ),
    integration: { id: finding.integration.id, type: finding.integration.type },
    principal: finding.principal,
    ...(finding.requestId === undefined ? {} : { requestId: finding.requestId }),
    ...(finding.requestStatus === undefined ? {} : { requestStatus: finding.requestStatus }),
  });
  if (event.type !== 'grant.orphan_revoked') throw new Error('unreachable: parsed as another event type');
  return event;
}

/** An ACTIVE request's unit whose principal the target lacked when the sweep ran at `at`. */
export function driftDetectedEvent(finding: {
  integration: SweptIntegration;
  request: AccessRequest;
  unit: AccessUnit;
  principal: string;
  at: Date;
}): StintEventOf<'grant.drift_detected'> {
  const event = StintEvent.parse({
    ...envelope(
      `drift:${finding.request.id}:${finding.principal}:${finding.at.toISOString()}`,
      'grant.drift_detected',
      finding.at,
    ),
    request: viewOf(finding.request),
    unit: finding.unit,
    integration: { id: finding.integration.id, type: finding.integration.type },
    principal: finding.principal,
  });
  if (event.type !== 'grant.drift_detected') throw new Error('unreachable: parsed as another event type');
  return event;
}
