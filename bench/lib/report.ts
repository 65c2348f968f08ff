/**
 * What every benchmark returns: a table for people and the same figures as JSON for the record.
 * `bench/run.ts` prints the table and writes `bench/results/NAME.json`.
 */
export interface BenchReport {
  /** One line saying what was measured and on what. */
  title: string;
  /** Column headers, in order. */
  columns: string[];
  /** One row per case; cells are numbers or short strings. */
  rows: Array<Array<string | number>>;
  /** Free-form notes printed under the table (targets, caveats). */
  notes?: string[];
}

export interface Benchmark {
  run(args: string[]): Promise<BenchReport>;
}

function cell(v: string | number): string {
  if (typeof v === 'string') return v;
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3);
}

/** Renders a report as a Markdown table, ready to paste into the README. */
export function formatReport(r: BenchReport): string {
  const body = r.rows.map((row) => row.map(cell));
  const widths = r.columns.map((c, i) => Math.max(c.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  const out = [r.title, '', line(r.columns), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)];
  if (r.notes?.length) out.push('', ...r.notes);
  return out.join('\n') + '\n';
}
