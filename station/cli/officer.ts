import type { Command } from 'commander';

/** `station officer …` — placeholder registration, replaced by the officer work. */
export function register(program: Command): void {
  program.command('officer').description('officer commands (not built yet)');
}
