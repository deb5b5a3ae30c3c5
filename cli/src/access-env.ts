import type { Ok } from './api.ts';
import { CliError } from './errors.ts';

export type AccessAnswer = Ok<'get-access'>;
type Unit = Record<string, unknown> & { kind?: string };

/** Every granted unit of an access answer: `units` when there are several, else the answer itself. */
export function unitsOf(access: AccessAnswer): Unit[] {
  const all = (access as { units?: Unit[] }).units;
  return all !== undefined && all.length > 0 ? all : [access as Unit];
}

export function pickUnit(access: AccessAnswer, index: number | undefined): Unit {
  const units = unitsOf(access);
  if (index === undefined) return units[0] as Unit;
  const unit = units[index - 1];
  if (unit === undefined) throw new CliError(`--unit ${index}: the request has ${units.length} unit(s)`);
  return unit;
}

const str = (v: unknown): string | undefined =>
  typeof v === 'string' || typeof v === 'number' ? String(v) : undefined;

/**
 * The environment a client reads the access from: libpq's PG* variables, the MySQL client's MYSQL_HOST /
 * MYSQL_TCP_PORT / MYSQL_PWD, redis-cli's REDISCLI_AUTH, the AWS SDKs' AWS_*; custom fields as STINT_<FIELD>. Each
 * client is given its secret through the environment, never argv (argv is visible to every user in `ps`).
 */
export function envOf(unit: Unit, expiresAt: string | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  const set = (key: string, value: unknown) => {
    const s = str(value);
    if (s !== undefined) env[key] = s;
  };
  set('STINT_EXPIRES_AT', expiresAt);
  const kind = unit.kind ?? 'database'; // requests granted before access views had kinds: PostgreSQL
  if (kind === 'database') {
    const engine = str(unit.engine) ?? 'postgresql';
    if (engine === 'postgresql') {
      set('PGHOST', unit.host);
      set('PGPORT', unit.port);
      set('PGDATABASE', unit.database);
      set('PGUSER', unit.username);
      set('PGPASSWORD', unit.password);
    } else if (engine === 'mysql') {
      set('MYSQL_HOST', unit.host);
      set('MYSQL_TCP_PORT', unit.port);
      set('MYSQL_DATABASE', unit.database);
      set('MYSQL_USER', unit.username);
      set('MYSQL_PWD', unit.password);
    } else if (engine === 'redis') {
      set('REDIS_HOST', unit.host);
      set('REDIS_PORT', unit.port);
      set('REDIS_USERNAME', unit.username);
      set('REDISCLI_AUTH', unit.password);
    }
  } else if (kind === 'aws-role') {
    const c = (unit.credentials ?? {}) as Record<string, unknown>;
    set('AWS_ACCESS_KEY_ID', c.accessKeyId);
    set('AWS_SECRET_ACCESS_KEY', c.secretAccessKey);
    set('AWS_SESSION_TOKEN', c.sessionToken);
    set('AWS_CREDENTIAL_EXPIRATION', c.expiration);
    set('AWS_REGION', c.region ?? unit.region);
    set('AWS_DEFAULT_REGION', c.region ?? unit.region);
  } else if (kind === 'aws-account') {
    set('STINT_AWS_ACCOUNT_ID', unit.accountId);
    set('STINT_AWS_PERMISSION_SET', unit.permissionSet);
    set('STINT_AWS_PORTAL_URL', unit.portalUrl);
  } else if (kind === 'custom') {
    for (const [k, v] of Object.entries((unit.fields ?? {}) as Record<string, unknown>)) {
      set(
        `STINT_${k
          .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
          .replace(/[^A-Za-z0-9]+/g, '_')
          .toUpperCase()}`,
        v,
      );
    }
    set('STINT_SECRET', unit.secret);
  }
  return env;
}

/**
 * The client `stint connect` opens for a unit: its command and the arguments that are not secret (the user name
 * is not: mysql and redis-cli take it from argv; every password goes through the environment).
 */
export function clientOf(unit: Unit): { command: string; args: string[] } {
  const kind = unit.kind ?? 'database';
  if (kind !== 'database') {
    throw new CliError(
      `stint connect opens database clients; this access is ${kind}: use \`stint exec <id> -- <command>\``,
    );
  }
  const engine = str(unit.engine) ?? 'postgresql';
  if (engine === 'postgresql') return { command: 'psql', args: [] };
  if (engine === 'mysql') {
    return {
      command: 'mysql',
      args: [
        `--user=${str(unit.username)}`,
        ...(unit.database === undefined ? [] : [`--database=${str(unit.database)}`]),
      ],
    };
  }
  return {
    command: 'redis-cli',
    args: ['-h', str(unit.host) ?? '127.0.0.1', '-p', str(unit.port) ?? '6379', '--user', str(unit.username) ?? ''],
  };
}

/** `export KEY='value'` lines, quoted for POSIX shells. */
export function exportLines(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([k, v]) => `export ${k}='${v.replaceAll("'", `'\\''`)}'\n`)
    .join('');
}
