import type { Command } from 'commander';

/** `station card …` — placeholder registration, replaced by the card work. */
export function register(program: Command): void {
  program.command('card').description('card commands (not built yet)');
}
