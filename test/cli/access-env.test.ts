import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { AccessAnswer } from '../../cli/src/access-env.ts';
import { clientOf, envOf, exportLines, pickUnit, unitsOf } from '../../cli/src/access-env.ts';

const EXPIRES = '2026-12-03T20:00:00.000Z';
const database = (engine: string, extra: Record<string, unknown> = {}) => ({
  kind: 'database',
  engine,
  host: 'db.internal',
  port: 5432,
  username: 'stint_01abc',
  password: 'p\'a$s w"d',
  integrationId: 'i',
  resource: 'r',
  permission: 'p',
  ...extra,
});

describe('the environment stint exec and connect give a command', () => {
  it('maps PostgreSQL access to libpq variables', () => {
    expect(envOf(database('postgresql', { database: 'orders' }), EXPIRES)).toEqual({
      STINT_EXPIRES_AT: EXPIRES,
      PGHOST: 'db.internal',
      PGPORT: '5432',
      PGDATABASE: 'orders',
      PGUSER: 'stint_01abc',
      PGPASSWORD: 'p\'a$s w"d',
    });
  });

  it('gives MySQL its password in MYSQL_PWD and redis-cli in REDISCLI_AUTH, never in the client’s arguments', () => {
    const mysql = database('mysql', { port: 3306, database: 'shop' });
    expect(envOf(mysql, EXPIRES)).toMatchObject({
      MYSQL_HOST: 'db.internal',
      MYSQL_TCP_PORT: '3306',
      MYSQL_PWD: mysql.password,
    });
    expect(clientOf(mysql)).toEqual({ command: 'mysql', args: ['--user=stint_01abc', '--database=shop'] });
    const redis = database('redis', { port: 6379 });
    expect(envOf(redis, EXPIRES)).toMatchObject({ REDISCLI_AUTH: redis.password, REDIS_USERNAME: 'stint_01abc' });
    expect(clientOf(redis).args).toEqual(['-h', 'db.internal', '-p', '6379', '--user', 'stint_01abc']);
    for (const unit of [mysql, redis, database('postgresql')]) {
      expect(clientOf(unit).args.join(' ')).not.toContain(unit.password);
    }
  });

  it('maps an AWS role’s issued credentials to the SDKs’ variables, and custom fields to STINT_*', () => {
    const role = {
      kind: 'aws-role',
      roleArn: 'arn:aws:iam::123456789012:role/ops',
      region: 'eu-west-1',
      credentials: { accessKeyId: 'ASIA1', secretAccessKey: 'secret', sessionToken: 'token', expiration: EXPIRES },
    };
    expect(envOf(role, undefined)).toEqual({
      AWS_ACCESS_KEY_ID: 'ASIA1',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_SESSION_TOKEN: 'token',
      AWS_CREDENTIAL_EXPIRATION: EXPIRES,
      AWS_REGION: 'eu-west-1',
      AWS_DEFAULT_REGION: 'eu-west-1',
    });
    expect(() => clientOf(role)).toThrow(/stint exec/);
    expect(
      envOf({ kind: 'custom', fields: { apiUrl: 'https://x', 'team-name': 'ops' }, secret: 's3' }, undefined),
    ).toEqual({
      STINT_API_URL: 'https://x',
      STINT_TEAM_NAME: 'ops',
      STINT_SECRET: 's3',
    });
  });

  it('reads the units of a several-unit answer and refuses a unit number it does not have', () => {
    const answer = {
      ...database('postgresql'),
      expiresAt: EXPIRES,
      units: [database('postgresql'), database('redis')],
    };
    expect(unitsOf(answer as unknown as AccessAnswer)).toHaveLength(2);
    expect(pickUnit(answer as unknown as AccessAnswer, 2).engine).toBe('redis');
    expect(() => pickUnit(answer as unknown as AccessAnswer, 3)).toThrow('--unit 3: the request has 2 unit(s)');
  });

  it('prints export lines a POSIX shell reads back to the same values', () => {
    const env = envOf(database('postgresql'), EXPIRES);
    const echoed = execFileSync('sh', ['-c', `${exportLines(env)}printf '%s|%s' "$PGPASSWORD" "$PGUSER"`], {
      encoding: 'utf8',
    });
    expect(echoed).toBe(`${env.PGPASSWORD}|${env.PGUSER}`);
  });
});
