import type { Ctx } from './context.ts';

/** One JSON document on stdout: the shape each command documents in docs/cli.md. */
export function printJson(ctx: Ctx, value: unknown): void {
  ctx.out(`${JSON.stringify(value, null, 2)}\n`);
}

/** Rows as aligned columns with a header, for people; an empty list says so instead. */
export function printTable(ctx: Ctx, columns: string[], rows: string[][], empty = 'nothing to show'): void {
  if (rows.length === 0) {
    ctx.out(`${empty}\n`);
    return;
  }
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  ctx.out(`${[line(columns), ...rows.map(line)].join('\n')}\n`);
}

/** `label  value` pairs, aligned, skipping absent values. */
export function printFields(ctx: Ctx, fields: [string, string | number | undefined][]): void {
  const present = fields.filter((f): f is [string, string | number] => f[1] !== undefined && f[1] !== '');
  const width = Math.max(0, ...present.map(([k]) => k.length));
  ctx.out(`${present.map(([k, v]) => `${`${k}:`.padEnd(width + 1)}  ${v}`).join('\n')}\n`);
}

/** An ISO time as a person reads it here: local time, to the minute. */
export function when(iso: string | undefined): string {
  if (iso === undefined) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString('sv-SE', { dateStyle: 'short', timeStyle: 'short' });
}
