import { describe, expect, it } from 'vitest';
import { step, State, type Action, type FsmContext, type FsmEvent } from '../../../src/bgp/session/fsm.ts';
import { Backoff } from '../../../src/bgp/session/backoff.ts';
import { buildOpen } from '../../../src/bgp/session/open.ts';
import { Afi, CeaseSubcode, ErrorCode, FsmSubcode, OpenSubcode } from '../../../src/bgp/wire/constants.ts';
import type { OpenMessage } from '../../../src/bgp/wire/types.ts';

function ctx(over: { passive?: boolean; holdTime?: number; gr?: boolean } = {}): FsmContext {
  return {
    config: {
      local: {
        localAsn: 64512,
        routerId: 0x0a000001,
        holdTime: over.holdTime ?? 9,
        families: [Afi.IPv4],
        ...(over.gr ? { gracefulRestart: { restartTime: 120, restarting: false, forwardingPreserved: true } } : {}),
      },
      peer: { peerAsn: 65001 },
      passive: over.passive ?? false,
      connectRetryTime: 5,
      openHoldTime: 240,
    },
    backoff: new Backoff({ initialMs: 1000, maxMs: 8000, random: () => 1 }),
    negotiated: null,
    stopped: false,
    lastError: null,
  };
}

const peerOpen = (over: Partial<OpenMessage> = {}, gr = false): OpenMessage => ({
  ...buildOpen({ localAsn: 65001, routerId: 0x0a000002, holdTime: 30, families: [Afi.IPv4], ...(gr ? { gracefulRestart: { restartTime: 60, restarting: false, forwardingPreserved: true } } : {}) }),
  ...over,
});

/** Runs events from a state; returns the final state and every action. */
function run(c: FsmContext, from: State, events: FsmEvent[]): { state: State; actions: Action[] } {
  let state = from;
  const actions: Action[] = [];
  for (const ev of events) {
    const t = step(state, c, ev);
    state = t.next;
    actions.push(...t.actions);
  }
  return { state, actions };
}

const sent = (actions: Action[]) => actions.filter((a) => a.do === 'send').map((a) => (a.do === 'send' ? a.msg : null)!);
const armed = (actions: Action[], timer: string) => actions.filter((a) => a.do === 'arm' && a.timer === timer).map((a) => (a.do === 'arm' ? a.seconds : 0));

