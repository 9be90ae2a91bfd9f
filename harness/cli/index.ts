import type { CliCommand } from './command.js';

/** A command as `qhil --help` lists it, and how to load the whole of it (see "Start-up" in command.ts). */
export interface CommandEntry {
  name: string;
  /** What follows the name in `qhil --help`: `[options]` and the arguments, as the command declares them. */
  usage: string;
  description: string;
  load: () => Promise<CliCommand>;
}

/** Every CLI command, one file each, listed in one place. Only the one a user runs is imported. */
export const commands: CommandEntry[] = [
  { name: 'run', usage: '[options] <scenario...>', description: 'run scenarios on boards and write reports', load: async () => (await import('./run.js')).runCommand },
  { name: 'demo', usage: '[options]', description: 'run the demo scenario on a simulated board (no hardware needed)', load: async () => (await import('./demo.js')).demoCommand },
  { name: 'exec', usage: '[options] <command>', description: 'send one command to a board: Python over the REPL, or an AT command', load: async () => (await import('./exec.js')).execCommand },
  { name: 'ports', usage: '[options]', description: 'list serial ports; Quectel boards (USB VID 2C7C) with the role of each interface (AT, REPL)', load: async () => (await import('./ports.js')).portsCommand },
  { name: 'validate', usage: '[options] <scenario...>', description: 'check scenario (and rig) files as `qhil run` does before a port opens; errors name file:line:column', load: async () => (await import('./validate.js')).validateCommand },
  { name: 'report', usage: '[options] <run-dir...>', description: 're-render junit.xml, summary.md and report.html from result.json, or merge several runs into one report', load: async () => (await import('./report.js')).reportCommand },
  { name: 'sntp', usage: '[options] <server...>', description: 'query NTP servers the way the reference check does, and print what each said', load: async () => (await import('./sntp.js')).sntpCommand },
  { name: 'platform', usage: '[options]', description: 'run the simulated IoT platform (MQTT broker + NTP service) and print where it listens', load: async () => (await import('./platform.js')).platformCommand },
  { name: 'lease', usage: '', description: 'board leases on this host: who holds which port (see qhil run --wait)', load: async () => (await import('./lease.js')).leaseCommand },
  { name: 'sim', usage: '[options]', description: 'start a simulated Quectel board (QuecPython REPL + AT port) and print where its ports are', load: async () => (await import('./sim.js')).simCommand },
];
