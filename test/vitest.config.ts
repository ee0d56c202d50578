// Kept for commands that name the old path; the configuration is vitest.config.mts.
export { default } from './vitest.config.mts';
