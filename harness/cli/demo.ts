import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { CliCommand, CliIo } from './command.js';

const DEMO_SCENARIO = fileURLToPath(new URL('../../scenarios/demo.yaml', import.meta.url));
const IOT_SCENARIO = fileURLToPath(new URL('../../scenarios/ntp-sync-iot-platform.yaml', import.meta.url));
/** The scenario reads its device secret from here; the simulated world's platform knows it (a demo value). */
const IOT_SECRET_ENV = 'QHIL_IOT_DEVICE_SECRET';

/**
 * `qhil demo`: a simulated EC200U whose clock is a minute off, a local SNTP server as its NTP server
 * and as the reference; reads the time (showing the offset), syncs, reads again, compares. Needs
 * nothing but Node. The scenario loader and the runner load when it runs, not for its --help.
 */
export const demoCommand: CliCommand = {
  register(program: Command, io: CliIo, setExit) {
    program
      .command('demo')
      .description('run the demo scenario on a simulated board (no hardware needed)')
      .option('--out <dir>', 'folder for run folders', 'reports')
      .option('--offset <duration>', "the simulated board's clock offset, e.g. 63.4s or -2m", '63.4s')
      .option('--json', 'print the run result as JSON instead of the table')
      .option('--iot', "sync over the IoT platform's NTP (MQTT, an embedded platform on loopback) instead of NTP")
      .action(async (flags: { out: string; offset: string; json?: boolean; iot?: boolean }) => {
        const [{ durationFlagMs }, { loadScenario }, { executeRun }] = await Promise.all([import('./flags.js'), import('../runner/scenario.js'), import('./run-action.js')]);
        const offsetMs = durationFlagMs('--offset', flags.offset);
        if (flags.iot) process.env[IOT_SECRET_ENV] ||= 'qhil-demo-secret';
        const scenario = loadScenario(flags.iot ? IOT_SCENARIO : DEMO_SCENARIO);
        io.stdout(`qhil demo: simulated EC200U-EU with its clock ${(offsetMs / 1000).toFixed(1)} s off, local SNTP server${flags.iot ? ' and IoT platform' : ''} on 127.0.0.1\n`);
        const { exitCode } = await executeRun({
          scenarios: [scenario],
          boards: [{ id: 'sim-ec200u', sim: { profile: 'ec200u', offsetMs, faults: [] }, fields: {} }],
          out: flags.out,
          tags: [],
          json: Boolean(flags.json),
          io,
        });
        setExit(exitCode);
      });
  },
};
