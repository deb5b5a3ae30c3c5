import type { ChangeBy, DirectoryStore } from '#lib/directory/store.ts';
import type { DirectoryGroup, DirectoryUser } from '#lib/directory/types.ts';
import { Subject } from '#lib/domain/common.ts';
import { ScimError } from './errors.ts';
import { parseEqFilter } from './filter.ts';
import { applyGroupPatch, applyUserPatch, memberDelta, type UserState } from './patch.ts';
import { type ListQuery, type PatchRequest, type ScimGroupInput, type ScimUserInput, URN } from './schemas.ts';

export type ScimResult = { status: number; body?: unknown; headers?: Record<string, string> };

/** An externalId usable as the Stint subject (URL- and key-safe); anything else gets a generated id. */
const SUBJECT_LIKE = /^[A-Za-z0-9][A-Za-z0-9._:@|+-]{0,127}$/;

/**
 * SCIM 2.0 Users and Groups over the directory (RFC 7644 §3). A user's SCIM `id` is its Stint subject: the
 * `externalId` the IdP sends when it looks like a subject (map the attribute your OIDC tokens carry as `sub` —
 * Okta's user id, Entra's object id — to externalId), otherwise a generated ULID. Every write is recorded with
 * channel `scim`.
 */
export class ScimService {
  private readonly change: ChangeBy;

  constructor(
    private readonly directory: DirectoryStore,
    options: { by?: string } = {},
  ) {
    this.change = { by: options.by ?? 'scim', channel: 'scim' };
  }

  // ─── Users ──────────────────────────────────────────────────────────────────────────────────────────────

  async listUsers(query: ListQuery, base: string): Promise<ScimResult> {
    const { startIndex, count } = paging(query);
    if (query.filter !== undefined) {
      const { attribute, value } = parseEqFilter(query.filter, ['userName', 'externalId', 'id', 'emails.value']);
      const found =
        attribute === 'userName'
          ? [await this.directory.userByUserName(value)]
          : attribute === 'externalId'
            ? await this.directory.usersByExternalId(value)
            : attribute === 'id'
              ? [await this.directory.userById(value)]
              : [await this.directory.userByEmail(value)];
      const users = found.filter((u): u is DirectoryUser => u !== undefined);
      return listResponse(
        users.slice(startIndex - 1, startIndex - 1 + count).map((u) => toScimUser(u, base)),
        users.length,
        startIndex,
      );
    }
    const page = await this.directory.listUsers({ startIndex, count });
    return listResponse(
      page.items.map((u) => toScimUser(u, base)),
      page.total,
      startIndex,
    );
  }

  async getUser(id: string, base: string): Promise<ScimResult> {
    const user = await this.directory.userById(id);
    if (user === undefined) throw new ScimError(404, `user ${id} not found`);
    return resource(toScimUser(user, base));
  }

  async createUser(input: ScimUserInput, base: string): Promise<ScimResult> {
    const fields = userFields(fromScimUser(input), []);
    const externalId = input.externalId;
    const id =
      externalId !== undefined && SUBJECT_LIKE.test(externalId) && Subject.safeParse(externalId).success
        ? externalId
        : undefined;
    const user = await this.directory.createUser(fields, this.change, id === undefined ? {} : { id });
    const body = toScimUser(user, base);
    return { status: 201, body, headers: { location: body.meta.location, etag: body.meta.version } };
  }

  async replaceUser(id: string, input: ScimUserInput, base: string): Promise<ScimResult> {
    const next = fromScimUser(input);
    const user = await this.directory.updateUser(id, (current) => userFields(next, current.accounts), this.change, {
      action: 'replace',
    });
    return resource(toScimUser(user, base));
  }

  async patchUser(id: string, patch: PatchRequest, base: string): Promise<ScimResult> {
    const user = await this.directory.updateUser(
      id,
      (current) => userFields(applyUserPatch(stateOf(current), patch.Operations), current.accounts),
      this.change,
      { action: 'patch' },
    );
    return resource(toScimUser(user, base));
  }

  async deleteUser(id: string): Promise<ScimResult> {
    await this.directory.deleteUser(id, this.change);
    return { status: 204 };
  }

  // ─── Groups ─────────────────────────────────────────────────────────────────────────────────────────────

  async listGroups(query: ListQuery, base: string): Promise<ScimResult> {
    const { startIndex, count } = paging(query);
    const withMembers = !excludes(query, 'members');
    if (query.filter !== undefined) {
      const { attribute, value } = parseEqFilter(query.filter, ['displayName', 'id']);
      const group =
        attribute === 'displayName' ? await this.directory.groupByName(value) : await this.directory.groupById(value);
      const groups = group === undefined ? [] : [group];
      return listResponse(
        groups.slice(startIndex - 1, startIndex - 1 + count).map((g) => toScimGroup(g, base, withMembers)),
        groups.length,
        startIndex,
      );
    }
    const page = await this.directory.listGroups({ startIndex, count, members: withMembers });
    return listResponse(
      page.items.map((g) => toScimGroup(g, base, withMembers)),
      page.total,
      startIndex,
    );
  }

  async getGroup(id: string, query: ListQuery, base: string): Promise<ScimResult> {
    const group = await this.directory.groupById(id);
    if (group === undefined) throw new ScimError(404, `group ${id} not found`);
    return resource(toScimGroup(group, base, !excludes(query, 'members')));
  }

