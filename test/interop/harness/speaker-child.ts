/**
 * A tortie Speaker in a process of its own, so that it can run inside a network namespace
 * (`ip netns exec NS node speaker-child.ts`). Driven by JSON lines on stdin; answers and events as
 * JSON lines on stdout. Used by interop tests only.
 */
import { flushCompileCache } from 'node:module';
import { createInterface } from 'node:readline';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Speaker, type SpeakerOptions } from '../../../src/bgp/speaker.ts';
import { Afi } from '../../../src/bgp/wire/constants.ts';
import { formatKey } from '../../../src/bgp/rib/prefix.ts';
import { AFIS } from '../../../src/bgp/rib/rib.ts';

// Every module is loaded: write their compiled code to the compile cache now (when NODE_COMPILE_CACHE
// names one), since this process usually ends by a signal, which skips the write at exit.
flushCompileCache();

let speaker: Speaker | null = null;
/** Selection deferral and enhanced refresh events, in order, for tests to read back. */
const events: object[] = [];
const out = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');

function routes(): object[] {
  const s = speaker!;
  const list: object[] = [];
  for (const afi of AFIS) {
    for (const key of s.rib.locRibKeys(afi)) {
      const b = s.rib.best(afi, key)!;
      const { id: _id, ...attrs } = b.attrs;
      list.push({ family: afi === Afi.IPv4 ? 'ipv4' : 'ipv6', prefix: formatKey(key), peer: b.source.kind === 'local' ? null : b.source.address, ...attrs });
    }
  }
  return list;
}

/**
 * One full GC without starting node with --expose-gc (which would change V8's flags, and so the
 * compile cache the process can use, from what the agent runs with).
 */
function collectGarbage(): void {
  if (globalThis.gc) return globalThis.gc();
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

async function handle(op: string, args: unknown[]): Promise<unknown> {
  switch (op) {
    case 'start':
      speaker = new Speaker(args[0] as SpeakerOptions);
      speaker.on('selection-deferral-end', (e) => events.push({ event: 'selection-deferral-end', at: Date.now(), ...e }));
      speaker.on('enhanced-refresh', (e) => events.push({ event: 'enhanced-refresh', at: Date.now(), ...e }));
      speaker.on('end-of-rib', (e) => events.push({ event: 'end-of-rib', at: Date.now(), ...e }));
      speaker.on('peer-state', (e) => events.push({ event: 'peer-state', at: Date.now(), ...e }));
      await speaker.start();
      return speaker.listenPort;
    case 'addPeer':
      return speaker!.addPeer(args[0] as Parameters<Speaker['addPeer']>[0]);
    case 'reconfigurePeer':
      return speaker!.reconfigurePeer(args[0] as Parameters<Speaker['reconfigurePeer']>[0]);
    case 'events':
      return { deferred: speaker!.selectionDeferred, events };
    case 'removePeer':
      return speaker!.removePeer(args[0] as string);
    case 'originate':
      return speaker!.originate(args[0] as string, (args[1] ?? {}) as Parameters<Speaker['originate']>[1]);
    case 'withdraw':
      return speaker!.withdraw(args[0] as string);
    case 'refresh':
      return speaker!.refresh(args[0] as string, args[1] as 'ipv4' | 'ipv6');
    case 'status':
      return speaker!.status();
    case 'routes':
      return routes();
    case 'count':
      return { ipv4: speaker!.rib.locRibSize(Afi.IPv4), ipv6: speaker!.rib.locRibSize(Afi.IPv6) };
    case 'memory':
      collectGarbage();
      return process.memoryUsage();
    case 'stop':
      await speaker?.stop();
      setTimeout(() => process.exit(0), 50);
      return null;
    default:
      throw new Error(`unknown op ${op}`);
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  let req: { id: number; op: string; args?: unknown[] };
  try {
    req = JSON.parse(line);
  } catch {
    return;
  }
  handle(req.op, req.args ?? []).then(
    (result) => out({ id: req.id, ok: true, result: result ?? null }),
    (e: Error) => out({ id: req.id, ok: false, error: e.message }),
  );
});
process.stdin.on('end', () => process.exit(0));
