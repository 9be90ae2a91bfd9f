import type { CliCommand } from './command.js';
import { demoCommand } from './demo.js';
import { execCommand } from './exec.js';
import { platformCommand } from './platform.js';
import { leaseCommand } from './lease.js';
import { portsCommand } from './ports.js';
import { runCommand } from './run.js';
import { reportCommand } from './report.js';
import { simCommand } from './sim.js';
import { sntpCommand } from './sntp.js';
import { validateCommand } from './validate.js';

/** Every CLI command, one file each, listed in one place. */
export const commands: CliCommand[] = [runCommand, demoCommand, execCommand, portsCommand, validateCommand, reportCommand, sntpCommand, simCommand, platformCommand, leaseCommand];
