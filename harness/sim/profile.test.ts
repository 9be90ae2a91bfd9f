import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../runner/yaml-source.js';
import { loadBoardProfile, parseBoardProfile } from './profile.js';

const fixtures = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'sim');
const dir = mkdtempSync(join(tmpdir(), 'qhil-profile-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const GOOD = `model: EC200U-EU
product: EC200U
firmware: FW1
revision: REV1
quecpython: { version: v1.12, buildDate: Jan_13_2022, release: 1.12.0, qpyver: V0001 }
imei: '864430010001234'
`;

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function problems(path: string): string[] {
  try {
    loadBoardProfile(path, {});
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).lines;
  }
  throw new Error(`${path} loaded`);
}

describe('sim profiles', () => {
  it('loads every profile in fixtures/sim, durations with their units', () => {
    const names = readdirSync(fixtures).filter((name) => name.endsWith('.yaml'));
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect(loadBoardProfile(join(fixtures, name)).model).toMatch(/^EC/);
    expect(loadBoardProfile(write('units.yaml', `${GOOD}dialDelay: 1.5s\nrebootDelay: 2m\n`))).toMatchObject({ dialDelay: 1500, rebootDelay: 120_000 });
  });

  it('names file:line:column for every problem, as scenarios do', () => {
    const path = write(
      'bad.yaml',
      `${GOOD}dialDelay: 50\nntpTimeout: 10 parsecs\ncsq: lots\nquecpython_typo: 1\natDelays: { AT+QIACT: 3 }\n`,
    );
    const lines = problems(path);
    expect(lines).toEqual([
      expect.stringMatching(new RegExp(`^${path}:7:12: dialDelay: expected a duration with a unit`)),
      expect.stringMatching(new RegExp(`^${path}:8:13: ntpTimeout: `)),
      expect.stringMatching(new RegExp(`^${path}:9:6: csq: `)),
      expect.stringMatching(new RegExp(`^${path}:10:1: top level: unknown key "quecpython_typo"`)),
      expect.stringMatching(new RegExp(`^${path}:11:23: atDelays.AT\\+QIACT: expected a duration with a unit`)),
    ]);
  });

  it('reports YAML syntax errors and a missing field where they are', () => {
    expect(problems(write('syntax.yaml', `${GOOD}hosts: { a: b\n`))[0]).toMatch(new RegExp(`^${dir}/syntax.yaml:\\d+:\\d+: YAML syntax error`));
    expect(problems(write('short.yaml', 'model: EC200U-EU\n'))[0]).toMatch(new RegExp(`^${dir}/short.yaml:1:1: missing required key "product"`));
  });

  it('substitutes ${env.NAME} as scenarios do', () => {
    const path = write('env.yaml', `${GOOD}apn: \${env.QHIL_TEST_APN}\n`);
    expect(loadBoardProfile(path, { QHIL_TEST_APN: 'iot.example' }).apn).toBe('iot.example');
    expect(problems(path)[0]).toMatch(new RegExp(`^${path}:7:6: .*QHIL_TEST_APN`));
  });

  it('still takes plain numbers of ms from code', () => {
    expect(parseBoardProfile({ ...loadBoardProfile(join(fixtures, 'ec200u.yaml')), dialDelay: 5, atDelays: { AT: 0 } }).dialDelay).toBe(5);
  });
});
