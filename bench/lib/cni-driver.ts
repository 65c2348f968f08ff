/**
 * Runs inside the bench's host namespace (started with `ip netns exec`), so that each plugin is
 * spawned directly, as the runtime would, without `ip netns exec` in the measured time. Reads a
 * job from argv[2] (JSON), prints per-variant timings (ms) as JSON.
 */
import { spawnSync } from 'node:child_process';

interface Variant {
  name: string;
  /** argv of the plugin. */
  argv: string[];
  config: Record<string, unknown>;
}

interface Job {
  pods: string[];
  variants: Variant[];
}

const job = JSON.parse(process.argv[2]) as Job;

function call(v: Variant, command: string, pod: string, i: number): number {
  const started = process.hrtime.bigint();
  const r = spawnSync(v.argv[0], v.argv.slice(1), {
    input: JSON.stringify(v.config),
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      CNI_COMMAND: command,
      CNI_CONTAINERID: `bench-${v.name.replace(/[^A-Za-z0-9]/g, '')}-${i}`,
      CNI_NETNS: `/var/run/netns/${pod}`,
      CNI_IFNAME: 'eth0',
      CNI_PATH: '/usr/lib/cni',
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=pod-${i}`,
    },
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) throw new Error(`${v.name} ${command} pod ${i} failed: ${r.stdout} ${r.stderr}`);
  return ms;
}

const timings: Record<string, { add: number[]; del: number[]; version: number[] }> = {};
for (const v of job.variants) timings[v.name] = { add: [], del: [], version: [] };
// Interleave the variants pod by pod, so that load from other work hits them all alike.
for (const [i, pod] of job.pods.entries()) {
  for (const v of job.variants) {
    timings[v.name].add.push(call(v, 'ADD', pod, i));
    timings[v.name].del.push(call(v, 'DEL', pod, i));
    // VERSION does no work: what is left is the cost of starting the process.
    timings[v.name].version.push(call(v, 'VERSION', pod, i));
  }
}
process.stdout.write(JSON.stringify(timings));
