import tab from '@bomb.sh/tab/commander';
import type { Command } from 'commander';
import { contextOf } from './context.ts';

type Suggestion = [value: string, description: string];

/** Which requests each command's `<id>` completes to: the ones it can act on. */
const REQUESTS: Record<string, { scope: 'mine' | 'approvals'; status?: 'PENDING' | 'ACTIVE' }> = {
  show: { scope: 'mine' },
  approve: { scope: 'approvals', status: 'PENDING' },
  reject: { scope: 'approvals', status: 'PENDING' },
  cancel: { scope: 'mine', status: 'PENDING' },
  revoke: { scope: 'mine', status: 'ACTIVE' },
  extend: { scope: 'mine', status: 'ACTIVE' },
  access: { scope: 'mine', status: 'ACTIVE' },
  connect: { scope: 'mine', status: 'ACTIVE' },
  exec: { scope: 'mine', status: 'ACTIVE' },
};

/**
 * Shell completion for bash, zsh, fish and PowerShell (@bomb.sh/tab, from the command tree itself):
 * `stint completion bash|zsh|fish` prints the script to source; the shells then call `stint complete -- …`.
 * Completing a flow (`stint request <TAB>`) or a request id (`stint approve <TAB>`) asks the API as the signed-in
 * person, at most 2 s; signed out or unreachable, it offers nothing rather than an error.
 */
export async function register(program: Command): Promise<void> {
  const completion = tab(program, { completionCommandName: 'completion' });
  const argv = process.argv.slice(2);
  if (argv[0] !== 'complete' || argv[1] !== '--') return;
  const words = argv.slice(2);
  const command = words[0];
  if (command === undefined || words.length !== 2) return; // only the first argument is a flow or a request id
  const argument = command === 'request' ? 'flow' : REQUESTS[command] === undefined ? undefined : 'id';
  const target = argument === undefined ? undefined : completion.commands.get(command)?.arguments.get(argument);
  if (target === undefined) return;
  const suggestions = await suggestionsFor(command).catch((): Suggestion[] => []);
  target.handler = (complete) => {
    for (const [value, description] of suggestions) complete(value, description);
  };
}

async function suggestionsFor(command: string): Promise<Suggestion[]> {
  const { apiFor, unwrap } = await import('./api.ts');
  const { api } = await apiFor(contextOf({}));
  const signal = AbortSignal.timeout(2000);
  if (command === 'request') {
    const catalog = unwrap(await api.GET('/catalog', { signal }));
    return catalog.flows.map((f) => [f.id, f.name]);
  }
  const which = REQUESTS[command] ?? { scope: 'mine' };
  const page = unwrap(
    await api.GET('/requests', {
      params: {
        query: { scope: which.scope, limit: 20, ...(which.status === undefined ? {} : { status: which.status }) },
      },
      signal,
    }),
  );
  return page.items.map((r) => [r.id, `${r.status} ${r.flowId} for ${r.grantee.sub}`]);
}
