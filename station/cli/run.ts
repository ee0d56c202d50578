import type { Command } from 'commander';
import { loadConfig } from '../../config';
import { action, globalOpts } from './util';
import { runDaemon } from '../daemon';

export function register(program: Command): void {
  program
    .command('run')
    .description('run the station daemon (what systemd starts): devices, vault, uplink, kiosk')
    .action(action(async (_opts: object, cmd: Command) => {
      const g = globalOpts(cmd);
      const { config } = loadConfig(g.config);
      return runDaemon({ config, debug: Boolean(g.debug) });
    }));
  program
    .command('demo')
    .description('run the station on simulated devices with an embedded MQTT broker and headquarters (no hardware, no config needed)')
    .option('--port <port>', 'kiosk port on 127.0.0.1 (default 8080, or a free one when taken)')
    .option('--broker-port <port>', 'embedded broker port on 127.0.0.1 (default: a free one)')
    .option('--data-dir <dir>', 'keep demo data in this directory instead of a fresh temporary one')
    .option('--faults', 'trainer panel in the kiosk: make the scanner, camera or card fail and the broker vanish, to rehearse')
    .action(action(async (opts: { port?: string; brokerPort?: string; dataDir?: string; faults?: boolean }, cmd: Command) => {
      // loaded only for the demo: keeps the embedded broker and headquarters out of `run`
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily, only when needed
      const { runDemo } = require('../demo') as typeof import('../demo');
      return runDemo({ kioskPort: opts.port, brokerPort: opts.brokerPort, dataDir: opts.dataDir, faults: Boolean(opts.faults), debug: Boolean(globalOpts(cmd).debug) });
    }));
}
