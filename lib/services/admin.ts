import type { AccessUnit, Bundle, BundleInput } from '#lib/domain/bundle.ts';
import type { ChangeRecord, Channel } from '#lib/domain/common.ts';
import { isRequestor } from '#lib/domain/create-request.ts';
import { ForbiddenError, NotFoundError, PreconditionFailedError, ValidationError } from '#lib/domain/errors.ts';
import type { AccessFlow, FlowInput, OnCallRef } from '#lib/domain/flow.ts';
import type { Identity } from '#lib/domain/identity.ts';
import type { Integration, IntegrationInput } from '#lib/domain/integration.ts';
import { integrationSecretRefProblem, type SecretRefMode } from '#lib/integrations/secret-ref.ts';
import { type ConfigPrecondition, type Page, type Store, VersionConflictError } from '#lib/store/store.ts';
import { type DiscoverAnswer, type DriverType, isDriverType } from '#lib/workflow/contract.ts';
import type { Roles } from './requests.ts';

/** The drivers' checks of an integration at PUT (config schema, then the driver's own checks). */
export type IntegrationChecks = {
  validate(input: IntegrationInput): void;
  check(input: IntegrationInput): Promise<void>;
};

export type AdminServiceDeps = {
  store: Store;
  roles: Roles;
  /** Which integration secret references this deployment accepts (lib/integrations/secret-ref.ts). */
  secretRefMode: SecretRefMode;
  /**
   * The configured on-call providers (STINT_ONCALL: name and kind): a flow may name only these in `oncall` (approver
   * sets, escalation tiers, requestors). Absent: none configured.
   */
  oncall?: readonly { name: string; kind: 'pagerduty' | 'opsgenie' }[];
  now?: () => Date;
};

type Kind = 'flow' | 'integration' | 'bundle';

/**
 * What an admin write is conditioned on (`If-Match` / `If-None-Match: *`): replace only the version the caller read,
 * or create only. Neither: create or replace (the last writer wins).
 */
export type WritePrecondition = { expectedVersion?: number; mustNotExist?: boolean };

function expectationOf(pre: WritePrecondition): ConfigPrecondition {
  return pre.mustNotExist === true ? 'absent' : pre.expectedVersion;
}

/** The store lost a conditional write: 412 saying who changed the item, when, and the version it is at now. */
async function conditionally<T>(kind: Kind, id: string, pre: WritePrecondition, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (!(error instanceof VersionConflictError) || error.current === undefined) throw error;
    if (pre.mustNotExist !== true && pre.expectedVersion === undefined) throw error;
    const { version, lastChange } = error.current;
    const who =
      lastChange === undefined
        ? ''
        : ` (last changed by ${lastChange.by} at ${lastChange.at} via ${lastChange.channel})`;
    if (pre.mustNotExist === true) {
      throw new PreconditionFailedError(
        `${kind} '${id}' already exists at version ${version}${who}; nothing was written`,
        'if-none-match',
        error.current,
      );
    }
    throw new PreconditionFailedError(
      `${kind} '${id}' changed since version ${pre.expectedVersion}: it is at version ${version}${who}; nothing was written. Reload it and apply your change again`,
      'if-match',
      error.current,
    );
  }
}

/** Admin configuration (flows, integrations, bundles) and the catalog people request from. */
export class AdminService {
  private readonly now: () => Date;

