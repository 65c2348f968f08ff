import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Lifecycle, type ProcessLike } from '../../src/agent/lifecycle.ts';
import { createLogger } from '../../src/agent/log.ts';

function setup(timeoutMs = 1000) {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ level: 'debug', format: 'json', stream: { write: (l: string) => lines.push(JSON.parse(l)) } });
  const proc = new EventEmitter() as EventEmitter & ProcessLike;
  const exits: number[] = [];
  let exited!: () => void;
  const exitedP = new Promise<void>((r) => (exited = r));
  const lc = new Lifecycle({ log, shutdownTimeoutMs: timeoutMs, proc, exit: (c) => (exits.push(c), exited()) });
  lc.installSignalHandlers();
  return { lc, proc, exits, exitedP, lines };
}

describe('lifecycle', () => {
  it('on SIGTERM stops components in reverse order of registration and exits 0', async () => {
    const { lc, proc, exits, exitedP } = setup();
    const order: string[] = [];
    for (const name of ['datastore', 'speaker', 'dataplane', 'control socket']) lc.add({ name, stop: async () => void order.push(name) });
    proc.emit('SIGTERM');
    await exitedP;
    expect(order).toEqual(['control socket', 'dataplane', 'speaker', 'datastore']);
    expect(exits).toEqual([0]);
  });

  it('keeps stopping the rest when one component fails, and exits 1', async () => {
    const { lc, proc, exits, exitedP, lines } = setup();
    const order: string[] = [];
    lc.add({ name: 'a', stop: () => void order.push('a') });
    lc.add({ name: 'b', stop: () => { throw new Error('b broke'); } });
    lc.add({ name: 'c', stop: () => void order.push('c') });
    proc.emit('SIGINT');
    await exitedP;
    expect(order).toEqual(['c', 'a']);
    expect(exits).toEqual([1]);
    expect(lines.find((l) => l.component === 'b')).toMatchObject({ msg: 'component failed to stop cleanly', err: { message: 'b broke' } });
  });

  it('exits 1 when the shutdown timeout passes, without waiting for a stuck component', async () => {
    const { lc, proc, exits, exitedP } = setup(50);
    const order: string[] = [];
    lc.add({ name: 'late', stop: () => void order.push('late') });
    lc.add({ name: 'stuck', stop: () => new Promise<void>(() => undefined) });
    proc.emit('SIGTERM');
    await exitedP;
    expect(exits).toEqual([1]);
    expect(order).toEqual([]);
  });

  it('exits at once on a second signal during shutdown', async () => {
    const { lc, proc, exits } = setup(60_000);
    lc.add({ name: 'slow', stop: () => new Promise<void>(() => undefined) });
    proc.emit('SIGTERM');
    proc.emit('SIGTERM');
    expect(exits).toEqual([1]);
  });

  it('runs reload hooks on SIGHUP; a failing hook is logged and the others still run', async () => {
    const { lc, proc, exits, lines } = setup();
    const ran: string[] = [];
    lc.onReload('bad', () => { throw new Error('peers.yaml line 3: asNumber must be a number'); });
    lc.onReload('good', () => void ran.push('good'));
    proc.emit('SIGHUP');
    await lc.reload();
    expect(ran).toEqual(['good', 'good']);
    expect(exits).toEqual([]);
    expect(lines.filter((l) => l.msg === 'reload failed; keeping the running configuration')).toHaveLength(2);
  });
});
