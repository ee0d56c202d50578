/**
 * The station's configuration schema (JSON Schema draft 2020-12 subset, checked by ajv).
 * Everything else derives from it: defaults, environment overrides, the README's
 * configuration reference, and error messages. Each property carries a
 * `description`; `x-secret: true` marks values redacted by `station config show`.
 */

import { FINGER_POSITIONS, STATION_ID_PATTERN, STATION_ID_RULE, SUITE_NAMES, type FingerPosition, type SuiteName } from './domain';

export const CONFIG_VERSION = 1;

export const FINGERPRINT_MODELS = ['r307', 'r503', 'as608', 'zfm20', 'gt521f32', 'gt521f52'] as const;
export const CAMERA_BACKENDS = ['rpicam', 'v4l2'] as const;
/** Every suite the wire format defines (config/domain.ts SUITE_NAMES). */
export const VAULT_SUITES = SUITE_NAMES;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const R30X_BAUDS = [9600, 19200, 28800, 38400, 48000, 57600, 67200, 76800, 86400, 96000, 105600, 115200];
export const GT_BAUDS = [9600, 19200, 38400, 57600, 115200];

const pin = (description: string, dflt: number | null) => ({
  type: ['integer', 'null'],
  minimum: 0,
  maximum: 1023,
  default: dflt,
  description: `${description} (BCM number on the 40-pin header; null = not wired)`,
});

/** The Ajv options the configuration is validated with (config/index.ts, and tools/config-validator.mjs that precompiles it). */
export const CONFIG_AJV_OPTIONS = { allErrors: true, useDefaults: true, strict: false, verbose: true } as const;

