import tab from '@bomb.sh/tab/commander';
import type { Command } from 'commander';

/**
 * Shell completion for bash, zsh, fish and PowerShell (@bomb.sh/tab, from the command tree itself):
 * `stint completion bash|zsh|fish` prints the script to source; the shells then call `stint complete -- …`.
 */
export function register(program: Command): void {
  tab(program, { completionCommandName: 'completion' });
}
