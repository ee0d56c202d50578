/** The station's vault: sealed records in SQLite, the outbox the uplink drains, the audit log. */
export { Vault, readVaultStatus, vaultPath, VAULT_DIR, VAULT_FILE } from './vault';
export type { VaultOptions, VaultRetention, VaultAlert, VaultStats, VaultStatus, DiskStatus, RefusedRecord } from './vault';
export { diskSpace, type DiskSpace } from './disk';
export { SCHEMA_VERSION } from './schema';
