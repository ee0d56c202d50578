/**
 * Ordered start/stop of the station's components. Constructors do nothing;
 * `start()` runs in registration order, `stop()` in reverse, each bounded in time
 * so one stuck device cannot keep the process from exiting. When a start fails,
 * the failed component and every one before it are stopped, in reverse, and the
 * start rejects with the failure.
 */
import type { Logger } from 'pino';

export interface Component {
  readonly name: string;
  start(signal: AbortSignal): Promise<void>;
  stop(): Promise<void>;
}

export class Lifecycle {
  private readonly components: Component[] = [];
  private readonly started: Component[] = [];
  private readonly abort = new AbortController();
  private stopping: Promise<void> | undefined;

  constructor(private readonly log: Logger, private readonly stopTimeoutMs = 10_000) {}

  add(c: Component): this {
    this.components.push(c);
    return this;
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  async start(): Promise<void> {
    for (const c of this.components) {
      if (this.abort.signal.aborted) throw new Error(`start aborted before ${c.name}`);
      const t0 = Date.now();
      try {
        await c.start(this.abort.signal);
      } catch (e) {
        this.log.error({ component: c.name, err: e }, `component ${c.name} failed to start`);
        // what started stops, in reverse — the one that failed first: it may have started part of
        // itself (a simulator, a timer, a socket), so its stop() must cope with a partial start
        this.started.push(c);
        await this.stop();
        throw e;
      }
      this.started.push(c);
      this.log.debug({ component: c.name, ms: Date.now() - t0 }, 'started');
    }
  }

  stop(): Promise<void> {
    if (!this.stopping) this.stopping = this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.abort.abort();
    for (const c of [...this.started].reverse()) {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          c.stop(),
          new Promise<void>((_, rej) => {
            timer = setTimeout(() => rej(new Error(`${c.name} did not stop within ${this.stopTimeoutMs} ms`)), this.stopTimeoutMs);
          }),
        ]);
        this.log.debug({ component: c.name }, 'stopped');
      } catch (e) {
        this.log.error({ component: c.name, err: e }, `component ${c.name} failed to stop cleanly`);
      } finally {
        if (timer) clearTimeout(timer);
      }
    }
    this.started.length = 0;
  }
}

/** A component from two functions. */
export function component(name: string, start: (signal: AbortSignal) => Promise<void> | void, stop: () => Promise<void> | void = () => undefined): Component {
  return { name, start: async (s) => { await start(s); }, stop: async () => { await stop(); } };
}
