// Prints every committed benchmark result (bench/results/*.json) as Markdown, for the README.
import { readdirSync, readFileSync } from 'node:fs';
import { formatReport, type BenchReport } from '../bench/lib/report.ts';

const dir = new URL('../bench/results/', import.meta.url);
for (const f of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
  const r = JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as BenchReport & { name: string; started: string; machine?: { cpus?: number } };
  process.stdout.write(`### ${r.name} (\`npm run bench -- ${r.name}\`, ${r.started.slice(0, 10)})\n\n${formatReport(r)}\n`);
}
