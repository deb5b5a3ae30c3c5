import * as z from 'zod';
import { Line } from '#lib/domain/text.ts';
import { ScimError } from './errors.ts';
import { scimStringValue } from './filter.ts';
import { type PatchOperation, ScimBoolean, ScimManager, ScimMember, URN } from './schemas.ts';

/**
 * RFC 7644 §3.5.2 PATCH, for the attributes the directory stores, with the forms Okta and Entra ID send:
 * - Okta: `{"op":"replace","value":{"active":false}}` (path-less, value an object of attributes);
 * - Entra ID: `{"op":"Replace","path":"active","value":"False"}` (capitalised op, boolean as a string),
 *   `{"op":"Add","path":"emails[type eq \"work\"].value","value":"…"}`, the enterprise manager as a bare id under
 *   `urn:…:enterprise:2.0:User:manager`, and group members removed by `members[value eq "…"]`.
 * Attributes the directory does not store (name.givenName, title, phoneNumbers…) are accepted and ignored.
 */
export type UserState = {
  userName: string;
  externalId: string | undefined;
  displayName: string | undefined;
  active: boolean;
  emails: string[];
  manager: string | undefined;
};

export type GroupState = { displayName: string; externalId: string | undefined; members: string[] };

const ATTRIBUTE_PATH = /^[A-Za-z][\w.-]*(\[[^\]]*\])?(\.[A-Za-z][\w-]*)?$/;
const MEMBER_FILTER = /^members\[\s*value\s+eq\s+"((?:[^"\\]|\\.)*)"\s*\]$/i;
const EMAIL_VALUE_FILTER = /^emails\[[^\]]*\]\.value$/i;

/** Strips the core or enterprise schema URN prefix; the enterprise manager becomes `manager`. */
function normalisePath(path: string, core: string): string {
  const trimmed = path.trim();
  const enterprise = `${URN.enterpriseUser}:`;
  if (trimmed.toLowerCase().startsWith(enterprise.toLowerCase())) {
    const rest = trimmed.slice(enterprise.length);
    return rest.toLowerCase().startsWith('manager') ? 'manager' : `ignored:${rest}`;
  }
  const corePrefix = `${core}:`;
  const bare = trimmed.toLowerCase().startsWith(corePrefix.toLowerCase()) ? trimmed.slice(corePrefix.length) : trimmed;
  if (!ATTRIBUTE_PATH.test(bare)) throw new ScimError(400, `unsupported or malformed path: ${path}`, 'invalidPath');
  return bare;
}

function stringValue(value: unknown, attribute: string): string {
  const parsed = Line.trim().min(1).max(256).safeParse(value);
  if (!parsed.success)
    throw new ScimError(
      400,
      `${attribute} must be a non-empty single-line string of well-formed Unicode`,
      'invalidValue',
    );
  return parsed.data;
}

function booleanValue(value: unknown, attribute: string): boolean {
  const parsed = ScimBoolean.safeParse(value);
  if (!parsed.success) throw new ScimError(400, `${attribute} must be true or false`, 'invalidValue');
  return parsed.data;
}

function managerValue(value: unknown): string | undefined {
  const parsed = ScimManager.nullable().safeParse(value);
  if (!parsed.success) throw new ScimError(400, 'manager must be an id or { "value": id }', 'invalidValue');
  const id = typeof parsed.data === 'string' ? parsed.data : parsed.data?.value;
  return id === undefined || id.trim() === '' ? undefined : id.trim();
}

function emailsValue(value: unknown): string[] {
  const parsed = z
    .array(z.object({ value: z.string(), primary: ScimBoolean.optional() }))
    .safeParse(Array.isArray(value) ? value : [value]);
  if (!parsed.success) throw new ScimError(400, 'emails must be a list of { "value": address }', 'invalidValue');
  const primary = parsed.data.filter((e) => e.primary === true).map((e) => e.value);
  const others = parsed.data.filter((e) => e.primary !== true).map((e) => e.value);
  return [...primary, ...others];
}

/** Path-less add/replace: `value` is an object whose keys are attribute paths (RFC 7644 §3.5.2.1, §3.5.2.3). */
function expandPathless(operation: PatchOperation): { path: string; value: unknown }[] {
  if (operation.op === 'remove') throw new ScimError(400, 'remove needs a path', 'noTarget');
  const object = z.record(z.string(), z.unknown()).safeParse(operation.value);
  if (!object.success)
    throw new ScimError(400, `a ${operation.op} without a path needs an object value`, 'invalidSyntax');
  return Object.entries(object.data).flatMap(([key, value]) => {
    // The enterprise extension as one object: `{ "urn:…:enterprise:2.0:User": { "manager": … } }`.
    if (key.toLowerCase() === URN.enterpriseUser.toLowerCase()) {
      const extension = z.record(z.string(), z.unknown()).safeParse(value);
      if (!extension.success) throw new ScimError(400, 'the enterprise extension must be an object', 'invalidValue');
      return Object.entries(extension.data).map(([k, v]) => ({ path: `${URN.enterpriseUser}:${k}`, value: v }));
    }
    return [{ path: key, value }];
  });
}

