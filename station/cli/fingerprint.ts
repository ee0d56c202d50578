import type { Command } from 'commander';

/** `station fingerprint …` — placeholder registration, replaced by the fingerprint work. */
export function register(program: Command): void {
  program.command('fingerprint').description('fingerprint commands (not built yet)');
}
