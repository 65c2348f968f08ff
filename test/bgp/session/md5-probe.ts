/**
 * Runs inside a network namespace for tcp-md5.netns.test.ts (`ip netns exec NS node md5-probe.ts`):
 * one listener with TCP MD5 keys for some peers, connections from several loopback sources with
 * or without keys, and what happened to each, as one JSON line on stdout. The test asserts.
 */
import net, { type Socket } from 'node:net';
import { loadTcpMd5 } from '../../../src/bgp/session/tcp-md5.ts';

type Outcome = 'connected' | 'no-connection';
/** A connection that should be refused is given this long (the kernel drops its SYNs silently). */
const REFUSED_AFTER_MS = 2000;
/** One that should succeed, generously (a loaded machine). */
const CONNECTED_WITHIN_MS = 15_000;

const md5 = loadTcpMd5();

function listen(host: string): Promise<{ server: net.Server; port: number; received: Map<string, string> }> {
  const received = new Map<string, string>();
  const server = net.createServer((s) => {
    s.on('data', (d) => received.set(String(s.remoteAddress).replace(/^::ffff:/, ''), d.toString()));
    s.on('error', () => undefined);
  });
  return new Promise((resolve) => server.listen({ host, port: 0 }, () => resolve({ server, port: (server.address() as net.AddressInfo).port, received })));
}

/** Connects from `from` (signed with `password` when given) and says whether the handshake completed. */
function attempt(opts: { host: string; port: number; from: string; password?: string }, waitMs = REFUSED_AFTER_MS): Promise<Outcome> {
  return new Promise((resolve) => {
    let socket: Socket;
    const target = { host: opts.host, port: opts.port, localAddress: opts.from };
    if (opts.password !== undefined) socket = md5.connect({ ...target, password: opts.password });
    else socket = net.connect(target);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('no-connection');
    }, waitMs);
    socket.on('error', () => undefined);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.end(`hello from ${opts.from}`, () => setTimeout(() => resolve('connected'), 100));
    });
  });
}

const { server, port, received } = await listen('::');
md5.setListenerKey(server, '127.0.0.2', 'k-v4');
md5.setListenerKey(server, '::2', 'k-v6');
const results: Record<string, Outcome | string> = {};
const [v4, v6, wrong, unsigned, other] = await Promise.all([
  attempt({ host: '127.0.0.1', port, from: '127.0.0.2', password: 'k-v4' }, CONNECTED_WITHIN_MS),
  attempt({ host: '::1', port, from: '::2', password: 'k-v6' }, CONNECTED_WITHIN_MS),
  attempt({ host: '127.0.0.1', port, from: '127.0.0.2', password: 'k-wrong' }),
  attempt({ host: '::1', port, from: '::2' }),
  attempt({ host: '127.0.0.1', port, from: '127.0.0.3' }, CONNECTED_WITHIN_MS),
]);
Object.assign(results, { v4, v6, wrong, unsigned, other });
// What the signed connections carried (before 127.0.0.2 connects again, unsigned).
results.receivedV4 = received.get('127.0.0.2') ?? '';
results.receivedV6 = received.get('::2') ?? '';
received.clear();
// Peer removed: its key goes, and it is an unsigned peer like any other.
md5.setListenerKey(server, '127.0.0.2', null);
results.afterRemoval = await attempt({ host: '127.0.0.1', port, from: '127.0.0.2' }, CONNECTED_WITHIN_MS);
// A signed connection to a listener with no key for us is refused too (RFC 2385 both ways).
results.signedToUnkeyed = await attempt({ host: '127.0.0.1', port, from: '127.0.0.4', password: 'k-v4' });
server.close();
process.stdout.write(JSON.stringify(results) + '\n');
