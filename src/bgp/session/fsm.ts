/**
 * The RFC 4271 8 finite state machine, one handler per state, as pure functions: a handler takes
 * the session's context and one event, and returns the next state and the actions to carry out
 * (send, connect, close, arm or cancel a timer, report). It does no I/O and reads no clock, so
 * every transition can be tested directly; `session.ts` runs the actions against a socket.
 *
 * Connection collision (RFC 4271 6.8) involves two connections and is resolved by the session
 * before events reach this machine: the machine only ever sees the connection that survived.
 */
import { CeaseSubcode, ErrorCode, FsmSubcode } from '../wire/constants.ts';
import type { BgpError, Message, NotificationMessage, OpenMessage } from '../wire/types.ts';
import type { Backoff } from './backoff.ts';
import { buildOpen, validateOpen, type LocalOpenConfig, type Negotiated, type PeerExpectation } from './open.ts';

export const State = {
  Idle: 'Idle',
  Connect: 'Connect',
  Active: 'Active',
  OpenSent: 'OpenSent',
  OpenConfirm: 'OpenConfirm',
  Established: 'Established',
} as const;
export type State = (typeof State)[keyof typeof State];

export type TimerName = 'connectRetry' | 'hold' | 'keepalive' | 'idleHold';

export type FsmEvent =
  /** ManualStart (1), or AutomaticStart (3) when the idle hold is over. */
  | { type: 'start' }
  /** ManualStop (2): send a Cease (Administrative Shutdown unless `error` says otherwise). */
  | { type: 'stop'; error?: BgpError }
  /** ConnectRetryTimer_Expires (9), HoldTimer_Expires (10), KeepaliveTimer_Expires (11), IdleHoldTimer_Expires (13). */
  | { type: 'timer'; timer: TimerName }
  /** Tcp_CR_Acked / TcpConnectionConfirmed (16, 17): the connection is up (ours or the peer's). */
  | { type: 'tcp-up' }
  /** TcpConnectionFails (18). */
  | { type: 'tcp-down'; reason: string }
  /** BGPOpen (19). */
  | { type: 'open'; open: OpenMessage }
  /** BGPHeaderErr (21), BGPOpenMsgErr (22), UpdateMsgErr (28) with a session reset. */
  | { type: 'bad-message'; error: BgpError }
  /** NotifMsg (25). */
  | { type: 'notification'; msg: NotificationMessage }
  /** KeepAliveMsg (26). */
  | { type: 'keepalive' }
  /** UpdateMsg (27); the session hands its content to the RIB. */
  | { type: 'update' }
  /** ROUTE-REFRESH (RFC 2918). */
  | { type: 'route-refresh' };

export type Action =
  | { do: 'connect' }
  | { do: 'close' }
  | { do: 'send'; msg: Message }
  | { do: 'arm'; timer: TimerName; seconds: number }
  | { do: 'cancel'; timer: TimerName }
  | { do: 'established'; negotiated: Negotiated }
  /** The session left Established (or a connection attempt failed: `wasEstablished` false). */
  | { do: 'down'; reason: string; wasEstablished: boolean; graceful: boolean; sent?: BgpError; received?: NotificationMessage };

export interface FsmConfig {
  local: LocalOpenConfig;
  peer: PeerExpectation;
  /** Never initiate connections: wait for the peer (the higher address of a mesh pair). */
  passive: boolean;
  /** Seconds (RFC 4271 10 suggests 120; tests and meshes use less). */
  connectRetryTime: number;
  /** RFC 4271 8: the hold time while waiting for the peer's OPEN ("a large value", 4 minutes). */
  openHoldTime: number;
}

export interface FsmContext {
  config: FsmConfig;
  backoff: Backoff;
  negotiated: Negotiated | null;
  /** Set by a manual stop; the idle hold timer does not restart a stopped session. */
  stopped: boolean;
  lastError: string | null;
}

export interface Transition {
  next: State;
  actions: Action[];
}

