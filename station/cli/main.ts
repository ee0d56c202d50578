#!/usr/bin/env node
/**
 * `station` — the booth daemon and the technician's tool.
 * Exit codes: 0 success, 1 failure, 2 usage or configuration error.
 */
import { Command, CommanderError } from 'commander';
import { register as registerConfig } from './config';
import { register as registerRun } from './run';
import { register as registerProvision } from './provision';
import { register as registerDoctor } from './doctor';
import { register as registerStatus } from './status';
import { register as registerSelftest } from './selftest';
import { register as registerUpdate } from './update';
import { register as registerOutbox } from './outbox';
import { register as registerFingerprint } from './fingerprint';
import { register as registerCard } from './card';
import { register as registerCamera } from './camera';
import { register as registerGpio } from './gpio';
import { register as registerOfficer } from './officer';
import { VERSION } from '../version';

export function buildProgram(): Command {
  const program = new Command('station');
  program
    .description('Enrollment Station: the booth daemon (run, demo) and the technician\'s tools.')
    .version(VERSION, '-V, --version')
    .option('-c, --config <file>', 'configuration file (default /etc/enroll-station/config.yaml, or $ENROLL_CONFIG)')
    .option('--debug', 'show stack traces and debug logs')
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str.startsWith('error:') ? str : `error: ${str}`) });
  registerRun(program);
  registerConfig(program);
  registerProvision(program);
  registerDoctor(program);
  registerStatus(program);
  registerSelftest(program);
  registerUpdate(program);
  registerOutbox(program);
  registerOfficer(program);
  registerFingerprint(program);
  registerCard(program);
  registerCamera(program);
  registerGpio(program);
  return program;
}

export async function main(argv = process.argv): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      const ok = e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help' || e.exitCode === 0;
      process.exitCode = ok ? 0 : 2;
      return;
    }
    throw e;
  }
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    process.exitCode = 1;
  });
}
