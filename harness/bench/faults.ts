/**
 * Prints the fault matrix `npm run faults` collected (one JSON row per case, written by the tests in
 * harness/e2e/faults/): every case with what was expected and what happened, then the totals the
 * issue asks for: cases, hangs, lost or false results, wrong class, unclear messages, raw control bytes.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** One case of the matrix, as the tests in harness/e2e/faults/ record it. */
export interface MatrixRow {
  group: string;
  name: string;
  expected: string;
  got: string;
  elapsedMs: number;
  problems: string[];
}

const KINDS = [
  ['hangs', 'hang'],
  ['lost or false', 'lost', 'false result'],
  ['wrong class', 'wrong class'],
  ['unclear', 'unclear'],
  ['control bytes', 'raw control byte'],
] as const;

function main(file: string | undefined): number {
  if (!file || !existsSync(file)) {
    process.stderr.write(`faults: no matrix file ${file ?? '(none given)'}: run the fault tests with QHIL_FAULT_MATRIX set (npm run faults)\n`);
    return 2;
  }
  const rows = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as MatrixRow)
    .sort((a, b) => a.group.localeCompare(b.group) || a.name.localeCompare(b.name));
  const lines: string[] = ['| group | case | expected | got | ms | verdict |', '|---|---|---|---|---:|---|'];
  for (const row of rows) {
    const verdict = row.problems.length === 0 ? 'right' : row.problems.join('; ');
    lines.push(`| ${row.group} | ${row.name.replace(/\|/g, '\\|')} | ${row.expected} | ${row.got} | ${row.elapsedMs} | ${verdict.replace(/\|/g, '\\|')} |`);
  }
  const totals = KINDS.map(([label, ...prefixes]) => {
    const count = rows.filter((row) => row.problems.some((problem) => prefixes.some((prefix) => problem.startsWith(prefix)))).length;
    return `${count} ${label}`;
  });
  const right = rows.filter((row) => row.problems.length === 0).length;
  lines.push('', `${rows.length} cases: ${right} right, ${totals.join(', ')}`);
  const text = `${lines.join('\n')}\n`;
  writeFileSync(file.replace(/\.jsonl$/, '.md'), text);
  process.stdout.write(text);
  return right === rows.length ? 0 : 1;
}

process.exitCode = main(process.argv[2]);
