/**
 * A worker thread of the agent's CNI server (server.ts): runs one plugin invocation at a time
 * with the standalone plugin's code (main.ts runCni), which is synchronous (it waits on `ip`),
 * so that it blocks this thread and never the agent's event loop.
 */
import { parentPort } from 'node:worker_threads';
import { runCniCollected } from './main.ts';

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
  // runCni never throws: every failure is the spec's error JSON and exit status 1.
  const r = runCniCollected(job.env, job.stdin);
  parentPort!.postMessage({ id: job.id, ...r } satisfies WorkerResult);
});
