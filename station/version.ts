/** The software version (package.json), shared by `station` and `hq`: see config/version.ts. */
export { VERSION } from '../config/version';
