/**
 * Test PKI made with the `openssl` command line in a test's own directory: a CA, and
 * certificates it issues with any validity window (`openssl ca -startdate/-enddate`, so
 * expired and not-yet-valid certificates can be made without touching the clock).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function openssl(args: string[], cwd: string): string {
  return execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

/** openssl's time format for -startdate/-enddate: YYYYMMDDHHMMSSZ. */
export function asn1Time(ms: number): string {
  return `${new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

export interface Ca { dir: string; name: string; crt: string; key: string }

/** A self-signed P-256 CA `<name>.crt` / `<name>.key` in `dir`. */
export function makeCa(dir: string, name: string, cn = name): Ca {
  mkdirSync(dir, { recursive: true });
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '800', '-subj', `/CN=${cn}`], dir);
  return { dir, name, crt: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

export interface IssueOptions {
  /** subject CN */
  cn: string;
  /** 'server' (SAN IP:127.0.0.1, serverAuth) or 'client' (clientAuth) */
  kind: 'server' | 'client';
  /** validity window, ms since the epoch (default: an hour ago → 400 days ahead) */
  notBefore?: number;
  notAfter?: number;
}

/** Issues `<name>.crt` / `<name>.key` from `ca`; returns their paths. */
export function issue(ca: Ca, name: string, o: IssueOptions): { crt: string; key: string } {
  const dir = ca.dir;
  const db = join(dir, `${ca.name}-db`);
  mkdirSync(join(db, 'new'), { recursive: true });
  writeFileSync(join(db, 'index.txt'), '', { flag: 'a' });
  const ext = o.kind === 'server' ? 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' : 'extendedKeyUsage=clientAuth\n';
  writeFileSync(join(dir, `${name}.cnf`), [
    '[ca]', 'default_ca = test', '[test]', `dir = ${db}`, 'database = $dir/index.txt', 'new_certs_dir = $dir/new',
    `certificate = ${ca.crt}`, `private_key = ${ca.key}`, 'default_md = sha256', 'policy = any', 'unique_subject = no',
    'copy_extensions = none', 'x509_extensions = ext', 'rand_serial = yes', '[any]', 'commonName = supplied', '[ext]', ext,
  ].join('\n'));
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${o.cn}`], dir);
  const now = Date.now();
  openssl(['ca', '-batch', '-config', `${name}.cnf`, '-in', `${name}.csr`, '-out', `${name}.crt`, '-notext',
    '-startdate', asn1Time(o.notBefore ?? now - 3600_000), '-enddate', asn1Time(o.notAfter ?? now + 400 * 86400_000)], dir);
  return { crt: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}
