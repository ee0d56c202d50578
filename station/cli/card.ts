/**
 * `station card list | read | emulate` — technician commands for chip ID cards
 * and passports (ICAO 9303) on PC/SC readers.
 */
import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { StationError, UsageError } from '../../drivers/common/errors';
import { createCardReader, SimulatedCardReader, type CardReaderDriver } from '../../drivers/card';
import { normaliseCan, type ChipReadResult } from '../../drivers/card/emrtd';
import type { CccdDetails } from '../../drivers/card/cccd';
import { bacInputFromMrz, normaliseBacInput, type BacKeyInput } from '../../drivers/card/mrz';
import { loadCscaStore, type CscaStore } from '../../drivers/card/passive-auth';
import { EmulatedEmrtd, paceInfosFor, type CardFaults } from '../../drivers/card/emulator/card';
import { buildDocument, pem, type ActiveAuthProfile, type ChipAuthProfile } from '../../drivers/card/emulator/document';
import type { SmCipherName } from '../../drivers/card/sm';
import { faceImageInfo } from '../../drivers/card/dg2';
import { VpcdCardClient } from '../../drivers/card/emulator/vpcd';
import { action, intOption, printJson } from './util';

/** Waits until reader/status events stop arriving (the addon reports readers asynchronously). */
function settle(d: CardReaderDriver, quietMs = 300, maxMs = 3000): Promise<void> {
  return new Promise((resolve) => {
    const evs = ['reader-added', 'card-inserted', 'card-removed', 'reader-removed'] as const;
    let quiet: NodeJS.Timeout;
    const done = () => { clearTimeout(quiet); clearTimeout(max); for (const e of evs) d.off(e, bump); resolve(); };
    const bump = () => { clearTimeout(quiet); quiet = setTimeout(done, quietMs); };
    const max = setTimeout(done, maxMs);
    for (const e of evs) d.on(e, bump);
    bump();
  });
}

export function bacFromOptions(o: { mrz?: string; doc?: string; birth?: string; expiry?: string }): BacKeyInput {
  if (o.mrz && (o.doc || o.birth || o.expiry)) throw new UsageError('give either --mrz or --doc/--birth/--expiry, not both');
  if (o.mrz) return bacInputFromMrz(o.mrz);
  if (!o.doc || !o.birth || !o.expiry) {
    throw new UsageError('the chip key needs --mrz "<full MRZ>" or all of --doc NUMBER --birth YYMMDD --expiry YYMMDD',
      'the three fields are printed in the MRZ at the bottom of the photo page / back of the ID card');
  }
  return normaliseBacInput({ documentNumber: o.doc, birthDate: o.birth, expiryDate: o.expiry });
}

/** A JSON summary without the biometric bytes (sizes and formats only). */
export function summarise(r: ChipReadResult, photo?: string): Record<string, unknown> {
  return {
    reader: r.reader,
    atr: r.atr,
    mrz: r.mrz,
    passiveAuth: r.passiveAuth,
    access: r.access,
    clone: r.clone,
    nationalId: r.nationalId ?? null,
    cccd: r.cccd ?? null,
    ...(r.cccdError ? { cccdError: r.cccdError } : {}),
    dataGroupsPresent: r.dataGroupsPresent ?? null,
    files: { com: r.com?.length ?? null, dg1: r.dg1.length, dg2: r.dg2?.length ?? null, dg13: r.dg13?.length ?? null, sod: r.sod.length },
    face: r.face ? { format: r.face.format, width: r.face.width, height: r.face.height, bytes: r.face.raw.length, displayJpegBytes: r.faceJpeg?.length ?? null, note: r.face.note ?? null } : null,
    photo: photo ?? null,
    apduCount: r.apduCount,
    durationMs: r.durationMs,
  };
}

const CCCD_LABELS: [keyof CccdDetails, string][] = [
  ['fullName', 'full name'], ['dateOfBirth', 'born'], ['sexText', 'sex'], ['nationality', 'nationality'], ['ethnicity', 'ethnicity'],
  ['religion', 'religion'], ['placeOfOrigin', 'place of origin'], ['placeOfResidence', 'residence'], ['identifyingMarks', 'marks'],
  ['dateOfIssue', 'issued'], ['dateOfExpiry', 'valid until'], ['fatherName', 'father'], ['motherName', 'mother'], ['spouseName', 'spouse'], ['oldIdNumber', 'old ID number'],
];