  async createGroup(input: ScimGroupInput, base: string): Promise<ScimResult> {
    const group = await this.directory.createGroup(groupFields(input), this.change);
    const body = toScimGroup(group, base, true);
    return { status: 201, body, headers: { location: body.meta.location, etag: body.meta.version } };
  }

  async replaceGroup(id: string, input: ScimGroupInput, base: string): Promise<ScimResult> {
    const group = await this.directory.updateGroup(id, () => groupFields(input), this.change);
    return resource(toScimGroup(group, base, true));
  }

  async patchGroup(id: string, patch: PatchRequest, base: string): Promise<ScimResult> {
    const delta = memberDelta(patch.Operations);
    const group =
      delta === undefined
        ? await this.directory.updateGroup(
            id,
            (current) => {
              const next = applyGroupPatch(
                { displayName: current.displayName, externalId: current.externalId, members: current.members },
                patch.Operations,
              );
              return {
                displayName: next.displayName,
                members: next.members,
                ...optional('externalId', next.externalId),
              };
            },
            this.change,
          )
        : await this.directory.changeMembers(id, delta, this.change);
    return resource(toScimGroup(group, base, true));
  }

  async deleteGroup(id: string): Promise<ScimResult> {
    await this.directory.deleteGroup(id, this.change);
    return { status: 204 };
  }
}

// ─── Mapping ──────────────────────────────────────────────────────────────────────────────────────────────

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function paging(query: ListQuery): { startIndex: number; count: number } {
  // RFC 7644 §3.4.2.4: startIndex < 1 is read as 1; a negative count as 0. The server caps count at 100.
  const startIndex = Math.max(1, query.startIndex ?? 1);
  const count = Math.min(100, Math.max(0, query.count ?? 100));
  return { startIndex, count };
}

function excludes(query: ListQuery, attribute: string): boolean {
  const list = (query.excludedAttributes ?? '').split(',').map((a) => a.trim().toLowerCase());
  return list.includes(attribute.toLowerCase());
}

function listResponse(resources: unknown[], total: number, startIndex: number): ScimResult {
  return {
    status: 200,
    body: {
      schemas: [URN.listResponse],
      totalResults: total,
      startIndex,
      itemsPerPage: resources.length,
      Resources: resources,
    },
  };
}

function resource(body: { meta: { version: string } }): ScimResult {
  return { status: 200, body, headers: { etag: body.meta.version } };
}

function fromScimUser(input: ScimUserInput): UserState {
  const emails = (input.emails ?? [])
    .slice()
    .sort((a, b) => Number(b.primary === true) - Number(a.primary === true))
    .map((e) => e.value);
  // Okta and Entra usually set userName to the login email; use it when no email is given.
  if (emails.length === 0 && /^[^@\s]+@[^@\s]+$/.test(input.userName)) emails.push(input.userName);
  const manager = input[URN.enterpriseUser]?.manager;
  const managerId = typeof manager === 'string' ? manager : manager?.value;
  return {
    userName: input.userName,
    externalId: input.externalId,
    displayName: input.displayName,
    active: input.active ?? true,
    emails,
    manager: managerId === undefined || managerId.trim() === '' ? undefined : managerId.trim(),
  };
}

function stateOf(user: DirectoryUser): UserState {
  return {
    userName: user.userName,
    externalId: user.externalId,
    displayName: user.displayName,
    active: user.active,
    emails: [...user.emails],
    manager: user.manager,
  };
}

function userFields(state: UserState, accounts: DirectoryUser['accounts']) {
  if (state.emails.length === 0) throw new ScimError(400, 'a user needs at least one email', 'invalidValue');
  return {
    userName: state.userName,
    emails: [...new Set(state.emails)],
    active: state.active,
    accounts,
    ...optional('displayName', state.displayName),
    ...optional('externalId', state.externalId),
    ...optional('manager', state.manager),
  };
}

function groupFields(input: ScimGroupInput) {
  return {
    displayName: input.displayName,
    members: (input.members ?? []).map((m) => m.value),
    ...optional('externalId', input.externalId),
  };
}

export function toScimUser(user: DirectoryUser, base: string) {
  const location = `${base}/Users/${encodeURIComponent(user.id)}`;
  return {
    schemas: user.manager === undefined ? [URN.user] : [URN.user, URN.enterpriseUser],
    id: user.id,
    ...optional('externalId', user.externalId),
    userName: user.userName,
    ...optional('displayName', user.displayName),
    active: user.active,
    emails: user.emails.map((value, i) => ({ value, type: 'work', primary: i === 0 })),
    ...(user.manager === undefined ? {} : { [URN.enterpriseUser]: { manager: { value: user.manager } } }),
    meta: { resourceType: 'User', lastModified: user.lastChange.at, version: `W/"${user.version}"`, location },
  };
}

export function toScimGroup(group: DirectoryGroup, base: string, withMembers: boolean) {
  const location = `${base}/Groups/${encodeURIComponent(group.id)}`;
  return {
    schemas: [URN.group],
    id: group.id,
    ...optional('externalId', group.externalId),
    displayName: group.displayName,
    ...(withMembers ? { members: group.members.map((value) => ({ value, type: 'User' })) } : {}),
    meta: { resourceType: 'Group', lastModified: group.lastChange.at, version: `W/"${group.version}"`, location },
  };
}
