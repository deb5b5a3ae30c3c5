/**
 * EventBridge event-pattern matching, for the local bus only (no usable npm matcher). Covers the
 * documented content filters: exact values (string, number, boolean, null, empty string), prefix, suffix,
 * equals-ignore-case (alone and inside prefix/suffix/anything-but), wildcard, anything-but (values, prefix,
 * suffix, equals-ignore-case, wildcard), numeric ranges, exists, cidr (IPv4), `$or`, nested fields, and event
 * arrays (a field whose value is an array matches when any element does).
 */
export class EventPatternError extends Error {
  override readonly name = 'EventPatternError';
}

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses the template's EventPattern (an object, or a JSON string in hand-written templates). */
export function parseEventPattern(pattern: unknown): Json {
  const p = typeof pattern === 'string' ? JSON.parse(pattern) : pattern;
  if (!isRecord(p)) throw new EventPatternError('An event pattern is a JSON object');
  return p;
}

export function matchesEventPattern(pattern: Json, event: unknown): boolean {
  return matchObject(pattern, event);
}

function matchObject(pattern: Json, value: unknown): boolean {
  for (const [key, p] of Object.entries(pattern)) {
    if (key === '$or') {
      if (!Array.isArray(p) || p.length < 2 || !p.every(isRecord)) {
        throw new EventPatternError('$or takes an array of at least two patterns');
      }
      if (!p.some((alt) => matchObject(alt, value))) return false;
      continue;
    }
    const present = isRecord(value) && Object.hasOwn(value, key);
    const v = present ? value[key] : undefined;
    if (Array.isArray(p)) {
      if (!matchField(p, v, present)) return false;
    } else if (isRecord(p)) {
      if (!matchObject(p, isRecord(v) ? v : undefined)) return false;
    } else {
      throw new EventPatternError(`The pattern value of ${key} must be an array or an object`);
    }
  }
  return true;
}

function matchField(matchers: unknown[], value: unknown, present: boolean): boolean {
  const elements = Array.isArray(value) ? value : [value];
  return matchers.some((m) => {
    if (isRecord(m) && 'exists' in m) {
      if (typeof m.exists !== 'boolean') throw new EventPatternError('exists takes true or false');
      // `exists` applies to leaf values only.
      const leaf = present && !isRecord(value);
      return m.exists ? leaf : !present;
    }
    return present && elements.some((e) => matchOne(m, e));
  });
}

function matchOne(m: unknown, e: unknown): boolean {
  if (m === null || typeof m === 'string' || typeof m === 'number' || typeof m === 'boolean') return m === e;
  if (!isRecord(m)) throw new EventPatternError(`Unsupported matcher ${JSON.stringify(m)}`);
  const [op, arg, ...rest] = Object.entries(m).flat();
  if (rest.length > 0) throw new EventPatternError(`A matcher has one operator: ${JSON.stringify(m)}`);
  switch (op) {
    case 'prefix':
      return stringTest(arg, e, (s, p) => s.startsWith(p));
    case 'suffix':
      return stringTest(arg, e, (s, p) => s.endsWith(p));
    case 'equals-ignore-case':
      return typeof e === 'string' && typeof arg === 'string' && e.toLowerCase() === arg.toLowerCase();
    case 'wildcard':
      return typeof e === 'string' && typeof arg === 'string' && wildcard(arg).test(e);
    case 'numeric':
      return numeric(arg, e);
    case 'cidr':
      return typeof e === 'string' && typeof arg === 'string' && cidr(arg, e);
    case 'anything-but':
      return anythingBut(arg, e);
    default:
      throw new EventPatternError(`Unsupported matcher ${String(op)}`);
  }
}

/** prefix/suffix take a string or `{ "equals-ignore-case": string }`. */
function stringTest(arg: unknown, e: unknown, test: (s: string, p: string) => boolean): boolean {
  if (typeof e !== 'string') return false;
  if (typeof arg === 'string') return test(e, arg);
  const ic = isRecord(arg) ? arg['equals-ignore-case'] : undefined;
  if (typeof ic === 'string') return test(e.toLowerCase(), ic.toLowerCase());
  throw new EventPatternError('prefix/suffix take a string or { "equals-ignore-case": string }');
}

function anythingBut(arg: unknown, e: unknown): boolean {
  if (typeof arg === 'string' || typeof arg === 'number') return e !== arg;
  if (Array.isArray(arg)) return !arg.includes(e);
  if (!isRecord(arg)) throw new EventPatternError('Unsupported anything-but');
  const [op, value] = Object.entries(arg)[0] ?? [];
  const list = Array.isArray(value) ? value : [value];
  if (typeof e !== 'string') return op === undefined;
  switch (op) {
    case 'prefix':
      return !stringTest(value, e, (s, p) => s.startsWith(p));
    case 'suffix':
      return !stringTest(value, e, (s, p) => s.endsWith(p));
    case 'equals-ignore-case':
      return !list.some((v) => typeof v === 'string' && v.toLowerCase() === e.toLowerCase());
    case 'wildcard':
      return !list.some((v) => typeof v === 'string' && wildcard(v).test(e));
    default:
      throw new EventPatternError(`Unsupported anything-but operator ${String(op)}`);
  }
}

function wildcard(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charAt(i);
    if (c === '\\' && i + 1 < pattern.length) {
      i += 1;
      source += pattern.charAt(i).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    } else if (c === '*') source += '.*';
    else source += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}

function numeric(arg: unknown, e: unknown): boolean {
  if (!Array.isArray(arg) || arg.length === 0 || arg.length % 2 !== 0) {
    throw new EventPatternError('numeric takes [op, number, (op, number)]');
  }
  if (typeof e !== 'number') return false;
  for (let i = 0; i < arg.length; i += 2) {
    const op: unknown = arg[i];
    const n: unknown = arg[i + 1];
    if (typeof n !== 'number') throw new EventPatternError('numeric bounds are numbers');
    const ok =
      op === '='
        ? e === n
        : op === '<'
          ? e < n
          : op === '<='
            ? e <= n
            : op === '>'
              ? e > n
              : op === '>='
                ? e >= n
                : null;
    if (ok === null) throw new EventPatternError(`Unsupported numeric operator ${String(op)}`);
    if (!ok) return false;
  }
  return true;
}

function ipv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

function cidr(block: string, ip: string): boolean {
  const [base, bitsText] = block.split('/');
  const bits = Number(bitsText ?? '32');
  const b = ipv4(base ?? '');
  const a = ipv4(ip);
  if (b === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) {
    throw new EventPatternError(`Unsupported cidr ${block} (IPv4 only locally)`);
  }
  if (a === undefined) return false;
  const size = 2 ** (32 - bits);
  return Math.floor(a / size) === Math.floor(b / size);
}
