/**
 * `station doctor`'s TLS and broker checks: the mistakes a technician makes with a
 * production broker (Mosquitto with require_certificate, use_identity_as_username and
 * the per-station ACL, docs/production.md), each reported with the setting and the fix.
 *
 * - client certificate (offline): readable, parses, matches its key, CN = station.id
 *   (the broker knows the station by its CN, and the ACL grants it st/<CN>/… only),
 *   inside its validity window, issued by headquarters.caFile;
 * - broker certificate: fetched without trusting it, then judged — issued by
 *   headquarters.caFile, for the host in the URL, and valid at the station's clock
 *   (a clock before its start is the station's clock, not the broker);
 * - broker: connects, then publishes a probe on st/<id>/probe and must see it arrive
 *   (a broker that refuses it — MQTT 5 PUBACK "not authorized" — is the ACL).
 */
import { randomBytes, X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect as tlsConnect, checkServerIdentity, type PeerCertificate } from 'node:tls';
import type { Config } from '../config';
import { makeTopics } from '../sync/topics';
import { brokerConnectOptions } from './broker-options';
import type { CheckResult } from './doctor';

const DAY = 86_400_000;
/** A certificate this close to its end is a warning: renew it on the next visit. */
export const RENEW_WARN_DAYS = 30;

const PROD = 'docs/production.md';
const isTlsUrl = (url: string): boolean => /^(mqtts|wss):/i.test(url);
const iso = (ms: number): string => new Date(ms).toISOString();

function readPem(file: string): { pem?: Buffer; error?: string } {
  try {
    return { pem: readFileSync(file) };
  } catch (e) {
    return { error: (e as NodeJS.ErrnoException).code ?? (e as Error).message };
  }
}

function parseCert(pem: Buffer): X509Certificate | null {
  try {
    return new X509Certificate(pem);
  } catch {
    return null;
  }
}

/** The subject's CN (what Mosquitto's use_identity_as_username makes the username). */
export function commonName(subject: string): string | null {
  const line = subject.split('\n').find((l) => l.startsWith('CN='));
  return line ? line.slice(3) : null;
}

/** The CA certificates in a PEM bundle. */
function caBundle(pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => parseCert(Buffer.from(b))).filter((c): c is X509Certificate => c !== null);
}

function issuedBy(cert: X509Certificate, cas: X509Certificate[]): boolean {
  return cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
}

/**
 * The station's client certificate, without the network. Null when the station
 * authenticates with a username (no certificate configured and a username set).
 */