const STOP_TIMERS: Action[] = [
  { do: 'cancel', timer: 'connectRetry' },
  { do: 'cancel', timer: 'hold' },
  { do: 'cancel', timer: 'keepalive' },
];

/** The event changes nothing in `state`. */
const stay = (state: State): Transition => ({ next: state, actions: [] });

const armConnectRetry = (ctx: FsmContext): Action => ({ do: 'arm', timer: 'connectRetry', seconds: ctx.config.connectRetryTime });

function notification(e: BgpError): Action {
  return { do: 'send', msg: { type: 'notification', code: e.code, subcode: e.subcode, data: e.data } };
}

const fsmError = (subcode: number, what: string): BgpError => ({
  code: ErrorCode.FiniteStateMachine,
  subcode,
  data: new Uint8Array(0),
  reason: `unexpected ${what} (RFC 6608)`,
});

const adminShutdown: BgpError = { code: ErrorCode.Cease, subcode: CeaseSubcode.AdministrativeShutdown, data: new Uint8Array(0), reason: 'administrative shutdown' };
const holdExpired: BgpError = { code: ErrorCode.HoldTimerExpired, subcode: 0, data: new Uint8Array(0), reason: 'hold timer expired' };

/**
 * Leaving for Idle: close, stop timers, report, and (unless stopped by hand) arm the idle hold timer
 * with the backoff's next interval so that retries slow down.
 */
function toIdle(
  ctx: FsmContext,
  from: State,
  reason: string,
  opts: { send?: BgpError; received?: NotificationMessage; graceful?: boolean } = {},
): Transition {
  const actions: Action[] = [];
  if (opts.send) actions.push(notification(opts.send));
  actions.push({ do: 'close' }, ...STOP_TIMERS);
  ctx.lastError = reason;
  actions.push({ do: 'down', reason, wasEstablished: from === State.Established, graceful: !!opts.graceful, sent: opts.send, received: opts.received });
  ctx.negotiated = null;
  if (!ctx.stopped) actions.push({ do: 'arm', timer: 'idleHold', seconds: ctx.backoff.next() / 1000 });
  return { next: State.Idle, actions };
}

function sendOpen(ctx: FsmContext): Action[] {
  return [
    { do: 'cancel', timer: 'connectRetry' },
    { do: 'send', msg: buildOpen(ctx.config.local) },
    { do: 'arm', timer: 'hold', seconds: ctx.config.openHoldTime },
  ];
}

function notificationReason(n: NotificationMessage): string {
  return `peer sent NOTIFICATION ${n.code}/${n.subcode}${n.communication ? `: ${n.communication}` : ''}`;
}

// ---------------------------------------------------------------------------------------------
// One handler per state (RFC 4271 8.2.2)

function idle(ctx: FsmContext, ev: FsmEvent): Transition {
  switch (ev.type) {
    case 'start':
    case 'timer':
      if (ev.type === 'start') ctx.stopped = false;
      else if (ev.timer !== 'idleHold' || ctx.stopped) return stay(State.Idle);
      if (ctx.config.passive) return { next: State.Active, actions: [armConnectRetry(ctx)] };
      return { next: State.Connect, actions: [{ do: 'connect' }, armConnectRetry(ctx)] };
    case 'stop':
      ctx.stopped = true;
      return { next: State.Idle, actions: [{ do: 'cancel', timer: 'idleHold' }] };
    default:
      // Idle refuses everything else (the session closes any connection that shows up).
      return { next: State.Idle, actions: [{ do: 'close' }] };
  }
}

