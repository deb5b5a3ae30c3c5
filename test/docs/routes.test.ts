import { describe, expect, it } from 'vitest';
import { routes } from '#functions/api/routes.ts';
import { jiraWebhookRoutes, slackWebhookRoutes, teamsWebhookRoutes } from '#functions/callbacks/routes.ts';
import { SCIM_BASE_PATH, scimRoutes } from '#functions/scim/routes.ts';
import { codeSpans, read, section, tableRows } from './markdown.ts';

const METHOD = /^(GET|POST|PUT|PATCH|DELETE)$/;
const METHOD_AND_PATH = /^(GET|POST|PUT|PATCH|DELETE) (\/\S*)$/;

/**
 * The routes a route table's first column names. Each cell is read as code spans: `GET /a` names one route;
 * a bare `/b` after it takes the same method (`GET /flows`, `/integrations`); bare methods before a
 * `METHOD /path` span share its path (`GET`, `PUT`, `DELETE /flows/{id}`).
 */
function documentedRoutes(markdown: string, base = ''): string[] {
  return tableRows(markdown).flatMap(([first = '']) => {
    const found: string[] = [];
    let pending: string[] = [];
    let last: string[] = [];
    for (const span of codeSpans(first)) {
      const both = METHOD_AND_PATH.exec(span);
      if (METHOD.test(span)) pending.push(span);
      else if (both?.[1] !== undefined && both[2] !== undefined) {
        last = [...pending, both[1]];
        pending = [];
        for (const method of last) found.push(`${method} ${base}${both[2]}`);
      } else if (span.startsWith('/')) for (const method of last) found.push(`${method} ${base}${span}`);
    }
    return found;
  });
}

const sorted = (list: readonly string[]) => [...list].sort();

describe('route tables in docs/', () => {
  it('reads the shorthand of a route table', () => {
    const table = [
      '| Method and path | Who |',
      '| --- | --- |',
      '| `GET /flows`, `/integrations` | admin |',
      '| `GET`, `PUT`, `DELETE /flows/{id}` | admin |',
    ].join('\n');
    expect(documentedRoutes(table, '/base')).toEqual([
      'GET /base/flows',
      'GET /base/integrations',
      'GET /base/flows/{id}',
      'PUT /base/flows/{id}',
      'DELETE /base/flows/{id}',
    ]);
  });

  it('the route table of docs/api.md lists exactly the routes of functions/api/routes.ts', () => {
    const documented = documentedRoutes(section(read('docs/api.md'), 'Routes'));
    expect(sorted(documented)).toEqual(sorted(routes.map((r) => `${r.method} ${r.path}`)));
  });

  it('the directory admin routes table lists exactly the /directory routes of functions/api/routes.ts', () => {
    const documented = documentedRoutes(section(read('docs/directory-and-scim.md'), 'Directory admin routes'));
    const directory = routes.filter((r) => r.path.startsWith('/directory/'));
    expect(sorted(documented)).toEqual(sorted(directory.map((r) => `${r.method} ${r.path}`)));
  });

  it('the SCIM endpoints table lists exactly the routes of functions/scim/routes.ts', () => {
    const documented = documentedRoutes(
      section(read('docs/directory-and-scim.md'), 'SCIM 2.0 endpoints'),
      SCIM_BASE_PATH,
    );
    expect(sorted(documented)).toEqual(sorted(scimRoutes.map((r) => `${r.method} ${r.path}`)));
  });

  it.each([
    ['docs/slack.md', slackWebhookRoutes],
    ['docs/teams.md', teamsWebhookRoutes],
    ['docs/jira.md', jiraWebhookRoutes],
  ] as const)('%s names each of its webhook routes', (file, webhooks) => {
    const text = read(file);
    expect(webhooks.filter((r) => !text.includes(`${r.method} <ApiUrl>${r.path}`)).map((r) => r.path)).toEqual([]);
  });

  it('docs/api.md names the routes without the JWT authorizer', () => {
    const sentence = /Every route except (.*?) needs/s.exec(read('docs/api.md'))?.[1] ?? '';
    const publicRoutes = routes.filter((r) => !r.auth).map((r) => `${r.method} ${r.path}`);
    expect(sorted(codeSpans(sentence))).toEqual(sorted(publicRoutes));
  });
});