export function checkClientCertificate(config: Config, now = Date.now()): CheckResult | null {
  const hq = config.headquarters;
  const id = config.station.id;
  const check = 'client certificate';
  if (!hq.certFile) {
    if (hq.username !== null) return null;
    if (!isTlsUrl(hq.brokerUrl)) return null;
    return {
      check, status: 'fail',
      message: 'headquarters.certFile is not set and no headquarters.username either: a broker with require_certificate refuses this station',
      hint: `Install this booth's certificate (CN=${id}) and key and set headquarters.certFile and headquarters.keyFile (${PROD}, "Per-booth certificates").`,
    };
  }
  if (!hq.keyFile) {
    return { check, status: 'fail', message: `headquarters.certFile is set (${hq.certFile}) but headquarters.keyFile is not`, hint: 'Set headquarters.keyFile to the certificate\'s private key (mode 0600, owned by the station user).' };
  }
  const c = readPem(hq.certFile);
  if (!c.pem) return { check, status: 'fail', message: `headquarters.certFile: cannot read ${hq.certFile}: ${c.error}`, hint: `Copy the booth certificate there, readable by the station user (${PROD}), or fix headquarters.certFile.` };
  const cert = parseCert(c.pem);
  if (!cert) return { check, status: 'fail', message: `headquarters.certFile: ${hq.certFile} is not a PEM certificate`, hint: 'Install the .crt the CA issued for this booth (PEM, "-----BEGIN CERTIFICATE-----").' };
  const k = readPem(hq.keyFile);
  if (!k.pem) return { check, status: 'fail', message: `headquarters.keyFile: cannot read ${hq.keyFile}: ${k.error}`, hint: 'Copy the booth key there (mode 0600, owned by the station user), or fix headquarters.keyFile.' };
  let keyMatches: boolean;
  try {
    keyMatches = cert.checkPrivateKey(createPrivateKey(k.pem));
  } catch {
    return { check, status: 'fail', message: `headquarters.keyFile: ${hq.keyFile} is not a usable private key (PEM, unencrypted)`, hint: 'Install the key made with the certificate request for this booth.' };
  }
  if (!keyMatches) return { check, status: 'fail', message: `headquarters.keyFile ${hq.keyFile} is not the key of headquarters.certFile ${hq.certFile}`, hint: 'The two files come from different requests: install the key this certificate was issued for, or issue a new certificate for the key.' };

  const cn = commonName(cert.subject);
  const details = { subject: cert.subject, issuer: cert.issuer, validFrom: cert.validFrom, validTo: cert.validTo, serial: cert.serialNumber };
  if (cn !== id) {
    const san = cert.subjectAltName ? ` (SAN ${cert.subjectAltName})` : '';
    return {
      check, status: 'fail', details,
      message: `the certificate is for CN=${cn ?? '(none)'}${san}, but station.id is ${id}: the broker knows this booth as "${cn ?? '?'}" (use_identity_as_username) and the ACL drops everything it publishes under st/${id}/`,
      hint: `Issue a certificate with CN=${id} for this booth (${PROD}, "Per-booth certificates"), or set station.id to ${cn ?? 'the CN'} if that is the booth's registered id.`,
    };
  }
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  if (now < from) {
    return { check, status: 'fail', details, message: `the certificate is valid only from ${iso(from)}; the station clock says ${iso(now)}`, hint: 'The station clock is behind (set it: timedatectl set-time, or NTP), or the certificate was issued with a future start date.' };
  }
  if (now > to) {
    return { check, status: 'fail', details, message: `the certificate expired on ${iso(to)} (station clock ${iso(now)})`, hint: `Issue a new certificate for ${id} and install it at headquarters.certFile (${PROD}, "Renewal"); if it should still be valid, the station clock is ahead.` };
  }
  if (hq.caFile) {
    const ca = readPem(hq.caFile);
    const cas = ca.pem ? caBundle(ca.pem) : [];
    if (cas.length && !issuedBy(cert, cas)) {
      return { check, status: 'warn', details, message: `the certificate was issued by ${cert.issuer.replace(/\n/g, ', ')}, not by a CA in headquarters.caFile ${hq.caFile}`, hint: 'Fine if the broker trusts a separate client CA; otherwise the broker refuses it ("unknown ca"): issue it from the fleet CA.' };
    }
  }
  const days = Math.floor((to - now) / DAY);
  if (days < RENEW_WARN_DAYS) return { check, status: 'warn', details, message: `CN=${cn}, expires in ${days} day(s) (${iso(to)})`, hint: `Renew it before then (${PROD}, "Renewal"): an expired certificate stops every upload.` };
  return { check, status: 'ok', details, message: `CN=${cn} = station.id, key matches, valid until ${iso(to)}` };
}

function brokerEndpoint(url: string): { host: string; port: number } {
  const u = new URL(url);
  const def = u.protocol === 'wss:' ? 443 : u.protocol === 'ws:' ? 80 : u.protocol === 'mqtts:' ? 8883 : 1883;
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : def };
}

const UNTRUSTED = new Set(['SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED']);

const dn = (o: PeerCertificate['subject'] | undefined): string => (o ? Object.entries(o).map(([k, v]) => `${k}=${String(v)}`).join(', ') : '?');

/**
 * Fetches the broker's certificate without trusting it and judges it as the station
 * would: headquarters.caFile, the host name, the validity window against this clock.
 */