  constructor(private readonly deps: AdminServiceDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  private requireAdmin(who: Identity): void {
    if (!who.groups.includes(this.deps.roles.adminGroup)) {
      throw new ForbiddenError(`Only members of '${this.deps.roles.adminGroup}' may change or read configuration`);
    }
  }

  private change(who: Identity, action: string, channel: Channel): ChangeRecord {
    return { by: who.sub, channel, action, at: this.now().toISOString() };
  }

  private async unitError(unit: AccessUnit, field: string, integrations: Map<string, Integration>): Promise<void> {
    const integration = integrations.get(unit.integrationId);
    if (integration === undefined)
      throw new ValidationError(`No integration '${unit.integrationId}'`, `${field}.integrationId`);
    const resource = integration.resources.find((r) => r.id === unit.resource);
    if (resource === undefined)
      throw new ValidationError(
        `Integration '${unit.integrationId}' has no resource '${unit.resource}'`,
        `${field}.resource`,
      );
    if (!resource.permissions.some((p) => p.id === unit.permission)) {
      throw new ValidationError(
        `Resource '${unit.resource}' offers no permission '${unit.permission}'`,
        `${field}.permission`,
      );
    }
  }

  private async checkUnits(units: readonly AccessUnit[], prefix: string): Promise<void> {
    const integrations = await this.deps.store.getIntegrations([...new Set(units.map((u) => u.integrationId))]);
    for (const [i, unit] of units.entries()) await this.unitError(unit, `body.${prefix}.${i}`, integrations);
  }

  /**
   * Every `oncall` the flow names must be a configured provider, and ask what that provider can answer (Opsgenie is
   * asked per schedule: no escalation policy, no level). 400 naming the field otherwise.
   */
  private checkOnCall(input: FlowInput): void {
    const configured = new Map((this.deps.oncall ?? []).map((p) => [p.name, p.kind]));
    const named: { ref: OnCallRef; field: string }[] = [...(input.requestors.oncall ?? []).entries()].map(
      ([i, ref]) => ({ ref, field: `body.requestors.oncall.${i}` }),
    );
    if (input.approval.mode === 'manual') {
      for (const [i, set] of input.approval.sets.entries()) {
        if (set.oncall !== undefined) named.push({ ref: set.oncall, field: `body.approval.sets.${i}.oncall` });
      }
      for (const [i, tier] of (input.approval.escalation?.tiers ?? []).entries()) {
        if (tier.oncall !== undefined) {
          named.push({ ref: tier.oncall, field: `body.approval.escalation.tiers.${i}.oncall` });
        }
      }
    }
    for (const { ref, field } of named) {
      const kind = configured.get(ref.provider);
      if (kind === undefined) {
        const known = [...configured.keys()];
        throw new ValidationError(
          `No on-call provider '${ref.provider}' is configured (${known.length === 0 ? 'none is: see docs/oncall.md' : `configured: ${known.join(', ')}`})`,
          `${field}.provider`,
        );
      }
      if (kind === 'opsgenie' && (ref.escalationPolicy !== undefined || ref.level !== undefined)) {
        throw new ValidationError(
          `Opsgenie answers per schedule: name a schedule, without escalationPolicy or level (provider '${ref.provider}')`,
          ref.escalationPolicy !== undefined ? `${field}.escalationPolicy` : `${field}.level`,
        );
      }
    }
  }

  async putFlow(
    id: string,
    input: FlowInput,
    who: Identity,
    channel: Channel,
    pre: WritePrecondition = {},
  ): Promise<AccessFlow> {
    this.requireAdmin(who);
    this.checkOnCall(input);
    await this.checkUnits(input.targets, 'targets');
    const bundles = await this.deps.store.getBundles(input.bundles);
    for (const [i, bundleId] of input.bundles.entries()) {
      if (!bundles.has(bundleId)) throw new ValidationError(`No bundle '${bundleId}'`, `body.bundles.${i}`);
    }
    return conditionally('flow', id, pre, () =>
      this.deps.store.putFlow(id, input, this.change(who, 'put', channel), expectationOf(pre)),
    );
  }

  /**
   * `checks` are the drivers' (lib/integrations/checks/registry.ts `integrationChecks`: schemas and checks without
   * the drivers' clients), passed in by the put-integration function.
   */
  async putIntegration(
    id: string,
    input: IntegrationInput,
    who: Identity,
    channel: Channel,
    checks: IntegrationChecks,
    pre: WritePrecondition = {},
  ): Promise<Integration> {
    this.requireAdmin(who);
    if (input.secretRef !== undefined) {
      const secretRefProblem = integrationSecretRefProblem(input.secretRef, this.deps.secretRefMode);
      if (secretRefProblem !== undefined) throw new ValidationError(`secretRef ${secretRefProblem}`, 'body.secretRef');
    }
    try {
      checks.validate(input);
      await checks.check(input);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      // The driver names fields of the integration (`config.port`); the caller sent them in the body.
      throw new ValidationError(
        error.message,
        `body.${error.field ?? 'config'}`,
        error.issues.map((issue) => ({ ...issue, path: `body.${issue.path}` })),
      );
    }
    return conditionally('integration', id, pre, () =>
      this.deps.store.putIntegration(id, input, this.change(who, 'put', channel), expectationOf(pre)),
    );
  }

  async putBundle(
    id: string,
    input: BundleInput,
    who: Identity,
    channel: Channel,
    pre: WritePrecondition = {},
  ): Promise<Bundle> {
    this.requireAdmin(who);
    await this.checkUnits(input.units, 'units');
    return conditionally('bundle', id, pre, () =>
      this.deps.store.putBundle(id, input, this.change(who, 'put', channel), expectationOf(pre)),
    );
  }

  async get(kind: Kind, id: string, who: Identity): Promise<AccessFlow | Integration | Bundle> {
    this.requireAdmin(who);
    const { store } = this.deps;
    const item =
      kind === 'flow'
        ? await store.getFlow(id)
        : kind === 'integration'
          ? await store.getIntegration(id)
          : await store.getBundle(id);
    if (item === undefined) throw new NotFoundError(`No ${kind} '${id}'`, 'id');
    return item;
  }

  /** What the integration's target offers (accounts and permission sets, roles, a function's list-resources). */
  async discover(
    id: string,
    who: Identity,
    ask: (type: DriverType, integrationId: string) => Promise<DiscoverAnswer>,
  ): Promise<DiscoverAnswer> {
    this.requireAdmin(who);
    const integration = await this.deps.store.getIntegration(id);
    if (integration === undefined) throw new NotFoundError(`No integration '${id}'`, 'id');
    const type = integration.type;
    if (!isDriverType(type)) {
      throw new ValidationError(`${type} integrations cannot list what their target offers`, 'id');
    }
    return ask(type, id);
  }

  async list(
    kind: Kind,
    who: Identity,
    paging: { limit?: number; cursor?: string },
  ): Promise<Page<AccessFlow | Integration | Bundle>> {
    this.requireAdmin(who);
    const { store } = this.deps;
    return kind === 'flow'
      ? store.listFlows(paging)
      : kind === 'integration'
        ? store.listIntegrations(paging)
        : store.listBundles(paging);
  }

  /** A soft delete; with `expectedVersion` only of the item at that version (412 otherwise). Answers the tombstone. */
  async remove(
    kind: Kind,
    id: string,
    who: Identity,
    channel: Channel,
    pre: Pick<WritePrecondition, 'expectedVersion'> = {},
  ): Promise<AccessFlow | Integration | Bundle> {
    this.requireAdmin(who);
    const { store } = this.deps;
    const change = this.change(who, 'delete', channel);
    const { expectedVersion } = pre;
    return conditionally<AccessFlow | Integration | Bundle>(kind, id, pre, () =>
      kind === 'flow'
        ? store.deleteFlow(id, change, expectedVersion)
        : kind === 'integration'
          ? store.deleteIntegration(id, change, expectedVersion)
          : store.deleteBundle(id, change, expectedVersion),
    );
  }

  /** Flows the caller may request under, with what each offers. */
  async catalog(who: Identity): Promise<AccessFlow[]> {
    const flows: AccessFlow[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.deps.store.listFlows({ limit: 100, ...(cursor === undefined ? {} : { cursor }) });
      flows.push(...page.items.filter((f) => isRequestor(f, who)));
      cursor = page.cursor;
    } while (cursor !== undefined);
    return flows;
  }
}
