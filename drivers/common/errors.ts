/** Drivers reach the shared error type through this path; it lives in config/errors.ts. */
export * from '../../config/errors';
