import type { CliCommand } from './command.js';

/** Every CLI command, one file each, listed in one place. */
export const commands: CliCommand[] = [];