export const configSchema = {
  $id: 'https://enroll-station.invalid/config.schema.json',
  type: 'object',
  additionalProperties: false,
  required: ['version', 'station'],
  properties: {
    version: {
      type: 'integer',
      const: CONFIG_VERSION,
      description: `Configuration format version. Older files are migrated on load; current: ${CONFIG_VERSION}.`,
    },
    station: {
      type: 'object',
      additionalProperties: false,
      required: ['id', 'unit'],
      description: 'Who this station is and where it works.',
      properties: {
        id: {
          type: 'string',
          pattern: STATION_ID_PATTERN,
          description: `Station id as registered at headquarters (${STATION_ID_RULE}). Used in MQTT topics and in every record.`,
        },
        campaign: {
          type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', default: 'default',
          description: 'The enrollment campaign this station works for. The repeat register (keyed hashes of the national ID numbers enrolled here, to warn about a person enrolled twice) belongs to the campaign: its key and hashes are erased when this changes.',
        },
        unit: {
          type: 'object',
          additionalProperties: false,
          required: ['code'],
          description: 'The administrative unit (ward/commune) the station currently serves.',
          properties: {
            code: { type: 'string', minLength: 1, maxLength: 32, description: 'Administrative unit code (ward/commune), e.g. "00004".' },
            name: { type: 'string', default: '', description: 'Human-readable unit name, e.g. "Phường Ba Đình".' },
            district: { type: 'string', default: '', description: 'District (quận/huyện) the unit belongs to.' },
            dailyQuota: { type: 'integer', minimum: 0, default: 0, description: 'Campaign quota of enrollments per day for this unit (0 = none); reported in health.' },
          },
        },
      },
    },
    consent: {
      type: 'object',
      additionalProperties: false,
      required: ['version', 'text'],
      description: 'The consent text the person reads and confirms on the touchscreen before anything is captured; its version, language, SHA-256 and the time are sealed into the record. The daemon does not start without it (`station doctor` and `station config check` say so); config/station.example.yaml has a sample to replace with the programme\'s own text.',
      properties: {
        version: { type: 'string', minLength: 1, maxLength: 64, description: 'Version of the text as the programme issued it, e.g. "2026-12"; change it whenever the text changes.' },
        text: {
          type: 'object',
          additionalProperties: false,
          required: ['vi'],
          description: 'The text per language (plain text; blank lines separate paragraphs).',
          properties: {
            vi: { type: 'string', minLength: 20, maxLength: 20000, description: 'Vietnamese text (required).' },
            en: { type: 'string', minLength: 20, maxLength: 20000, description: 'English text (optional).' },
          },
        },
      },
    },
    dataDir: {
      type: 'string',
      minLength: 1,
      default: '/var/lib/enroll-station',
      description: 'Data directory: vault database, keys, officer store. Must be owned by the station user and not group/world writable.',
    },
    log: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        level: { enum: [...LOG_LEVELS], default: 'info', description: 'Log level. Logs are JSON on stdout (journald); pretty when stdout is a terminal.' },
      },
    },
    kiosk: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'The officer touchscreen page, served on loopback only.',
      properties: {
        port: { type: 'integer', minimum: 0, maximum: 65535, default: 8080, description: 'TCP port on 127.0.0.1 (0 = any free port).' },
        language: { enum: ['vi', 'en'], default: 'vi', description: 'Default language of the kiosk page.' },
        idleLogoutSeconds: { type: 'integer', minimum: 30, maximum: 86400, default: 300, description: 'An idle officer session is logged out after this many seconds.' },
        loginLifetimeMinutes: { type: 'integer', minimum: 5, maximum: 1440, default: 240, description: 'An officer login ends after this many minutes however active it is; a person\'s session in progress may still be finished (at most 30 minutes more), then the officer logs in again.' },
      },
    },
    officers: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Officer login: PIN policy, lockout and the station-wide rate limit.',
      properties: {
        pinMinLength: { type: 'integer', minimum: 6, maximum: 16, default: 6, description: 'Shortest PIN (digits) `station officer add` and `hash-pin` accept; PINs are at most 16 digits.' },
        maxFailures: { type: 'integer', minimum: 1, maximum: 20, default: 5, description: 'Wrong PINs in a row after which the officer is locked (the right PIN is refused too until the lock ends or `station officer unlock`).' },
        lockoutSeconds: { type: 'integer', minimum: 10, maximum: 86400, default: 300, description: 'First lock duration; every further wrong PIN past the limit doubles it (at most 24 h).' },
        rateLimitAttempts: { type: 'integer', minimum: 1, maximum: 1000, default: 20, description: 'At most this many PIN checks on the station (all officer ids together) per rate-limit window; past it every login is refused without a check.' },
        rateLimitWindowSeconds: { type: 'integer', minimum: 1, maximum: 86400, default: 300, description: 'Length of the sliding rate-limit window in seconds.' },
      },
    },
    devices: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Each device may be `simulated: true` (the demo, or a booth missing that part).',
      properties: {
        fingerprint: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            simulated: { type: 'boolean', default: false, description: 'Use the built-in protocol simulator on a pseudo-terminal instead of hardware.' },
            model: { enum: [...FINGERPRINT_MODELS], default: 'r307', description: 'Scanner model; selects the protocol family and per-model tables.' },
            port: { type: 'string', default: '/dev/serial0', description: 'Serial device. Prefer the stable udev name /dev/enroll-fingerprint or /dev/serial/by-id/….' },
            baud: { type: 'integer', enum: [...new Set([...R30X_BAUDS, ...GT_BAUDS])], default: 57600, description: 'Line speed the module is set to (R30x default 57600, GT-521Fxx default 9600).' },
            password: { type: 'integer', minimum: 0, maximum: 4294967295, default: 0, 'x-secret': true, description: 'R30x module password (VfyPwd), when one was set with SetPwd; 0 = the factory default.' },
            upgradeBaud: { type: ['integer', 'null'], default: null, description: 'Optionally move the module to this faster baud after verifying it; falls back on checksum errors.' },
            qualityThreshold: { type: 'integer', minimum: 0, maximum: 100, default: 40, description: 'Minimum quality score (0–100) for a capture to be accepted without retry.' },
            maxAttempts: { type: 'integer', minimum: 1, maximum: 10, default: 3, description: 'Capture attempts per finger before the officer must record an exception.' },
            positions: {
              type: 'array',
              items: { type: 'integer', minimum: Math.min(...FINGER_POSITIONS), maximum: Math.max(...FINGER_POSITIONS) },
              minItems: 1,
              uniqueItems: true,
              default: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
              description: 'Finger positions to capture (ISO/IEC 19794-4 codes: 1 right thumb … 5 right little, 6 left thumb … 10 left little).',
            },
          },
        },
        camera: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            simulated: { type: 'boolean', default: false, description: 'Use the built-in synthetic portrait camera.' },
            backend: { enum: [...CAMERA_BACKENDS], default: 'rpicam', description: '`rpicam` (Raspberry Pi camera via rpicam-still/libcamera-still) or `v4l2` (USB camera via ffmpeg).' },
            device: { type: 'string', default: '/dev/video0', description: 'V4L2 device for the `v4l2` backend.' },
            timeoutMs: { type: 'integer', minimum: 1000, maximum: 60000, default: 8000, description: 'A capture that takes longer is killed and reported.' },
            portraitWidth: { type: 'integer', minimum: 120, maximum: 2000, default: 480, description: 'Final portrait width in pixels.' },
            portraitHeight: { type: 'integer', minimum: 160, maximum: 2600, default: 640, description: 'Final portrait height in pixels (width:height is the ID-photo ratio).' },
            maxJpegBytes: { type: 'integer', minimum: 10000, maximum: 2000000, default: 120000, description: 'Byte budget of the final portrait JPEG.' },
          },
        },
        card: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            simulated: { type: 'boolean', default: false, description: 'Use the built-in eMRTD card emulator in process instead of PC/SC.' },
            reader: { type: 'string', default: '', description: 'Substring or /regex/ of the PC/SC reader name to use (empty = first reader).' },
            cscaDir: { type: ['string', 'null'], default: null, description: 'Directory of trusted CSCA certificates (PEM/DER) and CRLs (.crl) for passive authentication. Required unless the card is simulated: without it every chip is refused (no-csca-store).' },
          },
        },
        gpio: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            simulated: { type: 'boolean', default: false, description: 'Use the GPIO simulator (demo, benches). `false`: real GPIO or the daemon refuses to start (GPIO_UNAVAILABLE), locked and reported to headquarters.' },
            lineBase: {
              anyOf: [{ const: 'auto' }, { type: 'integer', minimum: 0, maximum: 4096 }],
              default: 'auto',
              description: 'Added to every pin number to get the sysfs line. `auto`: the base of the SoC\'s GPIO chip (512 on a Pi 4, 571 on a Pi 5 with kernel 6.6+; 0 on older kernels), so pins stay BCM numbers.',
            },
            pins: {
              type: 'object',
              additionalProperties: false,
              default: {},
              properties: {
                ready: pin('Green "ready" LED', 17),
                busy: pin('Yellow "busy" LED', 27),
                error: pin('Red "error" LED', 22),
                syncing: pin('Blue "syncing" LED', 23),
                buzzer: pin('Active buzzer', 24),
                button: pin('Capture push button (to ground, internal pull-up)', 25),
                tamper: pin('Tamper switch (closed = case shut)', 5),
                fingerTouch: pin('Fingerprint module touch/wake output', null),
              },
            },
          },
        },
        power: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            enabled: { type: 'boolean', default: false, description: 'Watch a battery or UPS HAT (Linux power_supply). Off: the booth is taken to be on mains and nothing about power is decided.' },
            simulated: { type: 'boolean', default: false, description: 'Read a simulated battery (a power_supply tree the simulator writes; demo, benches).' },
            root: { type: 'string', default: '/sys/class/power_supply', description: 'The power_supply directory (a test or a UPS HAT driver may put its tree elsewhere).' },
            battery: { type: ['string', 'null'], default: null, description: 'The battery node (e.g. BAT0); null: the first node of type Battery.' },
            lowPercent: { type: 'integer', minimum: 1, maximum: 90, default: 20, description: 'On battery below this capacity the kiosk warns and new enrollments are refused (the one in progress can still be confirmed and sealed).' },
            criticalPercent: { type: 'integer', minimum: 0, maximum: 50, default: 5, description: 'At or below this (two readings in a row) the station finishes its write and stops cleanly, the vault closed.' },
            pollSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 30, description: 'How often the battery is read (five times as often while low).' },
          },
        },
      },
    },
    headquarters: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'The headquarters MQTT broker and keys.',
      properties: {
        brokerUrl: { type: 'string', pattern: '^(mqtts?|wss?)://', default: 'mqtts://hq.invalid:8883', description: 'Broker URL: mqtts:// or wss:// (TLS). mqtt:// and ws:// are refused unless allowInsecureBroker is true.' },
        allowInsecureBroker: { type: 'boolean', default: false, description: 'Accept a broker URL without TLS (mqtt://, ws://) — a lab bench only: records stay sealed and signed, but broker credentials, commands and health travel in clear. Logged as a warning at every start.' },
        username: { type: ['string', 'null'], default: null, description: 'Broker username (when not using a client certificate).' },
        password: { type: ['string', 'null'], default: null, 'x-secret': true, description: 'Broker password.' },
        caFile: { type: ['string', 'null'], default: null, description: 'CA certificate (PEM) that signed the broker certificate.' },
        certFile: { type: ['string', 'null'], default: null, description: 'This station\'s client certificate (PEM).' },
        keyFile: { type: ['string', 'null'], default: null, description: 'Private key of the client certificate (PEM, mode 0600).' },
        publicKeyFile: { type: 'string', default: '/etc/enroll-station/hq-public.json', description: 'Headquarters public identity (from `hq init`): sealing, receipt and ops keys.' },
        topicPrefix: { type: 'string', pattern: '^[A-Za-z0-9_/-]+$', default: 'enroll/v1', description: 'Versioned topic namespace.' },
        healthIntervalSeconds: { type: 'integer', minimum: 10, maximum: 86400, default: 300, description: 'Period of the retained health message.' },
        maxBatchRecords: { type: 'integer', minimum: 1, maximum: 1000, default: 20, description: 'Most records per upload batch.' },
        maxClockSkewMinutes: { type: 'integer', minimum: 1, maximum: 1440, default: 5, description: "A local clock further than this from headquarters' signed time is shown to the officer (kiosk banner) and flagged in health (`clock.skewed`)." },
      },
    },
    vault: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        suite: { enum: [...VAULT_SUITES], default: 'x25519-chacha20poly1305', description: 'HPKE suite records are sealed with; the `xwing-` suites are the post-quantum hybrid (X25519 + ML-KEM-768).' },
        reserveMb: { type: 'integer', minimum: 1, default: 512, description: 'Free space that must remain on the data disk; below it new enrollments are refused.' },
        retentionDays: { type: 'integer', minimum: 0, default: 90, description: 'Days to keep metadata and receipts of released records.' },
      },
    },
    policy: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Offline limits (headquarters can change them with a signed `set-policy` command).',
      properties: {
        maxUnacknowledged: { type: 'integer', minimum: 1, default: 5000, description: 'Past this many records not yet acknowledged, new enrollments are refused.' },
        maxDaysSinceReceipt: { type: 'integer', minimum: 1, default: 14, description: 'Past this many days without a receipt from headquarters, new enrollments are refused.' },
      },
    },
  },
} as const;

