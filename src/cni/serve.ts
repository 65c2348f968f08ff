/**
 * `node src/cni/serve.ts SOCKET [WORKERS]`: the agent's CNI server (server.ts) on its own, for
 * tests and the bench, which run it inside a network namespace of theirs. Prints "ready" once it
 * listens; stops on SIGTERM or SIGINT. The agent runs CniServer itself (src/agent/run.ts).
 * TORTIE_CNI_WIRING=ip makes the workers use `ip` processes instead of netlink (to compare).
 */
import { CniServer } from './server.ts';

const [path, workers] = process.argv.slice(2);
if (!path) {
  process.stderr.write('usage: node src/cni/serve.ts SOCKET [WORKERS]\n');
  process.exit(2);
}
const server = new CniServer(path, {
  ...(workers ? { workers: Number(workers) } : {}),
  ...(process.env.TORTIE_CNI_WIRING === 'ip' ? { wiring: 'ip' as const } : {}),
  onEvent: (e) => {
    // One line per event on stdout, which tests read to tell the server's work from the fallback's.
    if (e.kind === 'done') process.stdout.write(`done ${e.command} ${e.containerId} ${e.exitCode}\n`);
    else process.stdout.write(`${e.kind} ${e.reason}\n`);
  },
});
await server.start();
process.stdout.write('ready\n');
const stop = () => void server.stop().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
