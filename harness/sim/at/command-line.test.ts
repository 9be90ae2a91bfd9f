// The AT command line as the simulated port parses it: trailing text, `;` chains, line ends, and
// the +QNTP failure codes; split from interpreter.test.ts (the interpreter's commands).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AtChannel } from '../../channel/at/channel.js';
import { memoryLinkPair } from '../../link/memory.js';
import { NO_NTP, PROFILE, rawPort } from '../../testing/sim-at.js';
import { ModemModel } from '../modem.js';
import { parseBoardProfile } from '../profile.js';
import type { NtpFailureCode } from '../services.js';
import { createAtPort, type AtPort } from './port.js';

describe('sim AT command line', () => {
  let modem: ModemModel;
  let port: AtPort;
  let channel: AtChannel;

  beforeEach(() => {
    modem = new ModemModel(parseBoardProfile(PROFILE));
    const pair = memoryLinkPair('sim-at');
    port = createAtPort(modem, (bytes) => void pair.board.write(bytes), NO_NTP);
    pair.board.onData((bytes) => port.receive(bytes));
    channel = new AtChannel(pair.host);
  });

  afterEach(() => {
    port.dispose();
  });

  it('maps each failure code of a stub NTP service', async () => {
    const expected: Record<NtpFailureCode, string> = { dns: '565', refused: '566', timeout: '569' };
    for (const [code, urc] of Object.entries(expected) as [NtpFailureCode, string][]) {
      const stub = new ModemModel(parseBoardProfile({ ...PROFILE, hosts: { 'ntp.test': '127.0.0.1:123' } }));
      const board = rawPort(stub, {
        ntpQuery: () => Promise.resolve({ ok: false, code }),
        ntpQueryUtcMs: () => Promise.reject(new Error(code)),
      });
      stub.context(1).active = true;
      board.port.receive(Buffer.from('ATE0\rAT+QNTP=1,"ntp.test"\r'));
      await board.until(`+QNTP: ${urc}\r\n`);
      board.port.dispose();
      expect(board.output()).toBe(`ATE0\r\r\nOK\r\n\r\nOK\r\n\r\n+QNTP: ${urc}\r\n`);
    }
  });

  it('answers ERROR to trailing text after query, test and no-argument forms', async () => {
    expect((await channel.execute('AT+CPIN?xyz')).final).toBe('ERROR');
    expect((await channel.execute('AT+CSQxyz')).final).toBe('ERROR');
    expect((await channel.execute('AT+CMEE=?x')).final).toBe('ERROR');
    expect((await channel.execute('ATIxyz')).final).toBe('ERROR');
    expect((await channel.execute('AT+CMEE?1')).final).toBe('ERROR');
    // The forms themselves still work.
    expect((await channel.send('AT+CMEE=?')).lines).toEqual(['+CMEE: (0-2)']);
    expect((await channel.send('AT+CPIN?')).lines).toEqual(['+CPIN: READY']);
  });

  it('runs every command of a ; chain with one final result, stopping at the first error', async () => {
    const raw: string[] = [];
    channel.link.onData((bytes) => raw.push(bytes.toString('latin1')));
    await channel.send('ATE0;+CMEE=2');
    expect(raw.join('')).toBe('ATE0;+CMEE=2\r\r\nOK\r\n');
    expect((await channel.send('AT+CMEE?')).lines).toEqual(['+CMEE: 2']);

    raw.length = 0;
    expect((await channel.send('AT+CGMI;+CGMM')).lines).toEqual(['Quectel', 'EC200U']);
    expect(raw.join('')).toBe('\r\nQuectel\r\n\r\nEC200U\r\n\r\nOK\r\n');

    // The error stops the line: CMEE stays 2, and the error is the line's only final code.
    modem.sim = 'absent';
    expect(await channel.execute('AT+CPIN?;+CMEE=0')).toMatchObject({ final: 'CME ERROR', codeText: 'SIM not inserted' });
    expect((await channel.send('AT+CMEE?')).lines).toEqual(['+CMEE: 2']);
    expect((await channel.execute('AT+NOSUCH;+CMEE=0')).final).toBe('ERROR');
    // A malformed line runs none of its commands...
    expect((await channel.execute('AT+CMEE=0;+CPIN?xyz')).final).toBe('ERROR');
    expect((await channel.send('AT+CMEE?')).lines).toEqual(['+CMEE: 2']);
    // ...but the commands before one that fails did run.
    expect((await channel.execute('AT+CMEE=0;+NOSUCH;+CMEE=1')).final).toBe('ERROR');
    expect((await channel.send('AT+CMEE?')).lines).toEqual(['+CMEE: 0']);
  });

  it('sends a chained command\'s URC after the line\'s final OK', async () => {
    const board = rawPort(modem, NO_NTP);
    board.port.receive(Buffer.from('ATE0\rAT+QNTP=1,"ntp.test";+CSQ\r'));
    await board.until('+QNTP: 561\r\n');
    board.port.dispose();
    expect(board.output()).toBe('ATE0\r\r\nOK\r\n\r\n+CSQ: 24,99\r\n\r\nOK\r\n\r\n+QNTP: 561\r\n');
  });

  it('ends a command line on \\r only: a bare \\n neither runs it nor splits it', async () => {
    const board = rawPort(modem, NO_NTP);
    board.port.receive(Buffer.from('ATE0\r\n'));
    await board.settle();
    expect(board.output()).toBe('ATE0\r\r\nOK\r\n');
    board.port.receive(Buffer.from('AT+CMEE=0\n'));
    await board.settle();
    // Nothing ran yet: the line is still open.
    expect(board.output()).toBe('ATE0\r\r\nOK\r\n');
    board.port.receive(Buffer.from(';+CMEE?\r\n'));
    await board.settle();
    board.port.dispose();
    expect(board.output()).toBe('ATE0\r\r\nOK\r\n\r\n+CMEE: 0\r\n\r\nOK\r\n');
  });
});
