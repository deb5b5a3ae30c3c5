import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { headings, read, root } from './markdown.ts';

/**
 * Code comments send readers to docs/ pages (`docs/architecture.md, "Overlapping grants"`): every page they name
 * exists, and a quoted heading after it is a heading of that page, so a moved section cannot leave comments
 * pointing nowhere.
 */
const SOURCE_DIRS = ['lib', 'functions', 'infra', 'events', 'scripts', 'test'];

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return path === join('test', 'docs') ? [] : sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

type Reference = { where: string; page: string; heading: string | undefined };

function references(): Reference[] {
  return SOURCE_DIRS.flatMap(sources).flatMap((file) =>
    read(file)
      .split('\n')
      .flatMap((line, i) =>
        [...line.matchAll(/\bdocs\/([a-z0-9/-]+\.md)(?:, "([^"]+)")?/g)].map((m) => ({
          where: `${relative(root, join(root, file))}:${i + 1}`,
          page: `docs/${m[1]}`,
          heading: m[2],
        })),
      ),
  );
}

/** Lines of code citing documents that are not in the repository (design notes, issue numbers): nowhere to go. */
function citationsOfMissingDocuments(): string[] {
  return SOURCE_DIRS.flatMap(sources).flatMap((file) =>
    read(file)
      .split('\n')
      .flatMap((line, i) =>
        /\bARCHITECTURE\b|FIELD-NOTES|\(issue \d+[),:]/.test(line)
          ? [`${relative(root, join(root, file))}:${i + 1}`]
          : [],
      ),
  );
}

describe('docs/ references in code comments', () => {
  it('cites no document outside the repository (ARCHITECTURE, FIELD-NOTES, issue numbers)', () => {
    expect(citationsOfMissingDocuments()).toEqual([]);
  });

  const found = references();

  it('finds the references comments make (the scan itself works)', () => {
    expect(found.some((r) => r.page === 'docs/architecture.md' && r.heading === 'Overlapping grants')).toBe(true);
  });

  it('names only pages and headings that exist', () => {
    const broken = found.filter(({ page, heading }) => {
      let text: string;
      try {
        text = read(page);
      } catch {
        return true;
      }
      return heading !== undefined && !headings(text).some((h) => h.text === heading);
    });
    expect(broken).toEqual([]);
  });
});
