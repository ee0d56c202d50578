/**
 * Wire-layer errors reuse the project's one user-visible error type, which lives
 * in config/errors.ts (the dependency-free base every layer may import).
 */
export { StationError, isStationError } from '../../config/errors';
