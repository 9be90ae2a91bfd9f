/**
 * `qhil platform [--broker mqtt://host:port | --listen <host:port>] [--device <ProductKey>/<DeviceName>...]
 *  [--secret-env NAME] [--offset <duration>] [--fault <name>]`: the simulated IoT platform on its own
 * (its MQTT broker and NTP service), for a board on the bench or a simulated one. Prints where it
 * listens, then one line per NTP exchange; runs until SIGINT/SIGTERM/SIGHUP.
 *
 * Device secrets come from the environment (`--secret-env`, QHIL_IOT_DEVICE_SECRET by default), never
 * the command line, where every user of the host could read them. aedes and mqtt load only when the
 * command runs.
 */
import type { Command } from 'commander';
import { ExitCode, type CliCommand, type CliIo } from './command.js';
import { InputError } from '../core/errors.js';

interface PlatformFlags {
  broker?: string;
  listen: string;
  device: string[];
  secretEnv: string;
  offset?: string;
  fault?: string;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

async function runPlatform(flags: PlatformFlags, io: CliIo, stop: AbortSignal): Promise<ExitCode> {
  const [{ parsePlatformFault, parseBrokerUrl, startPlatform }, { durationFlagMs }] = await Promise.all([import('../platform/platform.js'), import('./flags.js')]);
  const secret = process.env[flags.secretEnv];
  const devices = flags.device.map((text) => {
    const match = /^([^/\s]+)\/([^/\s]+)$/.exec(text);
    if (!match) throw new InputError(`--device: expected <ProductKey>/<DeviceName>, got "${text}"`);
    if (!secret) throw new InputError(`--device ${text}: the device secret is read from the environment variable ${flags.secretEnv}, which is not set`);
    return { productKey: match[1] ?? '', deviceName: match[2] ?? '', deviceSecret: secret };
  });
  if (flags.broker === undefined && devices.length === 0) throw new InputError('give at least one --device <ProductKey>/<DeviceName> for the embedded broker to sign in');
  const listen = /^(\[[^\]]+\]|[^:[\]\s]+):(\d{1,5})$/.exec(flags.listen);
  const listenPort = Number(listen?.[2]);
  if (!listen || !(listenPort <= 65535)) throw new InputError(`--listen: expected host:port (port 0: any free one), got "${flags.listen}"`);
  if (flags.broker !== undefined) parseBrokerUrl(flags.broker);
  const platform = await startPlatform({
    broker: flags.broker,
    host: (listen[1] ?? '').replace(/^\[|\]$/g, ''),
    port: listenPort,
    devices,
    clockOffsetMs: flags.offset === undefined ? 0 : durationFlagMs('--offset', flags.offset),
    fault: flags.fault === undefined ? undefined : parsePlatformFault(flags.fault),
    log: (message) => io.stderr(`platform: ${message}\n`),
  });
  try {
    io.stdout(
      platform.mode === 'embedded'
        ? `broker: ${platform.url} (embedded; signs in ${devices.map((d) => `${d.deviceName}&${d.productKey}`).join(', ')})\n`
        : `broker: ${platform.url} (external; answering as a client)\n`,
    );
    io.stdout(`ntp: /ext/ntp/+/+/request -> /ext/ntp/+/+/response, QoS 0${platform.clockOffsetMs ? `, clock ${platform.clockOffsetMs} ms off` : ''}${platform.fault ? `, fault ${platform.fault.name}` : ''}\n`);
    let shown = 0;
    const timer = setInterval(() => {
      for (; shown < platform.exchanges.length; shown++) {
        const e = platform.exchanges[shown];
        if (e) io.stdout(`exchange: ${e.deviceName}&${e.productKey} serverRecvTime ${e.serverRecvTime} serverSendTime ${e.serverSendTime} (${e.responses} answers)\n`);
      }
    }, 200);
    if (!stop.aborted) await new Promise<void>((resolve) => stop.addEventListener('abort', () => resolve(), { once: true }));
    clearInterval(timer);
  } finally {
    await platform.close();
  }
  return ExitCode.Ok;
}

export const platformCommand: CliCommand = {
  register(program: Command, io: CliIo, setExit: (code: ExitCode) => void): void {
    program
      .command('platform')
      .description("run the simulated IoT platform (MQTT broker + NTP service) and print where it listens")
      .option('--broker <url>', 'answer on a real broker (mqtt://host:port) instead of embedding one')
      .option('--listen <host:port>', 'where the embedded broker listens', '127.0.0.1:0')
      .option('--device <pk/dn>', 'a device the embedded broker signs in (repeatable)', collect, [])
      .option('--secret-env <name>', "environment variable holding the devices' secret", 'QHIL_IOT_DEVICE_SECRET')
      .option('--offset <duration>', "the platform clock's offset from the host's, e.g. 3s")
      .option('--fault <name>', 'silent, missing-key, non-numeric, send-before-recv, asymmetric-delay[=<duration>], duplicate')
      .action(async (flags: PlatformFlags) => {
        const controller = new AbortController();
        const onSignal = (): void => controller.abort();
        const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
        for (const signal of signals) process.on(signal, onSignal);
        try {
          setExit(await runPlatform(flags, io, controller.signal));
        } finally {
          for (const signal of signals) process.off(signal, onSignal);
        }
      });
  },
};
