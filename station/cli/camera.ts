import type { Command } from 'commander';

/** `station camera …` — placeholder registration, replaced by the camera work. */
export function register(program: Command): void {
  program.command('camera').description('camera commands (not built yet)');
}