function connect(ctx: FsmContext, ev: FsmEvent): Transition {
  switch (ev.type) {
    case 'start':
      return stay(State.Connect);
    case 'stop':
      ctx.stopped = true;
      return toIdle(ctx, State.Connect, 'stopped');
    case 'timer':
      if (ev.timer === 'connectRetry') {
        return { next: State.Connect, actions: [{ do: 'close' }, { do: 'connect' }, armConnectRetry(ctx)] };
      }
      return stay(State.Connect);
    case 'tcp-up':
      return { next: State.OpenSent, actions: sendOpen(ctx) };
    case 'tcp-down':
      // Keep listening for the peer; retry ours when the timer fires.
      ctx.lastError = ev.reason;
      return { next: State.Active, actions: [{ do: 'close' }, armConnectRetry(ctx)] };
    default:
      return toIdle(ctx, State.Connect, `unexpected ${ev.type} in Connect`);
  }
}

function active(ctx: FsmContext, ev: FsmEvent): Transition {
  switch (ev.type) {
    case 'start':
      return stay(State.Active);
    case 'stop':
      ctx.stopped = true;
      return toIdle(ctx, State.Active, 'stopped');
    case 'timer':
      if (ev.timer !== 'connectRetry') return stay(State.Active);
      if (ctx.config.passive) return { next: State.Active, actions: [armConnectRetry(ctx)] };
      return { next: State.Connect, actions: [{ do: 'connect' }, armConnectRetry(ctx)] };
    case 'tcp-up':
      return { next: State.OpenSent, actions: sendOpen(ctx) };
    case 'tcp-down':
      ctx.lastError = ev.reason;
      return { next: State.Active, actions: [{ do: 'close' }, armConnectRetry(ctx)] };
    default:
      return toIdle(ctx, State.Active, `unexpected ${ev.type} in Active`);
  }
}

function openSent(ctx: FsmContext, ev: FsmEvent): Transition {
  switch (ev.type) {
    case 'start':
      return stay(State.OpenSent);
    case 'stop':
      ctx.stopped = true;
      return toIdle(ctx, State.OpenSent, 'stopped', { send: ev.error ?? adminShutdown });
    case 'timer':
      if (ev.timer === 'hold') return toIdle(ctx, State.OpenSent, 'hold timer expired waiting for OPEN', { send: holdExpired });
      return stay(State.OpenSent);
    case 'tcp-down':
      // RFC 4271 8.2.2 OpenSent: TcpConnectionFails -> Active, keep listening.
      ctx.lastError = ev.reason;
      return { next: State.Active, actions: [{ do: 'close' }, ...STOP_TIMERS, armConnectRetry(ctx)] };
    case 'open': {
      const v = validateOpen(ev.open, ctx.config.local, ctx.config.peer);
      if (!v.ok) return toIdle(ctx, State.OpenSent, `bad OPEN: ${v.error.reason}`, { send: v.error });
      ctx.negotiated = v.negotiated;
      const n = v.negotiated;
      const actions: Action[] = [{ do: 'cancel', timer: 'connectRetry' }, { do: 'send', msg: { type: 'keepalive' } }];
      if (n.holdTime > 0) {
        actions.push({ do: 'arm', timer: 'keepalive', seconds: n.keepaliveTime }, { do: 'arm', timer: 'hold', seconds: n.holdTime });
      } else {
        actions.push({ do: 'cancel', timer: 'hold' });
      }
      return { next: State.OpenConfirm, actions };
    }
    case 'bad-message':
      return toIdle(ctx, State.OpenSent, ev.error.reason, { send: ev.error });
    case 'notification':
      return toIdle(ctx, State.OpenSent, notificationReason(ev.msg), { received: ev.msg });
    default:
      return toIdle(ctx, State.OpenSent, `unexpected ${ev.type} in OpenSent`, { send: fsmError(FsmSubcode.UnexpectedInOpenSent, `${ev.type} in OpenSent`) });
  }
}