function cccdLines(d: CccdDetails): string[] {
  return CCCD_LABELS.filter(([k]) => d[k]).map(([k, label]) => `${`DG13 ${label}:`.padEnd(22)}${String(d[k])}`);
}

export const CHIP_AUTH_SPECS = 'ecdh[:ID][:CIPHER] (ID: 12 13 15 16 17 18, default 13) | dh[:x9.42|pkcs3|standardized][:CIPHER]; CIPHER: 3DES AES-128 AES-192 AES-256 (default AES-128)';

export const ACTIVE_AUTH_SPECS = 'rsa[:1024|2048][:HASH] (default 1024, SHA-1) | ecdsa[:CURVE][:HASH] (CURVE: prime256v1 secp384r1 secp521r1 brainpoolP256r1 brainpoolP384r1 brainpoolP512r1, default prime256v1; HASH default sha256); HASH: sha1 sha224 sha256 sha384 sha512';

/** `--active-auth rsa:2048:sha256` / `ecdsa:brainpoolP384r1:sha384` → the emulator's Active Authentication key. */
export function parseActiveAuth(spec: string): ActiveAuthProfile {
  const [kind, ...rest] = spec.split(':');
  if (kind !== 'rsa' && kind !== 'ecdsa') throw new UsageError(`--active-auth "${spec}": the key is rsa or ecdsa`, ACTIVE_AUTH_SPECS);
  const hashes = ['sha1', 'sha224', 'sha256', 'sha384', 'sha512'];
  const curves = ['prime256v1', 'secp384r1', 'secp521r1', 'brainpoolP256r1', 'brainpoolP384r1', 'brainpoolP512r1'];
  const out: Record<string, unknown> = { kind };
  for (const r of rest) {
    if (hashes.includes(r)) out.hash = r;
    else if (kind === 'rsa' && (r === '1024' || r === '2048')) out.bits = Number(r);
    else if (kind === 'ecdsa' && curves.includes(r)) out.curve = r;
    else throw new UsageError(`--active-auth "${spec}": "${r}" is not understood`, ACTIVE_AUTH_SPECS);
  }
  return out as ActiveAuthProfile;
}

/** `--chip-auth ecdh:12:3DES` / `dh:pkcs3:AES-256` → the emulator's Chip Authentication key. */
export function parseChipAuth(spec: string): ChipAuthProfile {
  const [kind, ...rest] = spec.split(':');
  const ciphers: SmCipherName[] = ['3DES', 'AES-128', 'AES-192', 'AES-256'];
  const out: ChipAuthProfile = { agreement: kind === 'dh' ? 'DH' : 'ECDH' };
  if (kind !== 'dh' && kind !== 'ecdh') throw new UsageError(`--chip-auth "${spec}": the key is ecdh or dh`, CHIP_AUTH_SPECS);
  for (const r of rest) {
    if ((ciphers as string[]).includes(r.toUpperCase())) out.cipher = r.toUpperCase() as SmCipherName;
    else if (kind === 'dh' && (r === 'x9.42' || r === 'pkcs3' || r === 'standardized')) out.dhForm = r;
    else if (kind === 'ecdh' && /^(12|13|15|16|17|18)$/.test(r)) out.parameterId = Number(r);
    else throw new UsageError(`--chip-auth "${spec}": "${r}" is not understood`, CHIP_AUTH_SPECS);
  }
  return out;
}

function parseFaults(list: string[]): CardFaults {
  const f: CardFaults = {};
  for (const item of list) {
    const [k, v] = item.split('=');
    const n = (name: string) => {
      if (v === undefined || !/^(0x[0-9a-f]+|\d+)$/i.test(v)) throw new UsageError(`--fault ${name}=N needs a number, got "${item}"`);
      return Number(v);
    };
    switch (k) {
      case 'slow': f.slowMs = n('slow'); break;
      case 'remove-after': f.removeAfterApdus = n('remove-after'); break;
      case 'corrupt-mac': f.corruptMacAt = n('corrupt-mac'); break;
      case 'tamper-dg': f.tamperDataGroup = n('tamper-dg'); break;
      case 'sw': f.statusWord = { sw: n('sw') }; break;
      case 'get-response': f.getResponse = true; break;
      case 'wrong-le': f.wrongLe = true; break;
      case 'plain-errors': f.plainErrors = true; break;
      case 'remove-at-pace-step': f.removeAtPaceStep = n('remove-at-pace-step'); break;
      case 'bad-pace-token': f.badPaceToken = true; break;
      case 'bad-ca-key': f.badCaKey = true; break;
      case 'bad-cam-data': f.badCamData = true; break;
      case 'bad-aa-signature': f.badAaSignature = true; break;
      default: throw new UsageError(`unknown fault "${item}"`, `faults: ${FAULT_LIST}`);
    }
  }
  return f;
}

