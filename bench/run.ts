// npm run bench -- NAME [args...]: runs bench/NAME.ts, prints its table, writes bench/results/NAME.json.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { formatReport, type Benchmark } from './lib/report.ts';

const [name, ...args] = process.argv.slice(2);
const available = readdirSync(new URL('.', import.meta.url))
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .map((f) => f.slice(0, -3));

if (!name || !available.includes(name)) {
  process.stderr.write(`usage: npm run bench -- NAME [args]\nbenchmarks: ${available.join(', ') || '(none yet)'}\n`);
  process.exit(2);
}

const mod = (await import(`./${name}.ts`)) as Benchmark;
const started = new Date();
const report = await mod.run(args);
process.stdout.write(formatReport(report));
const dir = new URL('./results/', import.meta.url);
mkdirSync(dir, { recursive: true });
const record = {
  name,
  args,
  started: started.toISOString(),
  machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
  ...report,
};
writeFileSync(new URL(`${name}.json`, dir), JSON.stringify(record, null, 2) + '\n');