function openConfirm(ctx: FsmContext, ev: FsmEvent): Transition {
  switch (ev.type) {
    case 'start':
      return stay(State.OpenConfirm);
    case 'stop':
      ctx.stopped = true;
      return toIdle(ctx, State.OpenConfirm, 'stopped', { send: ev.error ?? adminShutdown });
    case 'timer':
      if (ev.timer === 'hold') return toIdle(ctx, State.OpenConfirm, 'hold timer expired in OpenConfirm', { send: holdExpired });
      if (ev.timer === 'keepalive') {
        return { next: State.OpenConfirm, actions: [{ do: 'send', msg: { type: 'keepalive' } }, { do: 'arm', timer: 'keepalive', seconds: ctx.negotiated!.keepaliveTime }] };
      }
      return stay(State.OpenConfirm);
    case 'keepalive': {
      const n = ctx.negotiated!;
      ctx.backoff.reset();
      ctx.lastError = null;
      const actions: Action[] = [];
      if (n.holdTime > 0) actions.push({ do: 'arm', timer: 'hold', seconds: n.holdTime });
      actions.push({ do: 'established', negotiated: n });
      return { next: State.Established, actions };
    }
    case 'tcp-down':
      return toIdle(ctx, State.OpenConfirm, ev.reason);
    case 'bad-message':
      return toIdle(ctx, State.OpenConfirm, ev.error.reason, { send: ev.error });
    case 'notification':
      return toIdle(ctx, State.OpenConfirm, notificationReason(ev.msg), { received: ev.msg });
    default:
      return toIdle(ctx, State.OpenConfirm, `unexpected ${ev.type} in OpenConfirm`, { send: fsmError(FsmSubcode.UnexpectedInOpenConfirm, `${ev.type} in OpenConfirm`) });
  }
}

function established(ctx: FsmContext, ev: FsmEvent): Transition {
  const n = ctx.negotiated!;
  const holdRestart: Action[] = n.holdTime > 0 ? [{ do: 'arm', timer: 'hold', seconds: n.holdTime }] : [];
  switch (ev.type) {
    case 'start':
      return stay(State.Established);
    case 'keepalive':
    case 'update':
    case 'route-refresh':
      return { next: State.Established, actions: holdRestart };
    case 'timer':
      if (ev.timer === 'hold') {
        // Not graceful: RFC 4724 restarts only on a connection lost without NOTIFICATION, and an
        // expired hold timer sends one. Keeping routes here too takes RFC 8538's N bit, which we
        // do not negotiate. A hung peer's routes go when its hold time runs out (as BIRD does).
        return toIdle(ctx, State.Established, 'hold timer expired', { send: holdExpired });
      }
      if (ev.timer === 'keepalive') {
        return { next: State.Established, actions: [{ do: 'send', msg: { type: 'keepalive' } }, { do: 'arm', timer: 'keepalive', seconds: n.keepaliveTime }] };
      }
      return stay(State.Established);
    case 'tcp-down':
      // RFC 4724 4.2: a connection lost without NOTIFICATION is the restart the helper waits out.
      return toIdle(ctx, State.Established, ev.reason, { graceful: n.gracefulRestart });
    case 'stop':
      ctx.stopped = true;
      return toIdle(ctx, State.Established, 'stopped', { send: ev.error ?? adminShutdown });
    case 'bad-message':
      return toIdle(ctx, State.Established, ev.error.reason, { send: ev.error });
    case 'notification':
      return toIdle(ctx, State.Established, notificationReason(ev.msg), { received: ev.msg });
    case 'open':
      return toIdle(ctx, State.Established, 'unexpected OPEN in Established', { send: fsmError(FsmSubcode.UnexpectedInEstablished, 'OPEN in Established') });
    case 'tcp-up':
      return stay(State.Established);
  }
}

const HANDLERS: Record<State, (ctx: FsmContext, ev: FsmEvent) => Transition> = {
  Idle: idle,
  Connect: connect,
  Active: active,
  OpenSent: openSent,
  OpenConfirm: openConfirm,
  Established: established,
};

/** One step of the machine. */
export function step(state: State, ctx: FsmContext, ev: FsmEvent): Transition {
  return HANDLERS[state](ctx, ev);
}