const FAULT_LIST = 'slow=MS remove-after=N corrupt-mac=N tamper-dg=N sw=0x6F00 get-response wrong-le plain-errors remove-at-pace-step=N bad-pace-token bad-ca-key bad-cam-data bad-aa-signature';

/** Emulated document profiles for `station card emulate --profile`. */
export const EMULATE_PROFILES = {
  icao: 'ICAO specimen TD1 card, BAC (add --pace for PACE too)',
  cccd: 'Vietnamese citizen card (CCCD 2021): TD1 IDVNM with the 12-digit ID, DG13, PACE with CAN or MRZ and BAC, SELECT MF answers 6D00',
  'cccd-2024': 'Vietnamese "Căn cước" card (2024): as cccd with the 2024 DG13 layout, PACE only',
} as const;

export function register(program: Command): void {
  const card = program.command('card').description('chip ID cards and passports (ICAO 9303) on PC/SC readers');

  card.command('list')
    .description('list PC/SC readers and whether a card is present')
    .option('--json', 'machine-readable output')
    .option('--simulated', 'list the in-process simulated reader instead of PC/SC')
    .action(action(async (opts: { json?: boolean; simulated?: boolean }) => {
      const d = createCardReader(opts.simulated ? { mode: 'simulated', face: false } : { mode: 'pcsc', failIfUnavailable: true });
      await d.open();
      try {
        await settle(d);
        const readers = d.readers();
        if (opts.json) { printJson({ readers }); return; }
        if (readers.length === 0) {
          process.stdout.write('no card readers found (pcscd is running but sees no reader; check the USB cable)\n');
          return;
        }
        for (const r of readers) process.stdout.write(`${r.name}\t${r.cardPresent ? `card present (ATR ${r.atr ?? '?'})` : 'empty'}\n`);
      } finally { await d.close(); }
    }));

  card.command('read')
    .description('read a chip passport / ID card (PACE from EF.CardAccess, else BAC) and check it (passive authentication)')
    .option('--reader <name>', 'reader name or part of it (see `station card list`); /regex/ allowed')
    .option('--mrz <text>', 'the full MRZ (3 lines of 30 or 2 lines of 44; newlines optional)')
    .option('--doc <number>', 'document number')
    .option('--birth <yymmdd>', 'date of birth, YYMMDD')
    .option('--expiry <yymmdd>', 'date of expiry, YYMMDD')
    .option('--can <digits>', 'the 6-digit card access number printed on the card (PACE with the CAN; the MRZ is then optional)')
    .option('--csca <path>', 'CSCA certificate file or directory for passive authentication')
    .option('--photo <file>', 'write the face image here (JPEG; raw JPEG 2000 if it cannot be converted)')
    .option('--wait <seconds>', 'how long to wait for a card on the reader', '20')
    .option('--no-dg2', 'skip the face (DG2)')
    .option('--simulated', 'read the built-in emulated card in process (no pcscd needed)')
    .option('--json', 'machine-readable output')
    .action(action(async (opts: { reader?: string; mrz?: string; doc?: string; birth?: string; expiry?: string; can?: string; csca?: string; photo?: string; wait: string; dg2: boolean; simulated?: boolean; json?: boolean }) => {
      const can = opts.can !== undefined ? normaliseCan(opts.can) : undefined;
      const bac = can && !opts.mrz && !opts.doc && !opts.birth && !opts.expiry ? undefined : bacFromOptions(opts);
      const waitS = intOption('--wait', opts.wait, 0, 3600) ?? 20;
      const csca: CscaStore | undefined = opts.csca ? loadCscaStore(opts.csca) : undefined;
      const d = opts.simulated
        ? createCardReader({ mode: 'simulated' })
        : createCardReader({ mode: 'pcsc', failIfUnavailable: true, readerPattern: opts.reader });
      await d.open();
      try {
        if (!opts.simulated) {
          await settle(d, 200, 2000);
          if (d.readers().length === 0) {
            throw new StationError('CARD_NO_READER', `no card reader${opts.reader ? ` matching "${opts.reader}"` : ''} found`, { hint: 'run `station card list` to see the readers PC/SC knows', exitCode: 1 });
          }
        }
        const info = await d.waitForCard({ timeoutMs: waitS * 1000 });
        let store = csca;
        // The simulated card's own test CSCA: lets technicians see a "valid" verdict end to end (said on stderr).
        if (!store && d instanceof SimulatedCardReader) {
          store = d.testCsca();
          process.stderr.write('note: --simulated checks the chip against the emulator\'s own test CSCA\n');
        } else if (!store) {
          process.stderr.write('note: no --csca given: the chip cannot be authenticated (verdict invalid, no-csca-store)\n');
        }
        const res = await d.readDocument({ reader: info.name, ...(bac ? { bac } : {}), ...(can ? { can } : {}), csca: store, readDg2: opts.dg2 });
        let photo: string | undefined;
        if (opts.photo) {
          const img = res.faceJpeg ?? res.face?.raw;
          if (!img) throw new StationError('CARD_NO_FACE', `the chip on ${res.reader} holds no face image (DG2)`, { hint: 'run without --photo' });
          writeFileSync(opts.photo, img, { mode: 0o600 });
          photo = opts.photo;
        }
        if (opts.json) { printJson(summarise(res, photo)); }
        else {
          const m = res.mrz;
          const out = [
            `reader:        ${res.reader}`,
            `document:      ${m.documentCode ?? '?'} ${m.documentNumber ?? '?'} (${m.format}, issued by ${m.issuingState ?? m.lines[0]?.slice(2, 5) ?? '?'})`,
            `name:          ${m.lastName ?? ''}, ${m.firstName ?? ''}`,
            `born / sex:    ${m.birthDate ?? '?'} / ${m.sex ?? '?'}`,
            `expires:       ${m.expirationDate ?? '?'}`,
            `access:        ${res.access.protocol} with the ${res.access.password}${res.access.protocol === 'PACE' ? ` (${res.access.agreement}-${res.access.mapping}, ${res.access.cipher}, ${res.access.domain})` : ''}${res.access.note ? ` — ${res.access.note}` : ''}`,
            res.nationalId ? `ID number:     ${res.nationalId}` : '',
            ...(res.cccd ? cccdLines(res.cccd) : []),
            res.cccdError ? `DG13:          not decoded — ${res.cccdError.message}` : '',
            `face:          ${res.face ? `${res.face.format} ${res.face.width}×${res.face.height}, ${res.face.raw.length} bytes${res.face.note ? ` — ${res.face.note}` : ''}` : 'not read'}`,
            `clone check:   ${res.clone.verdict.toUpperCase()}${res.clone.method ? ` (${res.clone.method})` : ''}${res.clone.reason ? ` — ${res.clone.reason} [${res.clone.reasonCode}]` : ''}`,
            `authenticity:  ${res.passiveAuth.verdict.toUpperCase()}${res.passiveAuth.reason ? ` — ${res.passiveAuth.reason} [${res.passiveAuth.reasonCode}]` : ''}`,
            photo ? `photo written: ${photo}` : '',
            `(${res.apduCount} APDUs, ${res.durationMs} ms)`,
          ].filter(Boolean);
          process.stdout.write(`${out.join('\n')}\n`);
        }
        // Fails closed for scripts too: anything but a proven-genuine chip exits 1 (a failed clone check included).
        return res.passiveAuth.verdict === 'valid' && res.clone.verdict !== 'failed' ? 0 : 1;
      } finally { await d.close(); }
    }));

  card.command('emulate')
    .description('run the eMRTD card emulator on a vpcd virtual reader (pcscd with vsmartcard-vpcd) until Ctrl-C')
    .option('--mrz <text>', 'the MRZ of the emulated document (default: a TD1 specimen)')
    .option('--port <n>', 'vpcd port: 35963 = "Virtual PCD 00 00", 35964 = "Virtual PCD 00 01"', '35963')
    .option('--host <host>', 'where pcscd with vpcd runs', '127.0.0.1')
    .option('--face <file>', 'JPEG or JPEG 2000 face image for DG2 (default: a synthetic ~20 KB JPEG)')
    .option('--csca-out <file>', 'write the generated CSCA certificate (PEM) here, for `card read --csca`')
    .option('--extended', 'announce and accept extended-length APDUs')
    .option('--profile <name>', `document profile: ${Object.entries(EMULATE_PROFILES).map(([k, v]) => `${k} = ${v}`).join('; ')}`, 'icao')
    .option('--pace', 'speak PACE (EF.CardAccess) besides BAC (implied by the cccd profiles)')
    .option('--pace-only', 'PACE only: BAC (GET CHALLENGE / MUTUAL AUTHENTICATE) answers 6D00')
    .option('--can <digits>', 'the card access number (default for cccd profiles: the last 6 digits of the ID number; icao with --pace: 123456)')
    .option('--pace-mapping <mapping>', 'PACE mapping the chip offers: GM (Generic), IM (Integrated), CAM (Chip Authentication Mapping, with a DG14 key); implies --pace', 'GM')
    .option('--pace-dh', 'PACE over the 1024-bit DH group (RFC 5114) instead of brainpoolP256r1 (GM or IM)')
    .option('--pace-retries <n>', 'PACE retry counter per password (63Cx; the MRZ is suspended at 1 until a PACE with the CAN, blocked at 0)')
    .option('--chip-auth <key>', `a Chip Authentication key in DG14: ${CHIP_AUTH_SPECS}`)
    .option('--active-auth <key>', `an Active Authentication key in DG15: ${ACTIVE_AUTH_SPECS} (RSA-2048 needs --extended)`)
    .option('--fault <spec...>', `fault modes: ${FAULT_LIST}`)
    .action(action(async (opts: { mrz?: string; port: string; host: string; face?: string; cscaOut?: string; extended?: boolean; profile: string; pace?: boolean; paceOnly?: boolean; can?: string; paceMapping: string; paceDh?: boolean; paceRetries?: string; chipAuth?: string; activeAuth?: string; fault?: string[] }) => {
      const port = intOption('--port', opts.port, 1, 65535)!;
      const mapping = opts.paceMapping.toUpperCase();
      if (mapping !== 'GM' && mapping !== 'IM' && mapping !== 'CAM') throw new UsageError(`unknown PACE mapping "${opts.paceMapping}"`, 'use --pace-mapping GM, IM or CAM');
      if (mapping === 'CAM' && opts.paceDh) throw new UsageError('Chip Authentication Mapping is defined for ECDH only', 'leave out --pace-dh, or use --pace-mapping GM or IM');
      const retries = opts.paceRetries !== undefined ? intOption('--pace-retries', opts.paceRetries, 1, 15) : undefined;
      if (!Object.prototype.hasOwnProperty.call(EMULATE_PROFILES, opts.profile)) {
        throw new UsageError(`unknown profile "${opts.profile}"`, `profiles: ${Object.keys(EMULATE_PROFILES).join(', ')}`);
      }
      const profile = opts.profile as keyof typeof EMULATE_PROFILES;
      const cccdProfile = profile !== 'icao';
      if (cccdProfile && opts.mrz) throw new UsageError('--mrz does not go with a cccd profile (its MRZ is made from the specimen holder)', 'leave out --mrz, or use --profile icao');
      const canOpt = opts.can !== undefined ? normaliseCan(opts.can) : undefined;
      const faults = parseFaults(opts.fault ?? []);
      const chipAuth = opts.chipAuth !== undefined ? parseChipAuth(opts.chipAuth) : undefined;
      const activeAuth = opts.activeAuth !== undefined ? parseActiveAuth(opts.activeAuth) : undefined;
      let face: { image: Buffer; width: number; height: number; format: 'jpeg' | 'jpeg2000' } | undefined;
      if (opts.face) {
        const { readFileSync } = await import('node:fs');
        let image: Buffer;
        try {
          image = readFileSync(opts.face);
        } catch (e) {
          throw new UsageError(`--face ${opts.face}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'give the path of a JPEG or JPEG 2000 face image');
        }
        // DG2 records the image size: JPEG through sharp, JPEG 2000 from its SIZ marker.
        let info: Awaited<ReturnType<typeof faceImageInfo>>;
        try {
          info = await faceImageInfo(image);
        } catch (e) {
          throw new UsageError(`--face ${opts.face}: not a readable JPEG or JPEG 2000 image (${(e as Error).message})`, 'give a JPEG (FF D8 …) or a JPEG 2000 file (JP2 or raw codestream)');
        }
        const { width, height, format } = info;
        face = { image, width, height, format };
      }
      if (opts.mrz) bacInputFromMrz(opts.mrz); // validates the MRZ shape with a clear usage error
      const doc = await buildDocument({
        mrz: opts.mrz, face, ...(chipAuth ? { chipAuth } : mapping === 'CAM' ? { chipAuth: true } : {}), ...(activeAuth ? { activeAuth } : {}),
        ...(cccdProfile ? { cccd: { generation: profile === 'cccd-2024' ? '2024' : '2021', ...(canOpt ? { can: canOpt } : {}) } } : {}),
      });
      if (opts.cscaOut) writeFileSync(opts.cscaOut, pem(doc.pki.csca.cert));
      const paceOn = cccdProfile || opts.pace || opts.paceOnly || canOpt !== undefined || mapping !== 'GM' || opts.paceDh === true || retries !== undefined;
      const can = paceOn ? (doc.can ?? canOpt ?? '123456') : undefined;
      const chip = new EmulatedEmrtd({
        files: doc.files, mrzLines: doc.mrzLines, faults, extendedLength: opts.extended, noMfSelect: cccdProfile, chipKeys: doc.chipKeys,
        ...(paceOn ? { pace: { can, only: profile === 'cccd-2024' || opts.paceOnly === true, infos: paceInfosFor(mapping, opts.paceDh ? 'DH' : 'ECDH'), ...(retries !== undefined ? { retries } : {}) } } : {}),
      });
      const emu = new VpcdCardClient(chip, { host: opts.host, port });
      try { await emu.insert(); } catch (e) {
        throw new StationError('CARD_VPCD_UNREACHABLE', `cannot reach vpcd at ${opts.host}:${port}: ${(e as Error).message}`, { hint: 'install vsmartcard-vpcd and start pcscd (systemctl start pcscd)', cause: e });
      }
      process.stdout.write(`emulated card inserted on vpcd ${opts.host}:${port} (profile ${profile}${paceOn ? `, PACE${mapping !== 'GM' || opts.paceDh ? ` ${opts.paceDh ? 'DH' : 'ECDH'}-${mapping}` : ''}${opts.paceOnly || profile === 'cccd-2024' ? ' only' : ' and BAC'}` : ', BAC'})\nMRZ:\n${doc.mrzLines.join('\n')}\n${can ? `CAN: ${can}\n` : ''}${chipAuth ? `Chip Authentication: ${chipAuth.agreement}${chipAuth.dhForm ? ` ${chipAuth.dhForm}` : ''} ${chipAuth.cipher ?? 'AES-128'}\n` : ''}${activeAuth ? `Active Authentication: ${opts.activeAuth}\n` : ''}${opts.cscaOut ? `CSCA certificate: ${opts.cscaOut}\n` : ''}press Ctrl-C to remove it\n`);
      await new Promise<void>((resolve) => {
        const stop = () => { process.off('SIGINT', stop); process.off('SIGTERM', stop); resolve(); };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
        emu.on('removed', (why: string) => {
          if (why === 'connection closed') { process.stderr.write('vpcd closed the connection (pcscd stopped?)\n'); stop(); }
          if (why === 'fault mode') {
            // remove-after: the card was pulled mid-read; put it back (without that fault) so the retry can work.
            process.stdout.write('card pulled away (fault remove-after); putting it back in 2 s\n');
            chip.setFaults({ ...chip.faults, removeAfterApdus: undefined });
            setTimeout(() => { emu.insert().catch((e: Error) => { process.stderr.write(`cannot put the card back: ${e.message}\n`); stop(); }); }, 2000).unref();
          }
        });
      });
      await emu.remove();
    }));
}
