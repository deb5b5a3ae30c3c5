import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { EVENT_TYPES } from '#events/schemas.ts';
import { StintConfigSchema } from '#infra/config.ts';
import { TEAMS_EVENT_TYPES } from '#lib/channels/teams/notify.ts';
import { TRANSITIONS } from '#lib/domain/transitions.ts';
import { buildSamples } from '#lib/events/samples.ts';
import { ITSM_KINDS, SIEM_KINDS } from '#lib/targets/config.ts';
import { toOcsf } from '#lib/targets/ocsf.ts';
import { codeSpans, read, root, section, tableRows } from './markdown.ts';

/** Event types a code span names: `grant.active`, `flow.created|updated|deleted`, or `flow.*`. */
function eventTypesIn(span: string): string[] {
  if (span.endsWith('.*')) return EVENT_TYPES.filter((t) => t.startsWith(span.slice(0, -1)));
  const match = /^((?:[a-z]+\.)+)([a-z_]+(?:\|[a-z_]+)*)$/.exec(span);
  if (match?.[1] === undefined || match[2] === undefined) return [];
  const prefix = match[1];
  return match[2].split('|').map((last) => `${prefix}${last}`);
}

const sorted = (list: readonly string[]) => [...list].sort();

/** The field paths of a configuration schema: nested objects are walked, lists and values are leaves. */
function fieldPaths(schema: z.core.$ZodType, prefix = ''): string[] {
  if (schema instanceof z.ZodObject)
    return Object.entries(schema.shape).flatMap(([key, field]) => {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      const inner = fieldPaths(field, path);
      return inner.length === 0 ? [path] : inner;
    });
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodDefault || schema instanceof z.ZodPrefault)
    return fieldPaths(schema.unwrap(), prefix);
  return [];
}

describe('facts in docs/ that the code decides', () => {
  it('docs/events.md lists every event type of events/schemas.ts, and no other', () => {
    const lists = section(read('docs/events.md'), 'Audit events')
      .split('\n')
      .filter((line) => /^- \*\*[A-Za-z]+ events:\*\*/.test(line) || /^ {2}\S/.test(line));
    const listed = lists.flatMap((line) => codeSpans(line).flatMap(eventTypesIn));
    expect(sorted([...new Set(listed)])).toEqual(sorted(EVENT_TYPES));
  });

  it('the OCSF table of docs/events.md gives every event type the activity_id toOcsf gives it', () => {
    const samples = buildSamples();
    const documented = new Map<string, number>();
    for (const [first = '', activity = ''] of tableRows(section(read('docs/events.md'), 'OCSF format'))) {
      for (const type of codeSpans(first).flatMap(eventTypesIn)) documented.set(type, Number(activity));
    }
    const actual = new Map(EVENT_TYPES.map((type) => [type, toOcsf(samples[type]).activity_id]));
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(actual));
  });

  it('the target kinds table of docs/delivery.md lists every kind, each with its page under docs/targets/', () => {
    const rows = tableRows(section(read('docs/delivery.md'), 'Target kinds'));
    const kinds = rows.map(([first = '']) => codeSpans(first)[0] ?? first);
    expect(sorted(kinds)).toEqual(sorted([...SIEM_KINDS, ...ITSM_KINDS]));
    expect(kinds.filter((kind) => !existsSync(join(root, 'docs/targets', `${kind}.md`)))).toEqual([]);
  });

  it('the configuration reference of docs/configuration.md has a row for every field of infra/config.ts', () => {
    const rows = tableRows(read('docs/configuration.md'));
    const documented = rows.flatMap(([first = '']) => codeSpans(first));
    expect(sorted(documented)).toEqual(sorted(fieldPaths(StintConfigSchema)));
  });

  it('docs/teams.md lists exactly the event types the Teams notify function receives', () => {
    const paragraph = section(read('docs/teams.md'), 'What Stint sends').split('\n\n')[0] ?? '';
    expect(sorted(codeSpans(paragraph).flatMap(eventTypesIn))).toEqual(sorted(TEAMS_EVENT_TYPES));
  });
});

describe('docs/architecture.md', () => {
  it('lists exactly the transitions of lib/domain/transitions.ts', () => {
    const documented: Record<string, string[]> = {};
    for (const [from = '', to = ''] of tableRows(section(read('docs/architecture.md'), 'Statuses and transitions'))) {
      const targets = to.startsWith('none') ? [] : [...to.matchAll(/`([A-Z_]+)`/g)].map((m) => m[1] ?? '');
      for (const status of [...from.matchAll(/`([A-Z_]+)`/g)].map((m) => m[1] ?? ''))
        documented[status] = sorted(targets);
    }
    const actual = Object.fromEntries(Object.entries(TRANSITIONS).map(([from, to]) => [from, sorted(to)]));
    expect(documented).toEqual(actual);
  });
});