export function applyUserPatch(current: UserState, operations: PatchOperation[]): UserState {
  const state: UserState = { ...current, emails: [...current.emails] };
  for (const operation of operations) {
    const steps =
      operation.path === undefined ? expandPathless(operation) : [{ path: operation.path, value: operation.value }];
    for (const step of steps) applyUserStep(state, operation.op, normalisePath(step.path, URN.user), step.value);
  }
  return state;
}

function applyUserStep(state: UserState, op: PatchOperation['op'], path: string, value: unknown): void {
  const attribute = path.toLowerCase();
  const remove = op === 'remove';
  switch (attribute) {
    case 'active':
      if (remove) throw new ScimError(400, 'active cannot be removed; replace it with false', 'mutability');
      state.active = booleanValue(value, 'active');
      return;
    case 'username':
      if (remove) throw new ScimError(400, 'userName is required', 'mutability');
      state.userName = stringValue(value, 'userName');
      return;
    case 'displayname':
      state.displayName = remove ? undefined : stringValue(value, 'displayName');
      return;
    case 'externalid':
      state.externalId = remove ? undefined : stringValue(value, 'externalId');
      return;
    case 'manager':
      state.manager = remove ? undefined : managerValue(value);
      return;
    case 'emails': {
      if (remove) throw new ScimError(400, 'a user needs at least one email', 'mutability');
      const emails = emailsValue(value);
      state.emails = op === 'add' ? [...new Set([...emails, ...state.emails])] : emails;
      return;
    }
  }
  if (EMAIL_VALUE_FILTER.test(path)) {
    // Entra's `emails[type eq "work"].value`: the work address, which is the primary one here.
    if (remove) throw new ScimError(400, 'a user needs at least one email', 'mutability');
    const email = stringValue(value, 'emails');
    state.emails = [email, ...state.emails.slice(1).filter((e) => e !== email)];
  }
  // Any other attribute (name.*, title, phoneNumbers…) is not stored: accepted and ignored.
}

export type MemberDelta = { add: string[]; remove: string[] };

function memberIds(value: unknown): string[] {
  const parsed = z.array(ScimMember).safeParse(Array.isArray(value) ? value : [value]);
  if (!parsed.success) throw new ScimError(400, 'members must be a list of { "value": id }', 'invalidValue');
  return parsed.data.map((m) => m.value);
}

/**
 * The net member delta of a PATCH made only of member adds and removes (Okta group push, Entra membership sync),
 * so concurrent patches can be applied item by item; undefined when the PATCH touches anything else.
 */
export function memberDelta(operations: PatchOperation[]): MemberDelta | undefined {
  const add = new Set<string>();
  const remove = new Set<string>();
  for (const operation of operations) {
    const path = operation.path?.trim();
    if (path === undefined) return undefined;
    const single = MEMBER_FILTER.exec(path);
    let ids: string[];
    let adding: boolean;
    if (single !== null && operation.op === 'remove') {
      ids = [scimStringValue(single[1] ?? '', 'invalidPath')];
      adding = false;
    } else if (path.toLowerCase() === 'members' && operation.op !== 'replace' && operation.value !== undefined) {
      ids = memberIds(operation.value);
      adding = operation.op === 'add';
    } else return undefined;
    for (const id of ids) {
      (adding ? add : remove).add(id);
      (adding ? remove : add).delete(id);
    }
  }
  return { add: [...add], remove: [...remove] };
}

export function applyGroupPatch(current: GroupState, operations: PatchOperation[]): GroupState {
  const state: GroupState = { ...current, members: [...current.members] };
  for (const operation of operations) {
    const steps =
      operation.path === undefined ? expandPathless(operation) : [{ path: operation.path, value: operation.value }];
    for (const step of steps) applyGroupStep(state, operation.op, step.path.trim(), step.value);
  }
  return state;
}

function applyGroupStep(state: GroupState, op: PatchOperation['op'], rawPath: string, value: unknown): void {
  const single = MEMBER_FILTER.exec(rawPath);
  if (single !== null) {
    if (op !== 'remove') throw new ScimError(400, `${op} on a member filter is not supported`, 'invalidPath');
    const id = scimStringValue(single[1] ?? '', 'invalidPath');
    state.members = state.members.filter((m) => m !== id);
    return;
  }
  const path = normalisePath(rawPath, URN.group).toLowerCase();
  switch (path) {
    case 'displayname':
      if (op === 'remove') throw new ScimError(400, 'displayName is required', 'mutability');
      state.displayName = stringValue(value, 'displayName');
      return;
    case 'externalid':
      state.externalId = op === 'remove' ? undefined : stringValue(value, 'externalId');
      return;
    case 'members': {
      if (op === 'remove') {
        if (value === undefined) state.members = [];
        else {
          const gone = new Set(memberIds(value));
          state.members = state.members.filter((m) => !gone.has(m));
        }
        return;
      }
      const ids = memberIds(value);
      state.members = op === 'add' ? [...new Set([...state.members, ...ids])] : [...new Set(ids)];
      return;
    }
    case 'id':
      // Entra's path-less replace repeats the id; it cannot change.
      return;
  }
  throw new ScimError(400, `unsupported path for a group: ${rawPath}`, 'invalidPath');
}
