import { describe, expect, it } from 'vitest';
import { createLogger, peerLogger, prettyLine, redactSecrets, REDACTED } from '../../src/agent/log.ts';

function capture(level: 'info' | 'debug' = 'info', format: 'json' | 'pretty' | 'auto' = 'json', isTTY = false) {
  const lines: string[] = [];
  const log = createLogger({ level, format, stream: { write: (l: string) => lines.push(l), isTTY } });
  return { log, lines };
}

describe('logging', () => {
  it('writes one JSON object per line with level, time and message', () => {
    const { log, lines } = capture();
    log.info({ prefixes: 3 }, 'hello');
    const rec = JSON.parse(lines[0]);
    expect(rec).toMatchObject({ level: 30, msg: 'hello', prefixes: 3, pid: process.pid });
    expect(typeof rec.time).toBe('number');
  });

  it('never logs a password or secret, at any depth, under any case of the name', () => {
    const { log, lines } = capture();
    const peer = { peerIP: '10.0.0.9', asNumber: 65000, password: 'hunter2', nested: { bgp: [{ Password: 'p2', secret: 's3', secretRef: { name: 'k' } }] } };
    log.info({ peer, secret: 'top' }, 'peer configured');
    log.child({ auth: { password: 'in-bindings' } }).warn('child');
    const text = lines.join('');
    for (const s of ['hunter2', 'p2', 's3', 'top', 'in-bindings']) expect(text).not.toContain(s);
    const rec = JSON.parse(lines[0]);
    expect(rec.peer).toMatchObject({ peerIP: '10.0.0.9', password: REDACTED, nested: { bgp: [{ Password: REDACTED, secret: REDACTED }] } });
    // The caller's object is not modified.
    expect(peer.password).toBe('hunter2');
  });

  it('leaves objects without secrets untouched (no copy) and copes with cycles', () => {
    const clean = { a: 1, b: { c: [1, 2] } };
    expect(redactSecrets(clean)).toBe(clean);
    const cyclic: Record<string, unknown> = { password: 'x' };
    cyclic.self = cyclic;
    expect(redactSecrets(cyclic).password).toBe(REDACTED);
  });

  it('filters by level', () => {
    const { log, lines } = capture('info');
    log.debug('hidden');
    log.warn('shown');
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['shown']);
  });

  it('gives each peer a child logger carrying its address and AS', () => {
    const { log, lines } = capture();
    peerLogger(log, { address: 'fd00::2', asNumber: 64512, type: 'mesh' }).info({ from: 'OpenConfirm', to: 'Established' }, 'session state');
    expect(JSON.parse(lines[0])).toMatchObject({ peer: 'fd00::2', peerAs: 64512, peerType: 'mesh', to: 'Established' });
  });

  it('is pretty on a terminal with format auto, and when asked', () => {
    const tty = capture('info', 'auto', true);
    tty.log.info({ peer: '10.0.0.2', detail: 'two words' }, 'session up');
    expect(tty.lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}session up peer=10\.0\.0\.2 detail="two words"\n$/);
    const pipe = capture('info', 'auto', false);
    pipe.log.info('x');
    expect(() => JSON.parse(pipe.lines[0])).not.toThrow();
    expect(prettyLine(JSON.stringify({ level: 50, time: 0, msg: 'boom', err: { message: 'bad', stack: 'Error: bad\n  at x' } }))).toBe('00:00:00.000 ERROR boom err="bad"\nError: bad\n  at x\n');
  });
});
