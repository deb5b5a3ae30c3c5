import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

/** The repository root. */
export const root = resolve(import.meta.dirname, '../..');

/** README.md and every markdown file under docs/, as paths relative to the root. */
export function documentationFiles(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? walk(join(dir, entry.name)) : entry.name.endsWith('.md') ? [join(dir, entry.name)] : [],
    );
  return ['README.md', ...walk('docs')].map((path) => relative(root, join(root, path)));
}

export function read(path: string): string {
  return readFileSync(join(root, path), 'utf8');
}

/** The lines of a markdown text outside fenced code blocks (index = line number - 1; fenced lines are ''). */
export function proseLines(text: string): string[] {
  let fenced = false;
  return text.split('\n').map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return '';
    }
    return fenced ? '' : line;
  });
}

/** GitHub's heading anchor: lowercase, punctuation dropped (letters, digits, `_`, `-` and spaces kept), spaces → `-`. */
export function slug(heading: string): string {
  return heading
    .replace(/`/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

export type Heading = { level: number; text: string; anchor: string; line: number };

/** The headings of a markdown text with their anchors; a repeated anchor gets `-1`, `-2`… as on GitHub. */
export function headings(text: string): Heading[] {
  const seen = new Map<string, number>();
  const found: Heading[] = [];
  proseLines(text).forEach((line, index) => {
    const match = /^(#{1,6})\s+(.+?)\s*#*\s*$/.exec(line);
    if (match?.[1] === undefined || match[2] === undefined) return;
    const base = slug(match[2]);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    found.push({
      level: match[1].length,
      text: match[2],
      anchor: count === 0 ? base : `${base}-${count}`,
      line: index + 1,
    });
  });
  return found;
}

export type Link = { target: string; line: number };

/** Inline links `[text](target)` outside code (fenced blocks and inline code spans). */
export function links(text: string): Link[] {
  return proseLines(text).flatMap((line, index) =>
    [...line.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].flatMap((m) =>
      m[1] === undefined ? [] : [{ target: m[1], line: index + 1 }],
    ),
  );
}

/** The text under a heading, up to the next heading of any level. */
export function section(text: string, heading: string): string {
  const all = headings(text);
  const start = all.find((h) => h.text === heading);
  if (start === undefined) throw new Error(`no heading "${heading}"`);
  const end = all.find((h) => h.line > start.line);
  return text
    .split('\n')
    .slice(start.line, end === undefined ? undefined : end.line - 1)
    .join('\n');
}

/** The rows of every table in a markdown text, as cells (header and separator rows left out). */
export function tableRows(text: string): string[][] {
  const rows: string[][] = [];
  let inTable = false;
  for (const line of proseLines(text)) {
    const trimmed = line.trim();
    if (!trimmed.startsWith('|')) {
      inTable = false;
      continue;
    }
    // Split on unescaped pipes that are outside inline code.
    const cells: string[] = [];
    let cell = '';
    let code = false;
    for (let i = 1; i < trimmed.length; i++) {
      const ch = trimmed[i];
      if (ch === '`') code = !code;
      if (ch === '|' && !code && trimmed[i - 1] !== '\\') {
        cells.push(cell.trim());
        cell = '';
      } else cell += ch;
    }
    if (!inTable) {
      inTable = true; // the header row
      continue;
    }
    if (cells.every((c) => /^:?-+:?$/.test(c))) continue;
    rows.push(cells);
  }
  return rows;
}

/** The inline code spans of a piece of markdown, in order. */
export function codeSpans(text: string): string[] {
  return [...text.matchAll(/`([^`]+)`/g)].flatMap((m) => (m[1] === undefined ? [] : [m[1]]));
}