describe('BGP FSM (RFC 4271 8)', () => {
  it('an active peer connects, sends OPEN, and reaches Established on the peer\'s OPEN and KEEPALIVE', () => {
    const c = ctx();
    let r = run(c, State.Idle, [{ type: 'start' }]);
    expect(r.state).toBe(State.Connect);
    expect(r.actions.some((a) => a.do === 'connect')).toBe(true);
    r = run(c, r.state, [{ type: 'tcp-up' }]);
    expect(r.state).toBe(State.OpenSent);
    expect(sent(r.actions)[0].type).toBe('open');
    expect(armed(r.actions, 'hold')).toEqual([240]);
    r = run(c, r.state, [{ type: 'open', open: peerOpen() }]);
    expect(r.state).toBe(State.OpenConfirm);
    expect(sent(r.actions).map((m) => m.type)).toEqual(['keepalive']);
    // Negotiated hold time is the smaller one, keepalive a third of it.
    expect(armed(r.actions, 'hold')).toEqual([9]);
    expect(armed(r.actions, 'keepalive')).toEqual([3]);
    r = run(c, r.state, [{ type: 'keepalive' }]);
    expect(r.state).toBe(State.Established);
    expect(r.actions.find((a) => a.do === 'established')).toBeTruthy();
  });

  it('a passive peer never connects: it waits in Active for the peer', () => {
    const c = ctx({ passive: true });
    let r = run(c, State.Idle, [{ type: 'start' }, { type: 'timer', timer: 'connectRetry' }, { type: 'timer', timer: 'connectRetry' }]);
    expect(r.state).toBe(State.Active);
    expect(r.actions.some((a) => a.do === 'connect')).toBe(false);
    r = run(c, r.state, [{ type: 'tcp-up' }]);
    expect(r.state).toBe(State.OpenSent);
  });

  it('a failed connect falls back to Active and retries when ConnectRetry fires', () => {
    const c = ctx();
    const r = run(c, State.Idle, [{ type: 'start' }, { type: 'tcp-down', reason: 'ECONNREFUSED' }]);
    expect(r.state).toBe(State.Active);
    const again = run(c, r.state, [{ type: 'timer', timer: 'connectRetry' }]);
    expect(again.state).toBe(State.Connect);
    expect(again.actions.some((a) => a.do === 'connect')).toBe(true);
  });

  it('answers a bad OPEN with its NOTIFICATION and goes Idle with an idle hold', () => {
    const cases: Array<[Partial<OpenMessage>, number]> = [
      [{ version: 3 }, OpenSubcode.UnsupportedVersionNumber],
      [{ myAsn: 65002, capabilities: [] }, OpenSubcode.BadPeerAs],
      [{ bgpId: 0 }, OpenSubcode.BadBgpIdentifier],
      [{ holdTime: 2 }, OpenSubcode.UnacceptableHoldTime],
    ];
    for (const [over, subcode] of cases) {
      const c = ctx();
      const r = run(c, State.OpenSent, [{ type: 'open', open: peerOpen(over) }]);
      expect(r.state).toBe(State.Idle);
      const n = sent(r.actions)[0];
      expect(n).toMatchObject({ type: 'notification', code: ErrorCode.OpenMessage, subcode });
      expect(armed(r.actions, 'idleHold')).toEqual([1]);
      expect(c.lastError).toMatch(/bad OPEN/);
    }
  });

  it('backs off exponentially after repeated failures, and an Established session resets the backoff', () => {
    const c = ctx();
    const holds: number[] = [];
    let state: State = State.Idle;
    for (let i = 0; i < 5; i++) {
      const r = run(c, state, [{ type: 'timer', timer: 'idleHold' }, { type: 'tcp-up' }, { type: 'notification', msg: { type: 'notification', code: 6, subcode: 5, data: new Uint8Array() } }]);
      state = r.state;
      holds.push(...armed(r.actions, 'idleHold'));
    }
    expect(holds).toEqual([1, 2, 4, 8, 8]);
    run(c, State.Idle, [{ type: 'timer', timer: 'idleHold' }, { type: 'tcp-up' }, { type: 'open', open: peerOpen() }, { type: 'keepalive' }]);
    const r = run(c, State.Established, [{ type: 'tcp-down', reason: 'reset' }]);
    expect(armed(r.actions, 'idleHold')).toEqual([1]);
  });

  it('expires the hold timer in Established with NOTIFICATION 4, and drops routes even when GR was negotiated (no RFC 8538 N bit)', () => {
    for (const gr of [false, true]) {
      const c = ctx({ gr });
      run(c, State.OpenSent, [{ type: 'open', open: peerOpen({}, gr) }, { type: 'keepalive' }]);
      const r = run(c, State.Established, [{ type: 'timer', timer: 'hold' }]);
      expect(r.state).toBe(State.Idle);
      expect(sent(r.actions)[0]).toMatchObject({ type: 'notification', code: ErrorCode.HoldTimerExpired });
      expect(r.actions.find((a) => a.do === 'down')).toMatchObject({ wasEstablished: true, graceful: false });
    }
  });

  it('restarts the hold timer on KEEPALIVE and UPDATE, and sends KEEPALIVE when its timer fires', () => {
    const c = ctx();
    run(c, State.OpenSent, [{ type: 'open', open: peerOpen() }]);
    const r = run(c, State.Established, [{ type: 'keepalive' }, { type: 'update' }, { type: 'timer', timer: 'keepalive' }]);
    expect(r.state).toBe(State.Established);
    expect(armed(r.actions, 'hold')).toEqual([9, 9]);
    expect(sent(r.actions).map((m) => m.type)).toEqual(['keepalive']);
  });

  it('negotiating hold time 0 arms neither hold nor keepalive timers', () => {
    const c = ctx({ holdTime: 0 });
    const r = run(c, State.OpenSent, [{ type: 'open', open: peerOpen() }, { type: 'keepalive' }, { type: 'keepalive' }]);
    expect(r.state).toBe(State.Established);
    expect(armed(r.actions, 'hold')).toEqual([]);
    expect(armed(r.actions, 'keepalive')).toEqual([]);
  });

  it('answers messages out of order with the RFC 6608 FSM error subcodes', () => {
    let r = run(ctx(), State.OpenSent, [{ type: 'update' }]);
    expect(sent(r.actions)[0]).toMatchObject({ code: ErrorCode.FiniteStateMachine, subcode: FsmSubcode.UnexpectedInOpenSent });
    const c = ctx();
    run(c, State.OpenSent, [{ type: 'open', open: peerOpen() }]);
    r = run(c, State.OpenConfirm, [{ type: 'update' }]);
    expect(sent(r.actions)[0]).toMatchObject({ code: ErrorCode.FiniteStateMachine, subcode: FsmSubcode.UnexpectedInOpenConfirm });
    const e = ctx();
    run(e, State.OpenSent, [{ type: 'open', open: peerOpen() }, { type: 'keepalive' }]);
    r = run(e, State.Established, [{ type: 'open', open: peerOpen() }]);
    expect(sent(r.actions)[0]).toMatchObject({ code: ErrorCode.FiniteStateMachine, subcode: FsmSubcode.UnexpectedInEstablished });
  });

  it('a manual stop sends Cease/Administrative Shutdown and does not come back by itself', () => {
    const c = ctx();
    run(c, State.OpenSent, [{ type: 'open', open: peerOpen() }, { type: 'keepalive' }]);
    const r = run(c, State.Established, [{ type: 'stop' }]);
    expect(sent(r.actions)[0]).toMatchObject({ code: ErrorCode.Cease, subcode: CeaseSubcode.AdministrativeShutdown });
    expect(armed(r.actions, 'idleHold')).toEqual([]);
    expect(run(c, State.Idle, [{ type: 'timer', timer: 'idleHold' }]).state).toBe(State.Idle);
  });

  it('a peer NOTIFICATION in Established drops the routes (no graceful restart)', () => {
    const c = ctx({ gr: true });
    run(c, State.OpenSent, [{ type: 'open', open: peerOpen({}, true) }, { type: 'keepalive' }]);
    const r = run(c, State.Established, [{ type: 'notification', msg: { type: 'notification', code: 6, subcode: 2, data: new Uint8Array(), communication: 'maintenance' } }]);
    expect(r.actions.find((a) => a.do === 'down')).toMatchObject({ graceful: false, reason: expect.stringContaining('maintenance') });
  });
});
