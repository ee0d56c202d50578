/**
 * Wire-layer errors reuse the project's one user-visible error type. It lives in
 * drivers/common (the shared, dependency-free module), not in a device driver.
 */
export { StationError, isStationError } from '../../drivers/common/errors';