export async function checkBrokerCertificate(config: Config, now = Date.now(), timeoutMs = 5000): Promise<CheckResult | null> {
  const hq = config.headquarters;
  if (!isTlsUrl(hq.brokerUrl)) return null;
  const check = 'broker certificate';
  const { host, port } = brokerEndpoint(hq.brokerUrl);
  let ca: Buffer | undefined;
  if (hq.caFile) {
    const r = readPem(hq.caFile);
    if (!r.pem) return { check, status: 'fail', message: `headquarters.caFile: cannot read ${hq.caFile}: ${r.error}`, hint: `Install the fleet CA certificate there (${PROD}), readable by the station user.` };
    if (!caBundle(r.pem).length) return { check, status: 'fail', message: `headquarters.caFile: ${hq.caFile} holds no PEM certificate`, hint: 'Install the CA certificate (ca.crt, "-----BEGIN CERTIFICATE-----"), not its key or a request.' };
    ca = r.pem;
  }
  const peer = await new Promise<{ cert?: PeerCertificate; authError?: string; error?: string }>((resolve) => {
    const s = tlsConnect({ host, port, servername: /^[\d.]+$|:/.test(host) ? undefined : host, ca, rejectUnauthorized: false, ALPNProtocols: hq.brokerUrl.startsWith('wss') ? ['http/1.1'] : undefined });
    const timer = setTimeout(() => { s.destroy(); resolve({ error: `no TLS answer from ${host}:${port} within ${timeoutMs} ms` }); }, timeoutMs);
    s.once('secureConnect', () => {
      clearTimeout(timer);
      const cert = s.getPeerCertificate(true);
      const authError = s.authorized ? undefined : String(s.authorizationError);
      s.destroy();
      resolve({ cert: cert && Object.keys(cert).length ? cert : undefined, authError });
    });
    s.once('error', (e) => { clearTimeout(timer); s.destroy(); resolve({ error: e.message }); });
  });
  if (peer.error || !peer.cert) {
    // nothing to judge: the broker check says why it cannot be reached
    return { check, status: 'skip', message: `could not fetch it from ${host}:${port}: ${peer.error ?? 'no certificate presented'}` };
  }
  const c = peer.cert;
  const from = Date.parse(c.valid_from);
  const to = Date.parse(c.valid_to);
  const details = { subject: dn(c.subject), issuer: dn(c.issuer), validFrom: iso(from), validTo: iso(to), fingerprint256: c.fingerprint256 };
  if (now < from) {
    return {
      check, status: 'fail', details,
      message: `the broker's certificate is valid from ${iso(from)}, but the station clock says ${iso(now)}`,
      hint: 'The station clock is behind: set it (timedatectl set-time, or connect for NTP; a Pi without RTC battery loses the time). Records, receipts and commands all carry times.',
    };
  }
  if (now > to) {
    return { check, status: 'fail', details, message: `the broker's certificate expired on ${iso(to)} (station clock ${iso(now)})`, hint: `If the station clock is right, the broker's certificate must be renewed at headquarters (${PROD}, "Renewal"); otherwise the station clock is ahead: set it.` };
  }
  if (peer.authError && UNTRUSTED.has(peer.authError)) {
    const caNames = ca ? caBundle(ca).map((x) => x.subject.replace(/\n/g, ', ')).join('; ') : 'the system CAs';
    return {
      check, status: 'fail', details,
      message: `the broker's certificate (issuer ${details.issuer}) is not signed by headquarters.caFile${hq.caFile ? ` ${hq.caFile}` : ''} (${caNames}) [${peer.authError}]`,
      hint: hq.caFile ? `Install the CA that issued the broker's certificate at headquarters.caFile (the fleet ca.crt, ${PROD}).` : `Set headquarters.caFile to the fleet CA certificate (${PROD}).`,
    };
  }
  if (peer.authError) return { check, status: 'fail', details, message: `the broker's certificate is not accepted: ${peer.authError}`, hint: `Check headquarters.caFile and the broker's certificate (${PROD}).` };
  const nameErr = checkServerIdentity(host, c);
  if (nameErr) {
    return { check, status: 'fail', details, message: `the broker's certificate is not for ${host}: ${nameErr.message}`, hint: `Use the broker name its certificate carries in headquarters.brokerUrl, or reissue the broker certificate with ${host} in its subjectAltName.` };
  }
  const days = Math.floor((to - now) / DAY);
  if (days < RENEW_WARN_DAYS) return { check, status: 'warn', details, message: `issued by ${details.issuer}, expires in ${days} day(s) (${iso(to)})`, hint: 'Tell headquarters: the broker certificate must be renewed before then.' };
  return { check, status: 'ok', details, message: `${details.subject}, issued by ${details.issuer}, valid ${iso(from)} … ${iso(to)}; the station clock is inside` };
}

/** What the broker's TLS alert means for this station, with the setting that fixes it. */
function tlsRefusal(code: string, config: Config): string | null {
  const hq = config.headquarters;
  const id = config.station.id;
  switch (code) {
    case 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED':
      return `The broker requires a client certificate and the station sent none: set headquarters.certFile and headquarters.keyFile to this booth's certificate (CN=${id}) and key (${PROD}, "Per-booth certificates").`;
    case 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA':
      return `The broker does not trust the CA that issued headquarters.certFile${hq.certFile ? ` (${hq.certFile})` : ''}: issue this booth's certificate from the fleet CA the broker's cafile names (${PROD}).`;
    case 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED':
      return `The broker says the client certificate has expired: issue a new one for ${id} (${PROD}, "Renewal"); if it should still be valid, the broker's clock is wrong.`;
    case 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED':
      return `The broker has revoked this booth's certificate (a lost booth is revoked, ${PROD}): if this booth is legitimate, headquarters must issue it a new one.`;
    case 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE':
    case 'ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR':
    case 'ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE':
      return `The broker refused the client certificate: check headquarters.certFile/keyFile belong together and the certificate has extendedKeyUsage clientAuth (${PROD}).`;
    default:
      return null;
  }
}

