/** Fixtures for the simulated AT port's tests (sim/at/*.test.ts): one profile, a raw port. */
import type { BoardProfileInput } from '../sim/profile.js';
import type { ModemModel } from '../sim/modem.js';
import type { AtServices } from '../sim/at/interpreter.js';
import { createAtPort, type AtPort } from '../sim/at/port.js';
import { until } from './until.js';

/** The zone AT+CCLK and +QNTP report on this profile: UTC-4, in quarter hours. */
export const ZONE_QUARTER_HOURS = -16;

/** An EC200U's identity, for sim tests that build a modem in process. */
export const EC200U_PROFILE: BoardProfileInput = {
  model: 'EC200U-EU',
  product: 'EC200U',
  firmware: 'EC200UEUAAR03A01M08_OCPU_QPY',
  revision: 'EC200UEUAAR03A01M08',
  quecpython: { version: 'v1.12', buildDate: 'Jan_13_2022', release: '1.12.0', qpyver: 'V0001' },
  imei: '864430010001234',
  address: '10.171.134.243',
};

/** The AT port tests' board: quick dials and NTP timeouts, a zone off UTC. */
export const PROFILE: BoardProfileInput = { ...EC200U_PROFILE, zoneQuarterHours: ZONE_QUARTER_HOURS, dialDelay: 20, ntpTimeout: 300 };

/** An AT port fed raw bytes, its output collected: for what the channel would never send. */
export function rawPort(
  modem: ModemModel,
  services: AtServices,
): { port: AtPort; output: () => string; settle: (ms?: number) => Promise<void>; until: (text: string, deadlineMs?: number) => Promise<void> } {
  const chunks: string[] = [];
  const port = createAtPort(modem, (bytes) => chunks.push(bytes.toString('latin1')), services);
  const output = (): string => chunks.join('');
  return {
    port,
    output,
    settle: (ms = 60) => new Promise((resolve) => setTimeout(resolve, ms)),
    /** Until the output holds `text` (a URC that comes later), or throws at the deadline: no fixed wait a loaded host outlasts. */
    until: (text, deadlineMs = 5000) =>
      until(JSON.stringify(text), () => output().includes(text), deadlineMs, { pollMs: 5, detail: () => `output: ${JSON.stringify(output())}` }),
  };
}

export const NO_NTP: AtServices = { ntpQueryUtcMs: () => Promise.reject(new Error('no NTP here')) };
