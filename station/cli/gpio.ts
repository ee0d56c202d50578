import type { Command } from 'commander';

/** `station gpio …` — placeholder registration, replaced by the gpio work. */
export function register(program: Command): void {
  program.command('gpio').description('gpio commands (not built yet)');
}
