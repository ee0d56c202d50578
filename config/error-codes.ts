/*
 * Every error code the project shows a user, grouped by the layer that raises it (#16 item 6).
 * `StationError` (config/errors.ts) takes only an ErrorCode; the kiosk's HTTP errors, command
 * results, vault alerts and officer login results use the same codes. Each entry is
 * [what it means, what to do]. docs/errors.md is generated from this table
 * (`npm run docs:errors`) and a test keeps the two, and the sources, in step.
 */
type Entry = readonly [meaning: string, action: string];

export const ERROR_CODES = {
  config: {
    USAGE: ['Bad command-line usage: an option or argument is missing or malformed.', 'Read the message; `--help` lists the options.'],
    CONFIG_INVALID: ['The configuration does not match its schema or names a value that cannot be used.', 'Fix the named key in the configuration file, then run `station config check`.'],
    CONFIG_TLS_FILE: ['A TLS file named by headquarters.* (CA, certificate, key) cannot be read.', 'Install the file at that path, readable by the station user.'],
    CONFIG_DATABASE: ["Headquarters' database settings are unusable.", 'Fix database.* in the settings file or the HQ_DATABASE_* variables, then run `hq config check`.'],
    PREFLIGHT: ['The start-up checks found problems that stop the daemon (listed in the message).', 'Fix each listed problem, then run `station doctor`.'],
    PROVISION_HQ_KEY_EXISTS: ["A different headquarters public key is already installed.", 'Keep it, or remove it deliberately before installing the new one.'],
    PROVISION_HQ_KEY_WRITE: ["The headquarters public key cannot be installed at headquarters.publicKeyFile.", 'Make the directory writable by this user, or run provisioning as the station user.'],
    CORE_DUMPS_ENABLED: ['Core dumps are on for the daemon and could not be switched off: a crash would write personal data to disk.', 'Set LimitCORE=0 (the shipped unit does) or `ulimit -c 0` before starting.'],
    CORE_LIMIT_UNKNOWN: ['The core-dump limit cannot be read from /proc/<pid>/limits.', 'Run on Linux with /proc mounted.'],
    DOCTOR_TIMEOUT: ['A device did not answer a doctor check in time.', 'Check the device and its cable, then run `station doctor` again.'],
    DEMO_DEV_DEPENDENCIES: ['The demo needs development dependencies (the embedded broker) that are not installed.', 'Run the demo from a full `npm ci`, not an --omit=dev installation.'],
    DISK_FULL: ['A file could not be written because the disk is full.', 'Free space on the data disk; the station recovers by itself.'],
  },
  'drivers/fingerprint': {
    FP_MODEL: ['Unknown fingerprint scanner model.', 'Use one of the models listed in the message (devices.fingerprint.model).'],
    FP_PORT_MISSING: ['The configured serial port does not exist.', 'Plug the scanner in or fix devices.fingerprint.port.'],
    FP_PORT_OPEN: ['The serial port cannot be opened.', 'Check permissions (dialout group) and that no other program holds the port.'],
    FP_BAUD: ['The serial port cannot be set to the requested speed.', 'Use a speed the port supports.'],
    FP_BAD_BAUD: ['The scanner model does not support the requested speed.', 'Use one of the supported speeds in the hint.'],
    FP_BAUD_UNSUPPORTED: ['devices.fingerprint.baud is not a speed this model supports.', 'Use one of the speeds in the hint.'],
    FP_BAUD_VERIFY: ['The module did not keep a new baud rate.', 'Keep the current speed; the module refused the change.'],
    FP_NO_ANSWER: ['No module of the configured model answered at any speed.', 'Check power, wiring (TX/RX crossed) and the model setting.'],
    FP_TIMEOUT: ['The scanner did not answer a command in time.', 'Check the cable, then retry.'],
    FP_CORRUPT: ['A reply from the scanner failed its checksum.', 'Check the cable and the baud rate; retry.'],
    FP_BAD_ANSWER: ['The scanner answered with a reply of the wrong shape.', 'Check that the configured model matches the module.'],
    FP_IMPLAUSIBLE: ['The scanner reports impossible parameters.', 'Check the model setting; replace the module if it persists.'],
    FP_MODEL_MISMATCH: ['The module does not look like the configured model.', 'Fix devices.fingerprint.model.'],
    FP_PASSWORD: ['The module rejected the configured module password.', 'Fix devices.fingerprint.password.'],
    FP_DEVICE: ['The scanner reported a failure for a command.', 'Retry; the message names the command and the answer.'],
    FP_MATCHER: ["The module's matcher answered nonsense.", 'Retry; replace the module if it persists.'],
    FP_DISCONNECTED: ['The scanner was disconnected.', 'Reconnect it; the station reopens it.'],
    FP_NOT_OPEN: ['The scanner driver was used before it was opened.', 'A programming error: open() first.'],
    FP_CLOSED: ['The scanner driver was used after it was closed.', 'Open it again.'],
    FP_INTERNAL: ['The driver started a new wait while another was pending.', 'A programming error; report it with the log.'],
    FP_ABORTED: ['Waiting for a finger was cancelled.', 'Nothing; the officer or the workflow cancelled it.'],
    FP_NO_FINGER: ['No finger was placed on the scanner in time.', 'Place the finger and retry.'],
    FP_NOT_LIFTED: ['The finger was not lifted from the scanner in time.', 'Lift the finger and retry.'],
    FP_POOR_IMAGE: ['The finger image is too poor to use.', 'Clean the sensor and the finger, place it flat and retry.'],
    FP_CAPTURE_FAILED: ['A finger capture failed.', 'Retry; record an exception if the finger cannot be captured.'],
    FP_IMAGE_SIZE: ['The scanner returned an image of the wrong size.', 'Retry; check the model setting.'],
    FP_ENROLL_MISMATCH: ['The two placements of an enrolment did not match.', 'Use the same finger both times, placed the same way.'],
    FP_DUPLICATE: ['This finger is already enrolled in the module.', 'Nothing to do; the message names the id.'],
    FP_DUPLICATE_FINGER: ['This finger looks like one already captured in the session.', 'Place the finger that was asked for.'],
    FP_EXCEPTION: ['A finger exception has an unknown code, no reason, or a reason over 500 characters.', 'Give one of the exception codes and a short reason.'],
    FP_BAD_ID: ['A template id is outside the module library.', 'Use an id in the range given.'],
    FP_POSITION: ['A finger position is not 1..10 (ISO/IEC 19794-4).', 'Use a position 1–10.'],
    FP_UNSUPPORTED: ['The module cannot do what was asked (e.g. an LED mode).', 'Use what the message says the model supports.'],
    FP_SOCAT_MISSING: ['The fingerprint simulator needs socat, which is not installed.', 'sudo apt-get install socat'],
    FP_SIM_PTY: ['socat did not create the simulator pseudo-terminals.', 'Read the hint (socat stderr); check /dev/pts.'],
  },
  'drivers/card': {
    CARD_PCSC_MISSING: ['The PC/SC library is not installed.', 'Install pcscd and libpcsclite.'],
    CARD_NO_SERVICE: ['The PC/SC service (pcscd) is not running or not answering.', 'sudo systemctl enable --now pcscd.socket'],
    CARD_PCSCD_DOWN: ['pcscd stopped while the station used it.', 'Restart pcscd; the station reconnects.'],
    CARD_NO_READER: ['No card reader (matching the configured pattern) was found.', 'Plug the reader in; `station card list` shows what PC/SC sees.'],
    CARD_READER_GONE: ['The card reader was unplugged.', 'Plug it back in.'],
    CARD_READER_BUSY: ['Another program holds the reader exclusively.', 'Close other smart-card tools and retry.'],
    CARD_READER_CLOSED: ['The reader was closed while waiting for a card.', 'Open the reader again.'],
    CARD_VPCD_UNREACHABLE: ['The virtual reader (vpcd) cannot be reached.', 'Install vsmartcard-vpcd and start pcscd.'],
    CARD_NO_CARD: ['There is no card on the reader.', 'Place the card on the reader.'],
    CARD_ABSENT: ['There is no card in the officer reader.', 'Insert the officer card.'],
    CARD_REMOVED: ['The card was removed during the read.', 'Put it back and read again.'],
    CARD_TIMEOUT: ['The card did not answer in time.', 'Lift the card, put it back and read again.'],
    CARD_PCSC: ['A PC/SC operation failed.', 'Lift the card and retry; `pcsc_scan` shows what PC/SC sees.'],
    CARD_PROTOCOL: ['The card broke the APDU protocol.', 'Remove the card and try again.'],
    CARD_NOT_EMRTD: ['The card is not an ICAO 9303 eMRTD chip.', 'Use an identity document with a chip, or record that it has none.'],
    CARD_ACCESS_DENIED: ['The chip refused the card access number (CAN).', 'Check the 6-digit CAN printed on the card.'],
    CARD_BAC_DENIED: ['The chip refused BAC with the typed MRZ data.', 'Compare the document number and dates with the card.'],
    CARD_BAC_FAILED: ['BAC failed for another reason than the keys.', 'Lift the card, put it back and read again.'],
    CARD_PACE_REFUSED: ['The chip does not accept PACE as offered.', 'Read it with the MRZ (BAC).'],
    CARD_PACE_FAILED: ['A PACE step failed.', 'Lift the card, put it back and read again; inspect the document if it repeats.'],
    CARD_PACE_BLOCKED: ['The chip blocked PACE after too many wrong attempts.', 'Use the other password (MRZ or CAN) or inspect the document manually.'],
    CARD_PACE_UNAVAILABLE: ['The chip offers no PACE this reader can use, and there is no MRZ for BAC.', 'Enter the MRZ data.'],
    CARD_SM_FAILED: ['A secure messaging check failed during the read.', 'Read again; a repeat may mean a cloned or damaged chip.'],
    CARD_READ_FAILED: ['Reading a file from the chip failed.', 'Lift the card, put it back and read again.'],
    CARD_BAD_DATA: ['The chip returned malformed data.', 'Read again; inspect the document if it repeats.'],
    CARD_NO_FACE: ['The chip holds no face image (DG2).', 'Run without --photo.'],
    CARD_NO_CSCA: ['The CSCA directory does not exist, so passive authentication cannot succeed.', "Install the issuing countries' CSCA certificates in devices.card.cscaDir."],
    CARD_CSCA_STORE: ['The CSCA store cannot be read.', 'Check devices.card.cscaDir.'],
    CARD_ABORTED: ['The chip read was cancelled.', 'Nothing; the officer or the workflow cancelled it.'],
  },
  'drivers/camera': {
    CAM_NOT_FOUND: ['The camera device was not found.', 'Plug the camera in or fix devices.camera.device.'],
    CAM_BINARY_MISSING: ['The camera program (rpicam-still, ffmpeg …) is not installed.', 'Install the package named in the hint.'],
    CAM_BINARY_NOT_EXECUTABLE: ['The camera program is not executable.', 'Fix its permissions.'],
    CAM_BUSY: ['The camera is in use by another program.', 'Close the other program and retry.'],
    CAM_TIMEOUT: ['The camera did not deliver a picture in time.', 'Retry; check the camera cable.'],
    CAM_CAPTURE_FAILED: ['The camera program failed.', 'Retry; check the camera cable if it persists.'],
    CAM_GARBAGE: ['The camera program returned something that is not a picture.', 'Check the camera settings (format, device).'],
    CAM_CLOSED: ['The camera was used after it was closed.', 'Open it again.'],
    CAM_ABORTED: ['The capture was cancelled.', 'Nothing; the officer or the workflow cancelled it.'],
    CAM_BAD_IMAGE: ['Face detection got pixels of the wrong size.', 'A programming error; report it with the log.'],
    CAM_FACE_MODEL: ['The face detection model could not be loaded.', 'Reinstall the station package.'],
    CAM_PORTRAIT_CONFIG: ['camera.portrait asks for an unusable portrait size.', 'Fix camera.portrait in the configuration.'],
    CAM_PORTRAIT_TOO_LARGE: ['The portrait does not fit the byte limit even at the lowest JPEG quality.', 'Raise the limit or lower the portrait size.'],
    CAM_OUTPUT_WRITE: ['The picture file cannot be written.', 'Choose a writable path for --out.'],
  },
  'drivers/gpio': {
    GPIO_UNAVAILABLE: ['GPIO is not available on this machine (no sysfs/chardev access).', 'Run on the booth hardware, or set devices.gpio.simulated.'],
    GPIO_OPEN_FAILED: ['A GPIO line could not be opened.', 'Check the pin numbers and that the station user is in the gpio group.'],
    GPIO_PIN_UNAVAILABLE: ['The fingerprint touch line cannot be opened.', 'Check devices.fingerprint.touchPin and the gpio group.'],
    GPIO_WATCH_FAILED: ['Watching a GPIO input (button, tamper) failed; it is no longer watched.', 'Check the wiring; restart the station.'],
    GPIO_BAD_PATTERN: ['Unknown buzzer pattern.', 'Use one of the patterns in the hint.'],
  },
  'drivers/power': {
    POWER_NO_SYSFS: ['The power-supply directory cannot be read.', 'Check /sys/class/power_supply or devices.power settings.'],
    POWER_NODE_MISSING: ['The configured battery is not under the power-supply directory.', 'Use one of the names in the message.'],
  },
  vault: {
    VAULT_BAD_STATION_ID: ['The station id is not usable in the vault.', 'Use an id that follows the station-id rule.'],
    VAULT_STATION_MISMATCH: ['The vault belongs to another station id.', 'Fix station.id, or use the data directory of this station.'],
    VAULT_CORRUPT: ['The vault database is damaged; the station refuses to start and leaves it untouched.', 'Keep the file for recovery; restore from backup.'],
    VAULT_TOO_NEW: ['The vault schema is newer than this software.', 'Install the newer station software.'],
    VAULT_MIGRATION_FAILED: ['The vault could not be upgraded; nothing was changed.', 'Fix the cause in the message (often a full disk) and restart.'],
    VAULT_DISK_FULL: ['The vault cannot be opened: its disk is full (the file is intact).', 'Free space on the data disk.'],
    VAULT_DISK_LOW: ['Alert: free space is below the reserve; new enrollments are refused.', 'Free space; uploads continue to drain.'],
    VAULT_CLOSED: ['The vault was used after it was closed.', 'A programming error; report it with the log.'],
    VAULT_BAD_RECORD: ['The record names another station than the vault.', 'A programming error; report it with the log.'],
    VAULT_DUPLICATE_RECORD: ['A record with this id is already in the vault.', 'Each record needs a fresh id.'],
    VAULT_SEAL_FAILED: ['The record could not be sealed; it is still in memory.', 'Fix the cause and confirm again.'],
    VAULT_WRITE: ['The sealed record could not be stored.', 'Fix the cause in the message (disk) and confirm again.'],
    VAULT_UNKNOWN_BATCH: ['A receipt names a batch the vault does not know.', 'Nothing; it may have been acknowledged before a restart.'],
    VAULT_TAMPERED: ['Alert: a stored record failed its integrity check; it is kept and not sent.', 'Report to headquarters; do not delete the data directory.'],
    VAULT_REJECTED: ['Alert: headquarters rejected a record; it is kept.', 'Read the reason; headquarters decides.'],
    VAULT_HQ_KEY: ["Alert: headquarters' public key cannot be loaded; nothing can be sealed.", 'Install the headquarters key (station provision).'],
    VAULT_HQ_KEY_MISSING: ["The headquarters public key file cannot be read.", 'Install it (station provision --hq-key FILE).'],
    VAULT_HQ_KEY_MALFORMED: ["The headquarters public key file is malformed.", 'Install the file `hq init` produced, unchanged.'],
    VAULT_STATION_KEY_MISSING: ["The station signing key cannot be read.", 'Run `station provision`, or fix the permissions (0600, station user).'],
    VAULT_STATION_KEY_MALFORMED: ['The station signing key is not a PKCS#8 PEM private key.', 'Restore it from backup or provision a new key.'],
    VAULT_KEY_EXISTS: ['A station signing key already exists.', 'Keep it; rotate it with the rotate-key command.'],
    VAULT_BAD_SUITE: ['Unknown HPKE suite.', 'Use one of the suites in the hint.'],
  },
  workflow: {
    WORKFLOW_AUTH: ['No valid officer session.', 'Log in again.'],
    WORKFLOW_STEP: ['The request does not fit the session step (e.g. a session is already in progress).', 'Finish or abort the current step first.'],
    WORKFLOW_BUSY: ['A device is still working for this session.', 'Wait for it to finish.'],
    WORKFLOW_INPUT: ['The officer input is invalid; details.rule names the rule.', 'Correct the named field.'],
    WORKFLOW_INCOMPLETE: ['Fingers are neither captured nor recorded as exceptions.', 'Capture each finger or record why it cannot be captured.'],
    WORKFLOW_BLOCKED: ['A refusal (e.g. a chip that failed authentication) blocks the step.', 'Resolve it or have a second officer co-sign an override.'],
    WORKFLOW_REFUSED: ['The station may not enroll now (details.reason: disk low, tamper, policy …).', 'Follow the hint; the reason clears by itself or at headquarters.'],
    WORKFLOW_CONFIG: ['The workflow configuration is invalid (e.g. a finger position).', 'Fix the configuration.'],
    GUARD_ERROR: ['Whether the station may enroll could not be checked, so it refuses.', 'Read the message; restart if it persists.'],
    DEVICE_ERROR: ['A device failed with an error that carried no code.', 'Retry; read the log.'],
    OVERRIDE_REFUSED: ['An override was refused (e.g. the same officer tried to co-sign).', 'Ask another officer to enter their id and PIN.'],
    OFFICER_BAD_CREDENTIALS: ['Officer id or PIN is wrong.', 'Retry; the answer says how many attempts remain.'],
    OFFICER_LOCKED: ['The officer is locked out after wrong PINs.', 'Wait until the time given.'],
    OFFICER_RATE_LIMITED: ['Too many login attempts at once.', 'Wait the time given and retry.'],
    OFFICER_CARD_REQUIRED: ['This officer must present their card.', 'Insert the officer card.'],
    OFFICER_CARD_MISMATCH: ['The officer card does not belong to this officer.', 'Use your own card.'],
    OFFICER_BAD_ID: ['The officer id is not valid.', 'Use 1–64 letters, digits, ".", "_" or "-".'],
    OFFICER_BAD_NAME: ['The officer name is empty or too long.', 'Use 1–100 characters.'],
    OFFICER_BAD_PIN: ['The PIN is not a valid length of digits.', 'Choose a PIN of the length given.'],
    OFFICER_BAD_HASH: ['A PIN hash is not in scrypt$N$r$p$salt$hash form.', 'Send hashes made by `hq officer` / `station officer`.'],
    OFFICER_BAD_COMMAND: ['An officer command from headquarters is malformed.', 'Fix the command headquarters sends (shape in the hint).'],
    OFFICER_EXISTS: ['An officer with this id already exists.', 'Remove it first or choose another id.'],
    OFFICER_UNKNOWN: ['No officer with this id.', 'See `station officer list`.'],
    OFFICER_DB: ['The officer store cannot be opened.', 'Check the data directory permissions and disk.'],
    OFFICER_KEY: ['The officer key cannot be read.', 'Make it readable by the station user (0600).'],
    OFFICER_KEY_MISSING: ['The officer key is missing, so no PIN can be checked.', 'Restore it, or provision the officers again.'],
    PROGRESS_DB: ['The progress counters cannot be opened.', 'Check the data directory permissions.'],
    REPEATS_UNAVAILABLE: ['The repeat register cannot be opened, so repeats cannot be checked (refused).', 'Check the data directory permissions and disk.'],
  },
  kiosk: {
    KIOSK_HOST: ['The kiosk host is not a loopback address.', 'The kiosk API binds to 127.0.0.1 only.'],
    KIOSK_LISTEN: ['The kiosk cannot listen on its port.', 'Free the port or change kiosk.port.'],
    KIOSK_ASSETS: ['The kiosk files are not installed.', 'Reinstall the station package.'],
    KIOSK_I18N: ['A kiosk translation file is not valid JSON.', 'Fix the file (part of the station package).'],
    KIOSK_FORBIDDEN_ORIGIN: ['A request did not come from the kiosk page on this station.', 'Use the kiosk page.'],
    KIOSK_METHOD: ['Wrong HTTP method for the path.', 'Use the method the message names.'],
    KIOSK_CONTENT_TYPE: ['The request body is not application/json.', 'Send JSON.'],
    KIOSK_BAD_JSON: ['The request body is not a JSON object.', 'Send a JSON object.'],
    KIOSK_BODY_TOO_LARGE: ['The request body is too large.', 'Send less.'],
    KIOSK_NOT_FOUND: ['No such kiosk path or preview.', 'Check the path.'],
    KIOSK_NO_IMAGE: ['There is no live view now.', 'Start the capture step first.'],
    KIOSK_INTERNAL: ['Internal error in the station; the session is kept.', 'Retry; if it persists restart the station.'],
  },
  uplink: {
    CMD_MALFORMED: ['A command body does not match its schema.', 'Fix the command at headquarters.'],
    CMD_UNSIGNED: ['A command is not signed.', 'Send it with `hq cmd` (signed with the ops key).'],
    CMD_BAD_SIGNATURE: ["A command's signature does not verify with headquarters' ops key.", "Check the station holds headquarters' current identity."],
    CMD_UNKNOWN: ['Unknown command name.', 'Use a command listed by `hq cmd --help`.'],
    CMD_WRONG_TARGET: ['The command is addressed to another station.', 'Send it to the right station.'],
    CMD_BAD_ARGS: ["The command's arguments are invalid.", 'Fix the arguments named in the message.'],
    CMD_EXPIRED: ['The command expired before the station ran it.', 'Send it again.'],
    CMD_NOT_YET_VALID: ['The command was issued in the future by the station clock.', 'Check the station clock.'],
    CMD_NO_TRUSTED_TIME: ['The station has no trusted time, so expiry cannot be judged (refused).', 'Wait for signed time from headquarters.'],
    CMD_REPLAYED: ['The command was already executed.', 'Nothing; send a new command with a fresh id.'],
    CMD_REPLAY_STORE: ["The command's id could not be recorded, so it is refused.", 'Free disk space at the station.'],
    CMD_UNSUPPORTED: ['The station has no handler for commands.', 'Nothing at headquarters; the station runs without command handling.'],
    CMD_HQ_IDENTITY_OLDER: ['The headquarters identity offered is older than the one in use; the current one is kept.', 'Send the newest identity.'],
    CMD_FAILED: ['The command failed at the station without a code.', 'Read the message in the result.'],
  },
  wire: {
    WIRE_ENVELOPE_MALFORMED: ['A sealed record envelope is malformed.', 'Headquarters refuses it; the station keeps the record.'],
    WIRE_BAD_RECORD: ['A record id or field is invalid.', 'Read the field named in the message.'],
    WIRE_ID_MISMATCH: ['Ids inside the ciphertext do not match the header.', 'Treat as tampering; the record is refused.'],
    WIRE_BAD_SIGNATURE: ['The station signature does not verify with any registered key.', "Check the station's key registration (`hq stations`)."],
    WIRE_WRONG_HQ_KEY: ['The record is sealed to a headquarters key this headquarters does not hold.', 'Load the key generation it names.'],
    WIRE_OPEN_FAILED: ['The record could not be opened (decryption failed).', 'Treat as damaged or tampered.'],
    WIRE_SEAL_FAILED: ['HPKE sealing produced an unexpected result.', 'A library fault; report it.'],
  },
  hq: {
    HQ_KEY_EXISTS: ['Headquarters keys already exist.', 'Keep them; add a generation with `hq init --rotate`.'],
    HQ_PRIVATE_KEY_UNREADABLE: ["Headquarters' private keys cannot be read.", 'Fix the path or the permissions (0600).'],
    HQ_PRIVATE_KEY_MALFORMED: ["Headquarters' key file is malformed.", 'Restore it from the key backup.'],
    HQ_PERSON_KEY: ['The person-index key is not a 32-byte base64 key.', 'Restore it from the key backup (a new one would not find earlier repeats).'],
    HQ_PASSWORD_ARGV: ['A broker password was given on the command line, where other users can read it.', 'Use --password-file or HQ_BROKER_PASSWORD.'],
    HQ_PASSWORD_FILE: ['The broker password file cannot be used.', 'Give a file holding the password on its first line (0600).'],
    HQ_BROKER_UNREACHABLE: ['Headquarters cannot connect to the MQTT broker.', 'Check broker.url, credentials and TLS.'],
    HQ_DATABASE: ["Headquarters' database cannot be opened.", 'Check database.url and that PostgreSQL runs, or the SQLite path.'],
    HQ_RECORD_NOT_FOUND: ['The record is not stored at headquarters.', 'Check the id; `hq stations` shows unacknowledged records.'],
    HQ_EXPORT_OPEN_FAILED: ['A record could not be opened for export.', 'Check the record keys and the station keys.'],
    HQ_CAMPAIGN_UNKNOWN: ['No campaign with that id is stored at headquarters.', 'See `hq campaign list`; create it with `hq campaign create`.'],
    HQ_CAMPAIGN_EXISTS: ['A campaign with that id already exists.', 'Choose another id, or use the existing campaign (`hq campaign show ID`).'],
    HQ_CAMPAIGN_OVERLAP: ['The campaign period shares days with another campaign, so the same records would count in both.', 'Choose other days, or add --allow-overlap when both campaigns are meant to count the same records.'],
    HQ_CAMPAIGN_INVALID: ['The campaign definition is not usable (id, name, days or time zone).', 'Fix the named value (days are YYYY-MM-DD, the time zone an IANA name such as Asia/Ho_Chi_Minh).'],
    HQ_UNITS_FILE: ['The units file has bad rows; nothing of it was imported.', 'Fix each listed line (code,name,parent,level[,quotaEnrollments,quotaActivations]) and import again.'],
    HQ_UNIT_UNKNOWN: ['No unit with that code is defined.', 'Import it first with `hq campaign units import`.'],
  },
} as const satisfies Record<string, Record<string, Entry>>;

