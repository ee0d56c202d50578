/**
 * Test harness: a real Mosquitto broker on a free loopback port with its own
 * temporary config and persistence directory. Restartable on the same port and
 * persistence file; can be stopped gracefully (SIGTERM: persistence is written)
 * or killed with SIGKILL (only what autosave already wrote survives).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';

export const MOSQUITTO_BIN = process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto';
export const MOSQUITTO_PASSWD_BIN = process.env.MOSQUITTO_PASSWD_BIN ?? '/usr/bin/mosquitto_passwd';

export interface MosquittoOptions {
  /** Broker max_packet_size (announced in the MQTT 5 CONNACK). */
  maxPacketSize?: number;
  /** Seconds between persistence autosaves (default 1, so SIGKILL loses little). */
  autosaveInterval?: number;
  /** Extra config lines. */
  extra?: string[];
  /** Username → password; when given, anonymous clients are refused (mosquitto_passwd writes the file). */
  users?: Record<string, string>;
  /**
   * The whole configuration file instead of the harness's own (a documented production
   * configuration): given the listener port, returns the text. Nothing is added to it.
   */
  fullConfig?: (port: number) => string;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => { s.destroy(); resolve(false); });
  });
}

export class Mosquitto {
  readonly dir: string;
  port = 0;
  private proc: ChildProcess | null = null;
  private log = '';

  constructor(private readonly opts: MosquittoOptions = {}) {
    this.dir = mkdtempSync(join(tmpdir(), 'mosq-'));
  }

  get url(): string { return `mqtt://127.0.0.1:${this.port}`; }
  get running(): boolean { return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null; }
  /** The broker's process id while it runs (benchmarks read its CPU time). */
  get pid(): number | undefined { return this.running ? this.proc!.pid : undefined; }
  /** Broker stdout/stderr so far (for failure messages). */
  get output(): string { return this.log; }

  private writeConfig(): string {
    const conf = join(this.dir, 'mosquitto.conf');
    if (this.opts.fullConfig) {
      writeFileSync(conf, this.opts.fullConfig(this.port));
      return conf;
    }
    const lines = [
      // Started as root, Mosquitto drops to the "mosquitto" user and then cannot write its
      // persistence file or read the password file in our private temp dir: stay as we are.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      `listener ${this.port} 127.0.0.1`,
      ...(this.opts.users ? ['allow_anonymous false', `password_file ${join(this.dir, 'passwd')}`] : ['allow_anonymous true']),
      'persistence true',
      `persistence_location ${this.dir}/`,
      'persistence_file mosquitto.db',
      `autosave_interval ${this.opts.autosaveInterval ?? 1}`,
      'max_queued_messages 10000',
      'max_inflight_messages 20',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      ...(this.opts.maxPacketSize ? [`max_packet_size ${this.opts.maxPacketSize}`] : []),
      ...(this.opts.extra ?? []),
    ];
    writeFileSync(conf, `${lines.join('\n')}\n`);
    if (this.opts.users) {
      const pw = join(this.dir, 'passwd');
      writeFileSync(pw, '');
      for (const [u, p] of Object.entries(this.opts.users)) {
        const r = spawnSync(MOSQUITTO_PASSWD_BIN, ['-b', pw, u, p], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`mosquitto_passwd failed: ${r.stderr}`);
      }
    }
    return conf;
  }

  async start(): Promise<void> {
    if (this.running) return;
    if (!existsSync(MOSQUITTO_BIN)) throw new Error(`mosquitto not found at ${MOSQUITTO_BIN}`);
    let lastErr = '';
    for (let attempt = 0; attempt < 5; attempt++) {
      if (!this.port) this.port = await freePort();
      const conf = this.writeConfig();
      const proc = spawn(MOSQUITTO_BIN, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
      this.proc = proc;
      proc.stdout?.on('data', (d: Buffer) => { this.log += d.toString(); });
      proc.stderr?.on('data', (d: Buffer) => { this.log += d.toString(); });
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline) {
        if (proc.exitCode !== null || proc.signalCode !== null) break;
        if (await canConnect(this.port)) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      lastErr = this.log.slice(-2000);
      await this.kill9();
      // Port may have been taken between freePort() and bind (first start only: restarts keep the port).
      if (/Address already in use/i.test(lastErr)) {
        await new Promise((r) => setTimeout(r, 300));
        continue;
      }
      break;
    }
    throw new Error(`mosquitto did not start on port ${this.port}: ${lastErr}`);
  }

  private waitExit(timeoutMs: number): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => { p.kill('SIGKILL'); }, timeoutMs);
      p.once('exit', () => { clearTimeout(t); resolve(); });
    });
  }

  /** Graceful stop: Mosquitto writes its persistence file. */
  async stop(): Promise<void> {
    if (!this.proc) return;
    if (this.running) this.proc.kill('SIGTERM');
    await this.waitExit(10_000);
    this.proc = null;
  }

  /** kill -9: no shutdown save. */
  async kill9(): Promise<void> {
    if (!this.proc) return;
    if (this.running) this.proc.kill('SIGKILL');
    await this.waitExit(5_000);
    this.proc = null;
  }

  /** Start again on the same port with the same persistence file. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Stop and remove the temp directory. */
  async dispose(): Promise<void> {
    await this.kill9();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function startMosquitto(opts: MosquittoOptions = {}): Promise<Mosquitto> {
  const m = new Mosquitto(opts);
  await m.start();
  return m;
}

/**
 * The message retained on `topic` now, or null when there is none — without a sleep. The broker
 * sends a topic's retained message when the subscription is made; a marker published by the same
 * client afterwards, on a probe topic it also subscribed to, reaches it after that. So once the
 * marker is back, a retained message that exists has arrived.
 */
export async function retainedMessage(url: string, topic: string, connectOpts: mqtt.IClientOptions = {}): Promise<Buffer | null> {
  const c = await mqtt.connectAsync(url, { protocolVersion: 5, ...connectOpts });
  try {
    const probe = `test-probe/${process.pid}/${Date.now()}-${Math.random().toString(36).slice(2)}`;
    let got: Buffer | null = null;
    const marker = new Promise<void>((resolve) => {
      c.on('message', (t, p) => {
        if (t === probe) resolve();
        else if (t === topic && got === null) got = p;
      });
    });
    await c.subscribeAsync(topic, { qos: 1 });
    await c.subscribeAsync(probe, { qos: 1 });
    await c.publishAsync(probe, 'marker', { qos: 1 });
    await marker;
    return got;
  } finally {
    await c.endAsync();
  }
}
