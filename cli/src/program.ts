import { Command, InvalidArgumentError, Option } from 'commander';
import { type Ctx, contextOf } from './context.ts';
import { STATUSES } from './statuses.ts';

/**
 * The whole command surface: every command, argument and flag, with its help. Each command's work is in its own
 * file (cli/src/commands/), loaded only when that command runs, so `stint --help` loads commander and this file.
 */
// Each command declares the options object it reads; commander builds it from the flags declared here.
type Run = (ctx: Ctx, args: string[], options: never) => Promise<void>;
type Loader = () => Promise<{ run: Run }>;

function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new InvalidArgumentError('must be a whole number of minutes (1 or more)');
  return Number(value);
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function target(value: string, previous: string[] = []): string[] {
  if (!/^\S+:[^:\s]+$/.test(value)) throw new InvalidArgumentError('must be <resource>:<permission>');
  return [...previous, value];
}

export function buildProgram(version: string): Command {
  const program = new Command('stint');
  const lazy =
    (load: Loader) =>
    async (...params: unknown[]) => {
      const command = params.at(-1) as Command;
      const args = command.args;
      const ctx = contextOf(command.optsWithGlobals());
      await (await load()).run(ctx, args, command.opts() as never);
    };

  program
    .description('Time-boxed access from the terminal: ask for it, approve it, use it.')
    .version(version, '-v, --version')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'))
    .addOption(new Option('--url <api>', 'the Stint API (default: the signed-in one)').env('STINT_URL'))
    .showHelpAfterError('(run `stint --help` or `stint <command> --help` for usage)')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .exitOverride()
    .addHelpText(
      'after',
      `
Exit codes: 0 done, 1 refused or failed, 2 usage, 3 not signed in.
Docs: docs/cli.md in the Stint repository.`,
    );

  program
    .command('login')
    .description('sign in: OIDC in the browser (PKCE), the device flow, or a local runtime')
    .option('--device', 'use the device authorization grant (no browser here, e.g. over SSH)')
    .option('--no-browser', 'print the sign-in URL instead of opening a browser')
    .option('--issuer <url>', 'the OIDC issuer (default: what the API announces at GET /auth-config)')
    .option('--client-id <id>', 'the CLI’s OIDC client id (default: what the API announces)')
    .option('--scope <scopes>', 'scopes to ask for (default: what the API announces)')
    .option('--local', 'sign in to a local runtime (npm start) as anyone: local only')
    .option('--user <id>', 'with --local: the user id (sub) to sign in as')
    .option('--email <email>', 'with --local: their email (default <user>@example.com)')
    .option('--group <name>', 'with --local: a group they are in (repeat for more)', collect, [])
    .action(lazy(() => import('./commands/login.ts')));
  program
    .command('logout')
    .description('forget the session (and revoke the refresh token where the issuer allows)')
    .action(lazy(() => import('./commands/logout.ts')));
  program
    .command('whoami')
    .description('who the API says you are: id, email, groups')
    .action(lazy(() => import('./commands/whoami.ts')));

  program
    .command('flows')
    .description('the access flows you may request, with their targets and limits')
    .action(lazy(() => import('./commands/flows.ts')));
  program
    .command('request')
    .argument('[flow]', 'the access flow (see `stint flows`); asked for when missing on a terminal')
    .description('ask for access')
    .option(
      '-t, --target <resource:permission>',
      'what to grant (repeat for more; default: the flow’s only target)',
      target,
    )
    .option('-b, --bundle <id>', 'a bundle of targets the flow offers')
    .option('-m, --minutes <n>', 'for how long (default: the flow’s default)', positiveInt)
    .option('-r, --reason <text>', 'why (the justification approvers see)')
    .option('--for <user>', 'on behalf of this user id (they must be a requestor of the flow)')
    .option('--for-email <email>', 'with --for: their email')
    .option('-w, --wait', 'wait with a live status line until the access is ACTIVE (exit 1 if it ends otherwise)')
    .action(lazy(() => import('./commands/request.ts')));
  program
    .command('ls')
    .description('your requests (or those you may approve, or every request)')
    .option('-a, --approvals', 'requests waiting for your approval')
    .option('--all', 'every request (auditors and admins)')
    .addOption(new Option('-s, --status <status>', 'only requests in this status').choices(STATUSES))
    .option('-n, --limit <n>', 'at most this many', positiveInt, 50)
    .action(lazy(() => import('./commands/ls.ts')));
  program
    .command('show')
    .argument('<id>', 'the request id')
    .description('a request: details, approvals and timeline')
    .action(lazy(() => import('./commands/show.ts')));

  for (const [name, description] of [
    ['approve', 'approve a request you are an approver of'],
    ['reject', 'reject a request (a reason is required)'],
    ['cancel', 'withdraw your request before it is granted'],
    ['revoke', 'end active access now'],
  ] as const) {
    const command = program
      .command(name)
      .argument('<id>', 'the request id')
      .description(description)
      .action(lazy(() => import('./commands/decide.ts').then((m) => ({ run: m.decide(name) }))));
    if (name === 'reject') command.requiredOption('-r, --reason <text>', 'why (the requester sees it)');
    else command.option('-r, --reason <text>', 'why (recorded with the decision)');
  }
  program
    .command('extend')
    .argument('<id>', 'the request id')
    .description('extend active access (within the flow’s limits)')
    .requiredOption('-m, --minutes <n>', 'by how many minutes', positiveInt)
    .option('-r, --reason <text>', 'why')
    .action(lazy(() => import('./commands/extend.ts')));

  program
    .command('access')
    .argument('<id>', 'the request id')
    .description('the credentials of your active access')
    .option('--env', 'print them as shell `export` lines (eval "$(stint access <id> --env)")')
    .action(lazy(() => import('./commands/access.ts')));
  program
    .command('connect')
    .argument('<id>', 'the request id')
    .argument('[client-args...]', 'arguments for the client, after `--` (e.g. -- -c "select 1")')
    .description('open a client (psql, mysql, redis-cli) with the credentials in its environment, never in argv')
    .option('--client <command>', 'the client to run instead of the engine’s usual one')
    .option('--unit <n>', 'which granted unit, when the request has several (see `stint access`)', positiveInt)
    .action(lazy(() => import('./commands/connect.ts')));
  program
    .command('exec')
    .argument('<id>', 'the request id')
    .argument('<command...>', 'the command and its arguments, after `--`')
    .description('run a command with the access in its environment (PG*, MYSQL_*, REDISCLI_AUTH, AWS_*, STINT_*)')
    .option('--unit <n>', 'which granted unit, when the request has several', positiveInt)
    .action(lazy(() => import('./commands/exec.ts')));

  program
    .command('mcp')
    .description(
      'a Model Context Protocol server on stdio for AI agents: catalog, request, status, access (no approve)',
    )
    .option(
      '--no-access',
      'leave out get_access: the agent can ask for access and follow it, never see the credentials',
    )
    .action(lazy(() => import('./commands/mcp.ts')));

  return program;
}