export type ErrorLayer = keyof typeof ERROR_CODES;
export type ErrorCode = { [L in ErrorLayer]: keyof (typeof ERROR_CODES)[L] }[ErrorLayer];

/** Each code as a constant, for comparisons: `e.code === ERR.HQ_KEY_EXISTS`. */
export const ERR = Object.freeze(Object.fromEntries(
  Object.values(ERROR_CODES).flatMap((g) => Object.keys(g).map((c) => [c, c])),
)) as { readonly [C in ErrorCode]: C };

export const ALL_ERROR_CODES: readonly ErrorCode[] = Object.keys(ERR) as ErrorCode[];

export function isErrorCode(s: unknown): s is ErrorCode {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(ERR, s);
}

export function errorLayer(code: ErrorCode): ErrorLayer {
  for (const [layer, g] of Object.entries(ERROR_CODES)) if (code in g) return layer as ErrorLayer;
  throw new Error(`unreachable: ${code}`);
}

/** docs/errors.md, generated from the table above. */
export function renderErrorDocs(): string {
  const out = [
    '# Error codes',
    '',
    'Generated from `config/error-codes.ts` by `npm run docs:errors`; a test fails when this file and the module differ.',
    'Every error a user sees carries one of these codes (`StationError.code`, the kiosk\'s `error.code`, a command',
    "result's `code`, a vault alert's `code`, an officer login answer's `code`), with a message saying what failed",
    'and, where there is one, a hint saying what to do.',
    '',
  ];
  for (const [layer, g] of Object.entries(ERROR_CODES)) {
    out.push(`## ${layer}`, '', '| Code | Meaning | What to do |', '|---|---|---|');
    for (const [code, [meaning, action]] of Object.entries(g as Record<string, Entry>)) out.push(`| \`${code}\` | ${meaning.replace(/\|/g, '\\|')} | ${action.replace(/\|/g, '\\|')} |`);
    out.push('');
  }
  return out.join('\n');
}
