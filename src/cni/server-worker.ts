/**
 * A worker thread of the agent's CNI server (server.ts): runs one plugin invocation at a time
 * with the standalone plugin's code (main.ts runCni). Wiring goes through netlink (one relay per
 * worker, kept for its lifetime: netlink-wiring.ts); the IPAM parts stay synchronous (file locks,
 * a delegated plugin's process), which blocks this thread and never the agent's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runCniCollected } from './main.ts';
import { NetlinkWiring } from './netlink-wiring.ts';
import { ipWiring } from './wiring.ts';

/** `ip` selects the `ip` processes of the standalone plugin (for comparison in the bench). */
export interface WorkerConfig {
  wiring?: 'netlink' | 'ip';
}

const config = (workerData ?? {}) as WorkerConfig;
const wiring = config.wiring === 'ip' ? ipWiring : new NetlinkWiring();

export interface WorkerJob {
  id: number;
  env: NodeJS.ProcessEnv;
  stdin: string;
}

export interface WorkerResult {
  id: number;
  exitCode: number;
  stdout: string;
  stderr: string;
}

parentPort?.on('message', (job: WorkerJob) => {
  // runCni never rejects: every failure is the spec's error JSON and exit status 1. The pool sends
  // the next job only after this one's result.
  void runCniCollected(job.env, job.stdin, wiring).then((r) => parentPort!.postMessage({ id: job.id, ...r } satisfies WorkerResult));
});
