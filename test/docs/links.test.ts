import { existsSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { codeSpans, documentationFiles, headings, links, proseLines, read, root, slug } from './markdown.ts';

const files = documentationFiles();

/** Every relative link of a file that points to no file, or to no heading of the file it names. */
function brokenLinks(file: string): string[] {
  return links(read(file)).flatMap(({ target, line }) => {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return []; // https:, mailto:
    const [path = '', anchor] = target.split('#', 2);
    const resolved = path === '' ? file : normalize(join(dirname(file), decodeURIComponent(path)));
    const where = `${file}:${line}: ${target}`;
    if (!existsSync(join(root, resolved))) return [`${where} (no such file)`];
    if (anchor === undefined) return [];
    if (statSync(join(root, resolved)).isDirectory() || !resolved.endsWith('.md'))
      return [`${where} (an anchor into a file that is not markdown)`];
    const anchors = new Set(headings(read(resolved)).map((h) => h.anchor));
    return anchors.has(anchor) ? [] : [`${where} (no heading with that anchor in ${resolved})`];
  });
}

describe('links in README.md and docs/', () => {
  it('computes anchors as GitHub does', () => {
    expect(slug('`jira`: one Jira issue per access request')).toBe('jira-one-jira-issue-per-access-request');
    expect(slug('Errors (RFC 9457)')).toBe('errors-rfc-9457');
    expect(slug('SCIM 2.0 endpoints')).toBe('scim-20-endpoints');
    expect(slug('Delivery: nothing lost, nothing sent twice')).toBe('delivery-nothing-lost-nothing-sent-twice');
    expect(headings('# Security model\n\n## Security model\n').map((h) => h.anchor)).toEqual([
      'security-model',
      'security-model-1',
    ]);
    expect(headings('```sh\n# a shell comment\n```\n# Real').map((h) => h.text)).toEqual(['Real']);
  });

  it.each(files)('%s: every relative link points to an existing file and heading', (file) => {
    expect(brokenLinks(file)).toEqual([]);
  });

  it.each(files)('%s: every file path it names in code exists', (file) => {
    const paths = proseLines(read(file))
      .flatMap((line) => codeSpans(line))
      .filter(
        (span) => /^(infra|functions|lib|events|scripts|test|docs)\/[\w./-]*$/.test(span) && !span.includes('...'),
      );
    expect(paths.filter((path) => !existsSync(join(root, path)))).toEqual([]);
  });

  it('the map in README.md links every page directly under docs/', () => {
    const linked = new Set(links(read('README.md')).map(({ target }) => target.split('#', 1)[0]));
    const pages = files.filter((f) => dirname(f) === 'docs');
    expect(pages.length).toBeGreaterThan(0);
    expect(pages.filter((page) => !linked.has(page))).toEqual([]);
  });

  it('every page under docs/ can be reached from README.md', () => {
    const reached = new Set<string>(['README.md']);
    const queue = ['README.md'];
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
      for (const { target } of links(read(file))) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
        const [path = ''] = target.split('#', 1);
        if (path === '' || !path.endsWith('.md')) continue;
        const resolved = normalize(join(dirname(file), path));
        if (!reached.has(resolved) && files.includes(resolved)) {
          reached.add(resolved);
          queue.push(resolved);
        }
      }
    }
    expect(files.filter((f) => !reached.has(f))).toEqual([]);
  });
});
