/**
 * Test harness: a real, throwaway PostgreSQL cluster (Debian `postgresql`,
 * /usr/lib/postgresql/<major>/bin) in its own temporary directory, listening on a
 * free loopback port and on a unix socket in that directory, started and stopped
 * by the harness. Nothing of the machine's own PostgreSQL service is used.
 *
 * initdb and postgres refuse to run as root, and CI runs as root: then the
 * cluster runs as the `postgres` system user the Debian package creates (or
 * `nobody` when there is none), through util-linux `setpriv`, and its directory
 * is handed to that user. The connecting role is the cluster's superuser,
 * `postgres`, authenticated by password over TCP (scram-sha-256) so the tests
 * exercise the same path production does.
 *
 * Can be stopped (fast shutdown: clients are cut off, connections refused) and
 * started again on the same port and data, so tests can watch a worker lose its
 * database and get it back.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort } from './mosquitto';

/** Directory of the PostgreSQL server binaries: $PG_BIN, else the newest /usr/lib/postgresql/N/bin. */
export function pgBinDir(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const m of majors) if (existsSync(join(root, m, 'bin', 'initdb'))) return join(root, m, 'bin');
  throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: install the Debian package `postgresql` (bash .ci/install-debian-packages), or set PG_BIN');
}

/** The unprivileged user the cluster runs as when we are root (null: run as ourselves). */
function runAsUser(): { name: string; uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  for (const name of ['postgres', 'nobody']) {
    const r = spawnSync('getent', ['passwd', name], { encoding: 'utf8' });
    if (r.status !== 0) continue;
    const f = r.stdout.trim().split(':');
    return { name, uid: Number(f[2]), gid: Number(f[3]) };
  }
  throw new Error('running as root and neither a `postgres` nor a `nobody` user exists to run PostgreSQL as (initdb refuses root)');
}

export interface PostgresOptions {
  /** Extra postgresql.conf lines. */
  extra?: string[];
}

export class Postgres {
  readonly dir: string;
  readonly dataDir: string;
  readonly password = randomBytes(12).toString('hex');
  readonly user = 'postgres';
  port = 0;
  private proc: ChildProcess | null = null;
  private log = '';
  private readonly as = runAsUser();
  private readonly bin = pgBinDir();

  constructor(private readonly opts: PostgresOptions = {}) {
    this.dir = mkdtempSync(join(tmpdir(), 'pg-'));
    this.dataDir = join(this.dir, 'data');
    if (this.as) { chownSync(this.dir, this.as.uid, this.as.gid); chmodSync(this.dir, 0o700); }
  }

  /** Connection URL of the superuser (database `postgres` or `db`). */
  url(db = 'postgres'): string {
    return `postgresql://${this.user}:${this.password}@127.0.0.1:${this.port}/${db}`;
  }

  get running(): boolean { return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null; }
  get pid(): number | undefined { return this.running ? this.proc!.pid : undefined; }
  get output(): string { return this.log; }

  /** argv prefix that runs a program as the cluster's user. */
  private wrap(cmd: string, args: string[]): [string, string[]] {
    if (!this.as) return [cmd, args];
    return ['setpriv', ['--reuid', String(this.as.uid), '--regid', String(this.as.gid), '--clear-groups', '--', cmd, ...args]];
  }

  private run(cmd: string, args: string[]): string {
    const [c, a] = this.wrap(join(this.bin, cmd), args);
    const r = spawnSync(c, a, { encoding: 'utf8', cwd: this.dir, env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' } });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
    return r.stdout;
  }

  private initdb(): void {
    const pwfile = join(this.dir, 'pwfile');
    writeFileSync(pwfile, `${this.password}\n`, { mode: 0o600 });
    if (this.as) chownSync(pwfile, this.as.uid, this.as.gid);
    this.run('initdb', ['-D', this.dataDir, '-U', this.user, '--pwfile', pwfile, '--auth-local', 'trust', '--auth-host', 'scram-sha-256', '-E', 'UTF8', '--locale', 'C', '--no-instructions']);
    rmSync(pwfile);
    // Small and quick: a test cluster, not a tuned server. fsync stays on: "stored" must mean durable.
    writeFileSync(join(this.dataDir, 'postgresql.auto.conf'), [
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${this.dir}'`,
      'shared_buffers = 32MB',
      'max_connections = 60',
      'fsync = on',
      'synchronous_commit = on',
      "log_destination = 'stderr'",
      'logging_collector = off',
      ...(this.opts.extra ?? []),
      '',
    ].join('\n'));
    if (this.as) chownSync(join(this.dataDir, 'postgresql.auto.conf'), this.as.uid, this.as.gid);
  }

  async start(): Promise<void> {
    if (this.running) return;
    if (!existsSync(join(this.dataDir, 'PG_VERSION'))) this.initdb();
    let lastErr = '';
    for (let attempt = 0; attempt < 5; attempt++) {
      if (!this.port) this.port = await freePort();
      const [c, a] = this.wrap(join(this.bin, 'postgres'), ['-D', this.dataDir, '-p', String(this.port)]);
      const proc = spawn(c, a, { stdio: ['ignore', 'pipe', 'pipe'], cwd: this.dir, env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' } });
      this.proc = proc;
      this.log = '';
      proc.stdout?.on('data', (d: Buffer) => { this.log += d.toString(); });
      proc.stderr?.on('data', (d: Buffer) => { this.log += d.toString(); });
      const ready = await new Promise<boolean>((resolve) => {
        const check = (): void => {
          if (/database system is ready to accept connections/.test(this.log)) { cleanup(); resolve(true); }
        };
        const onExit = (): void => { cleanup(); resolve(false); };
        const cleanup = (): void => { proc.stderr?.off('data', check); proc.stdout?.off('data', check); proc.off('exit', onExit); };
        proc.stderr?.on('data', check);
        proc.stdout?.on('data', check);
        proc.once('exit', onExit);
        check();
      });
      if (ready) return;
      lastErr = this.log.slice(-2000);
      this.proc = null;
      if (/could not bind|Address already in use/i.test(lastErr) && attempt < 4) { this.port = 0; continue; }
      break;
    }
    throw new Error(`postgres did not start on port ${this.port}: ${lastErr}`);
  }

  /** Runs SQL through psql on the unix socket as the superuser; returns stdout (tuples only, unaligned). */
  psql(sql: string, db = 'postgres'): string {
    return this.run('psql', ['-h', this.dir, '-p', String(this.port), '-U', this.user, '-d', db, '-v', 'ON_ERROR_STOP=1', '-At', '-c', sql]).trim();
  }

  /** A fresh empty database (each test file or test its own). */
  createDatabase(name = `t_${randomBytes(6).toString('hex')}`): string {
    this.psql(`CREATE DATABASE ${name}`);
    return name;
  }

  private waitExit(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => { p.once('exit', () => resolve()); });
  }

  /** Fast shutdown (SIGINT): open transactions roll back, clients are disconnected. */
  async stop(): Promise<void> {
    if (!this.proc) return;
    if (this.running) this.proc.kill('SIGINT');
    await this.waitExit();
    this.proc = null;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async dispose(): Promise<void> {
    await this.stop().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function startPostgres(opts: PostgresOptions = {}): Promise<Postgres> {
  const p = new Postgres(opts);
  await p.start();
  return p;
}