/** Connects to the broker as the station does, then proves the ACL with a probe it must receive. */
export async function checkBrokerWithProbe(config: Config, timeoutMs = 5000): Promise<CheckResult> {
  const mqtt = await import('mqtt');
  const hq = config.headquarters;
  const url = hq.brokerUrl;
  const check = 'broker';
  let opts;
  try {
    opts = brokerConnectOptions(config, `doctor-${config.station.id}-${process.pid}`);
  } catch (e) {
    return { check, status: 'fail', message: (e as Error).message, hint: (e as { hint?: string }).hint ?? 'Fix the headquarters.* TLS file settings.' };
  }
  const topic = `${makeTopics(hq.topicPrefix).prefix}/st/${config.station.id}/probe`;
  const nonce = randomBytes(12).toString('hex');
  return new Promise((resolve) => {
    const client = mqtt.connect(url, { ...opts, reconnectPeriod: 0, connectTimeout: timeoutMs, clean: true });
    let finished = false;
    const done = (r: CheckResult): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      client.end(true);
      resolve(r);
    };
    let connected = false;
    const timer = setTimeout(() => done(connected
      ? { check, status: 'fail', message: `connected to ${url} and published a probe on ${topic}, but it never came back within ${timeoutMs} ms`, hint: `The ACL lets the station write but not read ${topic}: add "pattern readwrite ${makeTopics(hq.topicPrefix).prefix}/st/%u/probe" to the broker's ACL (${PROD}).` }
      : { check, status: 'fail', message: `no answer from ${url} within ${timeoutMs} ms`, hint: 'Check the network (mobile data / Wi-Fi), the broker URL and the firewall. The station keeps working offline and uploads later.' }), timeoutMs + 500);
    client.on('message', (t, payload) => {
      if (t === topic && payload.toString() === nonce) done({ check, status: 'ok', message: `connected to ${url}; a probe published on ${topic} came back (the broker's ACL lets this station write and read its own topics)` });
    });
    client.on('connect', () => {
      connected = true;
      void (async () => {
        try {
          await client.subscribeAsync(topic, { qos: 1 });
        } catch (e) {
          done({ check, status: 'fail', message: `connected to ${url}, but subscribing to ${topic} was refused: ${(e as Error).message}`, hint: `Give the station read access to its own topics in the broker's ACL (${PROD}).` });
          return;
        }
        try {
          await client.publishAsync(topic, nonce, { qos: 1 });
        } catch (e) {
          const rc = (e as { code?: number }).code;
          const cn = hq.certFile ? certCn(hq.certFile) : null;
          const who = hq.certFile ? `the identity of its certificate (CN=${cn ?? '?'})` : `username ${hq.username ?? '(none)'}`;
          done({
            check, status: 'fail',
            message: `connected to ${url}, but the broker refused to let this station publish on ${topic}${rc !== undefined ? ` (MQTT reason code ${rc}${rc === 135 ? ', not authorized' : ''})` : ''}: everything it publishes would be dropped`,
            hint: cn !== null && cn !== config.station.id
              ? `The broker knows this booth as "${cn}", not ${config.station.id}: issue a certificate with CN=${config.station.id} (${PROD}).`
              : `The broker's ACL does not give ${who} the station's topics: install the ACL from ${PROD} (pattern lines with %u) and check use_identity_as_username.`,
          });
        }
      })();
    });
    client.on('error', (e: Error & { code?: number | string }) => {
      if (typeof e.code === 'string') {
        const refusal = tlsRefusal(e.code, config);
        const tls = /CERT|TLS|SSL|self.signed/i.test(`${e.code} ${e.message}`);
        done({
          check, status: 'fail',
          message: `cannot reach ${url}: ${refusal ? e.code : e.message}`,
          hint: refusal
            ?? (tls ? `The broker's certificate was not accepted: see the "broker certificate" check; headquarters.caFile must be the CA that issued it, and the clock must be right.`
              : 'Check the network (mobile data / Wi-Fi) and the broker URL; the broker may be down. The station keeps working offline and uploads later.'),
        });
        return;
      }
      const code = e.code !== undefined ? ` (MQTT reason code ${e.code})` : '';
      done({ check, status: 'fail', message: `${url} refused the connection: ${e.message}${code}`, hint: 'Check headquarters.username/password or the client certificate, and that headquarters registered this station.' });
    });
  });
}

function certCn(file: string): string | null {
  const r = readPem(file);
  const c = r.pem ? parseCert(r.pem) : null;
  return c ? commonName(c.subject) : null;
}
