/** Headquarters side of signed commands: sign with the ops key, publish, wait for the station's signed answer. */
import type { KeyObject } from 'node:crypto';
import type { IClientOptions } from 'mqtt';
import { connectOnce } from './fleet';
import { makeTopics, type CommandBody, type CommandName, type CommandResultBody, type SignedMessage } from '../topics';
import { signCommand } from '../commands';
import { encodeSigned, TrustedKeys, verifySignedBody } from '../wire/signed';
import { checkPayload } from '../wire/payloads';

export interface SendCommandOptions {
  brokerUrl: string;
  mqtt?: IClientOptions;
  topicPrefix?: string;
  /** The ops key (hq cmd), or a signer that holds it elsewhere (the dashboard asks `hq signer`). */
  opsKey: KeyObject | CommandSigner;
  /** Who asked for the command (logged with it). */
  sentBy?: string;
  target: string;
  name: CommandName;
  args?: Record<string, unknown>;
  ttlMs?: number;
  /** How long to wait for the answer (0: do not wait). */
  waitMs?: number;
  /** Registry used to verify the station's signature on the answer and to log the command:
   * the store the settings choose (HqStoreApi, SQLite or PostgreSQL) or the SQLite HqStore itself. */
  store?: CommandLog | null;
}

/** What sending a command needs from the store; both the sync HqStore and the async HqStoreApi have it. */
export interface CommandLog {
  recordCommand(c: { id: string; target: string; name: string; args: Record<string, unknown>; issuedAt: number; expiresAt: number; sentBy?: string }): void | Promise<void>;
  stationKeys(stationId: string): KeyObject[] | Promise<KeyObject[]>;
  recordCommandResult(id: string, status: string, resultJson: string, at: number): void | Promise<void>;
}

/** Signs a command without this process holding the ops key. */
export type CommandSigner = (input: { target: string; name: CommandName; args: Record<string, unknown>; ttlMs: number; sentBy?: string }) => Promise<{ body: CommandBody; message: SignedMessage }>;

export interface SendCommandResult {
  command: CommandBody;
  /** The station's answer, when it came in time. */
  result: CommandResultBody | null;
  /** false when the answer's signature could not be checked against a registered station key. */
  resultVerified: boolean;
}

export async function sendCommand(o: SendCommandOptions): Promise<SendCommandResult> {
  const t = makeTopics(o.topicPrefix);
  const ttl = o.ttlMs ?? 24 * 3600_000;
  const { body, message } = typeof o.opsKey === 'function'
    ? await o.opsKey({ target: o.target, name: o.name, args: o.args ?? {}, ttlMs: ttl, ...(o.sentBy ? { sentBy: o.sentBy } : {}) })
    : signCommand({ target: o.target, name: o.name, args: o.args ?? {}, ttlMs: ttl }, o.opsKey);
  // Logged before it is sent: a command headquarters cannot record is not sent (fail closed).
  await o.store?.recordCommand({ ...body, ...(o.sentBy ? { sentBy: o.sentBy } : {}) });
  const keys = o.store ? await o.store.stationKeys(o.target) : [];
  const trusted = new TrustedKeys(keys);
  const client = await connectOnce(o.brokerUrl, { protocolVersion: 5, clean: true, reconnectPeriod: 0, connectTimeout: 10_000, ...(o.mqtt ?? {}) });
  try {
    let resolveAnswer: (r: { body: CommandResultBody; verified: boolean }) => void = () => undefined;
    const answered = new Promise<{ body: CommandResultBody; verified: boolean }>((r) => { resolveAnswer = r; });
    client.on('message', (_topic, payload) => {
      const v = verifySignedBody(payload, trusted, ['command-result']);
      if (v.ok) {
        if (v.body.id === body.id) resolveAnswer({ body: v.body, verified: true });
        return;
      }
      if (keys.length === 0) {
        // Unregistered station: show the answer but say it is unverified.
        try {
          const m = JSON.parse(payload.toString('utf8')) as { body: string };
          const b = checkPayload('commandResult', JSON.parse(m.body));
          if (b.ok && b.value.id === body.id) resolveAnswer({ body: b.value, verified: false });
        } catch { /* not ours */ }
      }
    });
    const waitMs = o.waitMs ?? 15_000;
    if (waitMs > 0) await client.subscribeAsync(t.cmdRes(o.target), { qos: 1 });
    await client.publishAsync(t.cmd(o.target, o.name), encodeSigned(message), {
      qos: 1, properties: { messageExpiryInterval: Math.max(1, Math.ceil(ttl / 1000)) },
    });
    if (waitMs <= 0) return { command: body, result: null, resultVerified: false };
    // Returns as soon as the answer arrives; the timer must not outlive it (it kept `hq cmd` alive for the whole --wait).
    let timer: NodeJS.Timeout | undefined;
    const got = await Promise.race([answered, new Promise<null>((r) => { timer = setTimeout(() => r(null), waitMs); })]).finally(() => clearTimeout(timer));
    if (got) await o.store?.recordCommandResult(body.id, got.body.status, JSON.stringify(got.body), got.body.at);
    return { command: body, result: got?.body ?? null, resultVerified: got?.verified ?? false };
  } finally {
    await client.endAsync().catch(() => undefined);
  }
}
