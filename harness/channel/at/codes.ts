/**
 * Quectel AT facts as tables: error code meanings and maximum response times
 * (/work/shared/reference/quectel.md, from Quectel's AT and TCP/IP manuals).
 */

/** +CME ERROR codes (3GPP TS 27.007 numbering as Quectel uses it). */
export const CME_ERRORS: Readonly<Record<number, string>> = {
  0: 'phone failure',
  3: 'operation not allowed',
  4: 'operation not supported',
  10: 'SIM not inserted',
  11: 'SIM PIN required',
  12: 'SIM PUK required',
  13: 'SIM failure',
  14: 'SIM busy',
  15: 'SIM wrong',
  16: 'incorrect password',
  30: 'no network service',
  31: 'network timeout',
  50: 'incorrect parameters',
  100: 'unknown',
};

/** +CMS ERROR codes (SMS); only the common ones, the rest print as "CMS error <n>". */
export const CMS_ERRORS: Readonly<Record<number, string>> = {
  300: 'ME failure',
  302: 'operation not allowed',
  303: 'operation not supported',
  304: 'invalid PDU mode parameter',
  305: 'invalid text mode parameter',
  310: 'SIM not inserted',
  311: 'SIM PIN required',
  313: 'SIM failure',
  330: 'SMSC address unknown',
  331: 'no network service',
  332: 'network timeout',
  500: 'unknown error',
};

/** Error codes of `+QNTP: <err>` and `+QIURC` (TCP/IP application note, chapter 4). */
export const QUECTEL_TCPIP_ERRORS: Readonly<Record<number, string>> = {
  0: 'ok',
  550: 'unknown',
  552: 'invalid parameters',
  561: 'PDP open failed',
  565: 'DNS parse failed',
  566: 'connect failed',
  568: 'busy',
  569: 'timeout',
  570: 'PDP context broken',
  573: 'APN not configured',
};

export function cmeMeaning(code: number): string {
  return CME_ERRORS[code] ?? `CME error ${code}`;
}

export function cmsMeaning(code: number): string {
  return CMS_ERRORS[code] ?? `CMS error ${code}`;
}

export function tcpipErrorMeaning(code: number): string {
  return QUECTEL_TCPIP_ERRORS[code] ?? `error ${code}`;
}

/** Reverse lookup for `AT+CMEE=2` text results: `SIM not inserted` -> 10 (case-insensitive). */
export function cmeCodeOfText(text: string): number | undefined {
  const wanted = text.trim().toLowerCase();
  for (const [code, meaning] of Object.entries(CME_ERRORS)) {
    if (meaning.toLowerCase() === wanted) return Number(code);
  }
  return undefined;
}

export function cmsCodeOfText(text: string): number | undefined {
  const wanted = text.trim().toLowerCase();
  for (const [code, meaning] of Object.entries(CMS_ERRORS)) {
    if (meaning.toLowerCase() === wanted) return Number(code);
  }
  return undefined;
}

/**
 * Quectel's maximum response times, by command name and form (`+QIACT=`, `+QIACT?`), in ms.
 * Anything not listed is a 300 ms command, which gets SHORT_COMMAND_FLOOR_MS instead because USB
 * and PTY latency on a busy host easily exceeds 300 ms.
 */
export const MAX_RESPONSE_MS: Readonly<Record<string, number>> = {
  '+QIACT=': 150_000,
  '+QIACT?': 150_000,
  '+QIDEACT=': 40_000,
  '+CPIN?': 5_000,
  '+CPIN=': 5_000,
  '+CFUN=': 15_000,
  '+CFUN?': 15_000,
  // The QNTP command answers OK at once; its result comes as a URC whose deadline is per model
  // (QNTP_RESULT_MS). BG96's 125 s is the limit Quectel documents for the command itself.
  '+QNTP=': 125_000,
  '+COPS=': 180_000,
  '+COPS?': 180_000,
};

export const SHORT_COMMAND_FLOOR_MS = 2_000;

/** How long the `+QNTP:` result URC may take with default retries, per module family. */
export const QNTP_RESULT_MS: Readonly<Record<string, number>> = {
  EC200U: 700_000,
  EC600U: 700_000,
  BG96: 125_000,
  BG95: 125_000,
};

/** The key MAX_RESPONSE_MS uses for a command line: `AT+QIACT=1` -> `+QIACT=`, `ATI` -> `I`. */
export function commandKey(command: string): string {
  const body = command.trim().replace(/^AT/i, '').toUpperCase();
  const match = /^([+&$^][A-Z0-9]+|[A-Z]\d*)(=\?|\?|=)?/.exec(body);
  if (!match) return body;
  return `${match[1] ?? ''}${match[2] ?? ''}`;
}

/** The deadline for a command's final result code, from the table or the short-command floor. */
export function maxResponseMs(command: string, overrides: Readonly<Record<string, number>> = {}): number {
  const key = commandKey(command);
  return overrides[key] ?? MAX_RESPONSE_MS[key] ?? SHORT_COMMAND_FLOOR_MS;
}

/** The name a command's response lines start with: `AT+CEREG?` -> `+CEREG`; `ATI` -> undefined. */
export function responsePrefix(command: string): string | undefined {
  const match = /^AT([+$^][A-Z0-9]+)/i.exec(command.trim());
  return match?.[1]?.toUpperCase();
}
