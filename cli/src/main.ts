import { CommanderError } from 'commander';
import { EXIT, report } from './errors.ts';
import { buildProgram } from './program.ts';

declare const STINT_VERSION: string;

const program = buildProgram(typeof STINT_VERSION === 'string' ? STINT_VERSION : '0.0.0');
// `stint completion <shell>` prints a shell's script, which then calls `stint complete -- …`: both come from
// @bomb.sh/tab, loaded only then (it costs --help 13 ms); otherwise the help lists what `completion` takes.
if (process.argv.slice(2).some((a) => a === 'completion' || a === 'complete')) {
  await (await import('./completion.ts')).register(program);
} else {
  program
    .command('completion')
    .argument('<shell>', 'bash, zsh, fish or powershell')
    .description('print the shell completion script: source <(stint completion bash)');
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and --version end here too (exit code 0); commander already printed what went wrong, and the usage.
    process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else {
    process.exitCode = report(error, program.opts().output === 'json', (line) => process.stderr.write(line));
  }
}
