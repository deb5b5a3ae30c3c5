import { CommanderError } from 'commander';
import { EXIT, report } from './errors.ts';
import { buildProgram } from './program.ts';

declare const STINT_VERSION: string;

const program = buildProgram(typeof STINT_VERSION === 'string' ? STINT_VERSION : '0.0.0');
const completion = process.argv[2] === 'complete' || process.argv[2] === 'completion';
if (completion) (await import('./completion.ts')).register(program);

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
