import { describe, expect, it } from 'vitest';
import { BoardError, InfrastructureError, InputError, LinkClosedError, WaitTimeoutError } from '../core/errors.js';
import { StepTimeoutError } from './attempt.js';
import { classifyFailure, type AttemptEvidence } from './verdict.js';

function evidence(over: Partial<AttemptEvidence> = {}): AttemptEvidence {
  return {
    elapsedMs: 1000,
    limitMs: 1000,
    limitLabel: 'step read',
    bytesFromBoard: 0,
    hostStallMs: 0,
    processCpuShare: 0.1,
    cpuPressureShare: 0,
    phase: 'board',
    phaseMs: { board: 1000, reference: 0, reconnect: 0 },
    boardOnHost: false,
    ...over,
  };
}

const timeout = new StepTimeoutError('step read', 1000);
const waitTimeout = new WaitTimeoutError('/dev/ttyUSB2', 'OK', 'deadline', 1000, 'AT');

describe('whose fault a failed attempt is', () => {
  it('a board that answered, then stopped, FAILs (not retried)', () => {
    const verdict = classifyFailure(timeout, evidence({ bytesFromBoard: 12 }));
    expect(verdict).toMatchObject({ outcome: 'FAIL', fault: 'board', retryable: false });
    expect(verdict.message).toMatch(/sent 12 bytes during the step but did not finish answering/);
  });

  it('a board that sent nothing at all is no verdict: ERROR, retried', () => {
    for (const error of [timeout, waitTimeout]) {
      const verdict = classifyFailure(error, evidence({ bytesFromBoard: 0 }));
      expect(verdict).toMatchObject({ outcome: 'ERROR', fault: 'rig', retryable: true });
      expect(verdict.message).toMatch(/sent nothing/);
    }
  });

  it('time spent on the reference query or on reopening a port is the rig', () => {
    const reference = classifyFailure(timeout, evidence({ bytesFromBoard: 50, phase: 'reference', phaseMs: { board: 10, reference: 990, reconnect: 0 } }));
    expect(reference).toMatchObject({ outcome: 'ERROR', fault: 'rig' });
    expect(reference.message).toMatch(/reference clock.*990ms on the reference query/);
    const reconnect = classifyFailure(timeout, evidence({ bytesFromBoard: 50, phase: 'reconnect' }));
    expect(reconnect).toMatchObject({ outcome: 'ERROR', fault: 'rig' });
    expect(reconnect.message).toMatch(/port to come back/);
  });

  it('a stalled host turns a timeout into an ERROR saying so, even when the board chattered', () => {
    const verdict = classifyFailure(timeout, evidence({ bytesFromBoard: 50, hostStallMs: 600 }));
    expect(verdict).toMatchObject({ outcome: 'ERROR', fault: 'rig' });
    expect(verdict.message).toMatch(/host itself was overloaded.*600ms/);
  });

  it('a 2 s inactivity limit that fired during a 400 ms stall is judged against 2 s, not the step', () => {
    const inactivity = new WaitTimeoutError('/dev/ttyUSB6', 'raw REPL prompt', 'inactivity', 2000, '', undefined, 5);
    expect(classifyFailure(inactivity, evidence({ bytesFromBoard: 5, hostStallMs: 400, limitMs: 60_000 }))).toMatchObject({ outcome: 'ERROR', fault: 'rig' });
  });

  it('a simulated board on a host whose CPU qhil saturates gives no FAIL', () => {
    const saturated = evidence({ bytesFromBoard: 5, boardOnHost: true, processCpuShare: 0.97 });
    const verdict = classifyFailure(timeout, saturated);
    expect(verdict).toMatchObject({ outcome: 'ERROR', fault: 'rig' });
    expect(verdict.message).toMatch(/used 97% of all CPU cores/);
    // Starved CPU slows a simulated board; it does not change its answers: a wrong answer stays a FAIL.
    expect(classifyFailure(new BoardError('ERROR'), saturated)).toMatchObject({ outcome: 'FAIL', fault: 'board' });
    expect(classifyFailure(timeout, evidence({ bytesFromBoard: 5, boardOnHost: true, cpuPressureShare: 0.8 })).message).toMatch(/waited for a CPU 80%/);
    // A real board is not slowed by the host's CPU: that evidence does not excuse it.
    expect(classifyFailure(timeout, { ...saturated, boardOnHost: false })).toMatchObject({ outcome: 'FAIL' });
  });

  it('a short stall on a long step is not overload', () => {
    expect(classifyFailure(timeout, evidence({ bytesFromBoard: 50, hostStallMs: 200, limitMs: 1000 })).outcome).toBe('FAIL');
    expect(classifyFailure(timeout, evidence({ bytesFromBoard: 50, hostStallMs: 400, limitMs: 60_000 })).outcome).toBe('FAIL');
  });

  it("a wrong answer is the board's, except from a simulated board on a starved host", () => {
    const wrong = new BoardError('OSError: Server connection failed!');
    expect(classifyFailure(wrong, evidence({ hostStallMs: 2000 }))).toMatchObject({ outcome: 'FAIL', fault: 'board' });
    expect(classifyFailure(wrong, evidence({ hostStallMs: 2000, boardOnHost: true }))).toMatchObject({ outcome: 'ERROR', fault: 'rig' });
    expect(classifyFailure(wrong, evidence({ hostStallMs: 10, boardOnHost: true }))).toMatchObject({ outcome: 'FAIL', fault: 'board' });
  });

  it('the rig, the input and qhil itself are ERRORs; only the rig is retried', () => {
    expect(classifyFailure(new LinkClosedError('/dev/ttyUSB2', 'gone'), evidence())).toMatchObject({ outcome: 'ERROR', fault: 'rig', retryable: true });
    expect(classifyFailure(new InfrastructureError('x'), evidence())).toMatchObject({ fault: 'rig', retryable: true });
    expect(classifyFailure(new InputError('no reading named t1'), evidence())).toMatchObject({ outcome: 'ERROR', fault: 'input', retryable: false });
    const bug = classifyFailure(new TypeError("Cannot read properties of undefined (reading 'x')"), evidence());
    expect(bug).toMatchObject({ outcome: 'ERROR', fault: 'harness', retryable: false });
    expect(bug.message).toMatch(/qhil itself failed.*Cannot read properties/);
  });

  it('a stopped run is never retried', () => {
    expect(classifyFailure(new InfrastructureError('stopped'), evidence(), true)).toMatchObject({ outcome: 'ERROR', retryable: false });
  });
});