export type FingerprintModel = (typeof FINGERPRINT_MODELS)[number];
export type VaultSuite = SuiteName;

export interface Pins {
  ready: number | null; busy: number | null; error: number | null; syncing: number | null;
  buzzer: number | null; button: number | null; tamper: number | null; fingerTouch: number | null;
}

/** The validated configuration, with every default filled in. */
export interface Config {
  version: number;
  station: { id: string; campaign: string; unit: { code: string; name: string; district: string; dailyQuota: number } };
  /** Required to run the daemon (preflight), optional in the schema so that tools can read a file without it. */
  consent?: { version: string; text: { vi: string; en?: string } };
  dataDir: string;
  log: { level: (typeof LOG_LEVELS)[number] };
  kiosk: { port: number; language: 'vi' | 'en'; idleLogoutSeconds: number; loginLifetimeMinutes: number };
  officers: { pinMinLength: number; maxFailures: number; lockoutSeconds: number; rateLimitAttempts: number; rateLimitWindowSeconds: number };
  devices: {
    fingerprint: { simulated: boolean; model: FingerprintModel; port: string; baud: number; password: number; upgradeBaud: number | null; qualityThreshold: number; maxAttempts: number; positions: FingerPosition[] };
    camera: { simulated: boolean; backend: (typeof CAMERA_BACKENDS)[number]; device: string; timeoutMs: number; portraitWidth: number; portraitHeight: number; maxJpegBytes: number };
    card: { simulated: boolean; reader: string; cscaDir: string | null };
    gpio: { simulated: boolean; lineBase: 'auto' | number; pins: Pins };
    power: { enabled: boolean; simulated: boolean; root: string; battery: string | null; lowPercent: number; criticalPercent: number; pollSeconds: number };
  };
  headquarters: {
    brokerUrl: string; allowInsecureBroker: boolean; username: string | null; password: string | null; caFile: string | null; certFile: string | null; keyFile: string | null;
    publicKeyFile: string; topicPrefix: string; healthIntervalSeconds: number; maxBatchRecords: number; maxClockSkewMinutes: number;
  };
  vault: { suite: VaultSuite; reserveMb: number; retentionDays: number };
  policy: { maxUnacknowledged: number; maxDaysSinceReceipt: number };
}
