/**
 * A BGP session with one peer: runs the FSM (fsm.ts) against real sockets and timers. It owns the
 * connection(s), the timers (through an injected Clock) and connection collision detection
 * (RFC 4271 6.8); routes are none of its business: decoded UPDATEs go to its owner, and its owner
 * writes what the peer has to be sent when the session says it can take more.
 */
import net, { type Socket } from 'node:net';
import { BGP_PORT, CeaseSubcode, ErrorCode } from '../wire/constants.ts';
import type { BgpError, Message, NotificationMessage, OpenMessage, RouteRefreshMessage, UpdateDecodeResult, UpdateMessage } from '../wire/types.ts';
import { Backoff } from './backoff.ts';
import { systemClock, type Clock, type TimerHandle } from './clock.ts';
import { Connection } from './connection.ts';
import { State, step, type Action, type FsmContext, type FsmEvent, type TimerName } from './fsm.ts';
import { buildOpen, type LocalOpenConfig, type Negotiated } from './open.ts';
import { loadTcpMd5 } from './tcp-md5.ts';

export interface SessionOptions {
  peerAddress: string;
  /** Default 179. */
  peerPort?: number;
  /** Source address for our connections (and the address we expect the peer to reach). */
  localAddress?: string;
  local: LocalOpenConfig;
  peerAsn: number;
  /** Never connect; wait for the peer. */
  passive: boolean;
  /** Seconds, default 120 (RFC 4271 10). */
  connectRetryTime?: number;
  /** Idle hold backoff after errors, ms (default 1 s doubling to 120 s). */
  idleHold?: { initialMs: number; maxMs: number };
  clock?: Clock;
  /**
   * RFC 2385 TCP MD5 password: our connections are signed with it (tcp-md5.ts). Incoming ones are
   * the listener's business (the speaker sets the key there). Never logged.
   */
  password?: string;
  /** How to open a TCP connection (tests may inject). */
  connect?: (opts: { host: string; port: number; localAddress?: string }) => Socket;
}

/** What a session tells its owner. */
export interface SessionHandler {
  stateChanged?(from: State, to: State): void;
  established(negotiated: Negotiated): void;
  down(info: { reason: string; wasEstablished: boolean; graceful: boolean; sent?: BgpError; received?: NotificationMessage }): void;
  update(update: UpdateMessage, outcome: UpdateDecodeResult | undefined): void;
  routeRefresh(msg: RouteRefreshMessage): void;
  /** The socket can take more: continue writing what is pending. */
  writable(): void;
}

export class Session {
  readonly options: SessionOptions;
  private readonly clock: Clock;
  private readonly handler: SessionHandler;
  private readonly ctx: FsmContext;
  private _state: State = State.Idle;
  private _since: number;
  private _sinceWall = Date.now();
  private conn: Connection | null = null;
  /** RFC 4271 6.8: the peer's connection that arrived while ours was in flight, and its OPEN. */
  private pending: { conn: Connection; open: OpenMessage | null } | null = null;
  private readonly timers = new Map<TimerName, TimerHandle>();
  /** Messages received since Established, for status. */
  counters = { updatesIn: 0, updatesOut: 0, notificationsIn: 0, notificationsOut: 0 };

  constructor(options: SessionOptions, handler: SessionHandler) {
    this.options = options;
    this.handler = handler;
    this.clock = options.clock ?? systemClock;
    this._since = this.clock.now();
    const idle = options.idleHold ?? { initialMs: 1000, maxMs: 120_000 };
    this.ctx = {
      config: {
        local: options.local,
        peer: { peerAsn: options.peerAsn },
        passive: options.passive,
        connectRetryTime: options.connectRetryTime ?? 120,
        openHoldTime: 240,
      },
      backoff: new Backoff(idle),
      negotiated: null,
      stopped: true,
      lastError: null,
    };
  }

  get state(): State {
    return this._state;
  }

  /** Clock time (ms) of the last state change. */
  get since(): number {
    return this._since;
  }

  /** Wall-clock time (ms since the epoch) of the last state change, for people. */
  get sinceWall(): number {
    return this._sinceWall;
  }

  get lastError(): string | null {
    return this.ctx.lastError;
  }

  get negotiated(): Negotiated | null {
    return this._state === State.Established ? this.ctx.negotiated : null;
  }

  /** Our address on the established connection (the next hop we advertise as "self"). */
  get localAddress(): string | undefined {
    return this.conn?.localAddress ?? this.options.localAddress;
  }

  /** Updates the OPEN we send from now on (e.g. clearing the graceful restart R bit). */
  setLocalOpen(local: LocalOpenConfig): void {
    this.ctx.config.local = local;
  }

  start(): void {
    this.dispatch({ type: 'start' });
  }

  /** Stops the session with a Cease (Administrative Shutdown unless `error` says otherwise). */
  stop(error?: BgpError): void {
    this.dispatch({ type: 'stop', error });
    this.dropPending();
  }

  /**
   * Drops the session without a NOTIFICATION, for a restart with forwarding kept (RFC 4724 4):
   * the peer sees the transport fail and, as a graceful restart helper, keeps our routes as stale.
   * The session stays stopped; the process is expected to go away.
   */
  abandon(): void {
    this.ctx.stopped = true;
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    this.dropPending();
    const c = this.conn;
    this.conn = null;
    c?.socket.destroy();
    this.setState(State.Idle);
  }

  /**
   * Resets the session with a NOTIFICATION, as for a bad message: it comes back by itself after
   * the idle hold (unlike `stop`).
   */
  reset(error: BgpError): void {
    this.dispatch({ type: 'bad-message', error });
  }

  /**
   * Sends a ROUTE-REFRESH (RFC 2918) when the peer supports it, or a BoRR/EoRR marker (RFC 7313 3)
   * when it supports enhanced route refresh; false otherwise.
   */
  requestRefresh(msg: RouteRefreshMessage): boolean {
    const n = this.negotiated;
    if (!n?.routeRefresh || !this.conn) return false;
    if (msg.subtype !== 0 && !n.enhancedRouteRefresh) return false;
    this.conn.send(msg);
    return true;
  }

  /** Writes encoded UPDATEs; false when the socket is full (the handler's `writable` follows). */
  write(bytes: Uint8Array): boolean {
    if (this._state !== State.Established || !this.conn) return false;
    this.counters.updatesOut++;
    return this.conn.write(bytes);
  }

  /** True when writing now would not queue beyond the socket's buffer. */
  get canWrite(): boolean {
    return this._state === State.Established && !!this.conn && !this.conn.socket.writableNeedDrain;
  }

  /** A connection from the peer's address reached our listener. */
  acceptIncoming(socket: Socket): void {
    const st = this._state;
    if (st === State.Idle) {
      socket.destroy();
      return;
    }
    if (st === State.Active) {
      // Nothing of ours in flight: the peer's connection is the one.
      this.conn?.close();
      this.adopt(socket, false);
      this.dispatch({ type: 'tcp-up' });
      return;
    }
    if (st === State.Established) {
      if (this.ctx.negotiated?.gracefulRestart) {
        // RFC 4724 4.2: a new connection from a peer we have a session with means it restarted:
        // keep its routes (stale), drop the old connection, and take the new one.
        this.dispatch({ type: 'tcp-down', reason: 'peer reconnected (restart)' });
        this.cancel('idleHold');
        this.setState(State.Active);
        this.adopt(socket, false);
        this.dispatch({ type: 'tcp-up' });
        return;
      }
      rejectCollision(socket);
      return;
    }
    // Connect, OpenSent or OpenConfirm: our own connection is in flight. Hold the peer's until its
    // OPEN tells us its identifier, then keep one of the two (RFC 4271 6.8).
    if (this.pending) {
      rejectCollision(socket);
      return;
    }
    const conn = new Connection(socket, false, { message: () => undefined, error: () => undefined, closed: () => undefined, drain: () => undefined });
    const pending = { conn, open: null as OpenMessage | null };
    conn.setEvents({
      message: (msg) => {
        if (this.pending !== pending) return;
        if (msg.type !== 'open') return this.dropPending();
        pending.open = msg;
        this.resolveCollision();
      },
      error: () => this.pending === pending && this.dropPending(),
      closed: () => this.pending === pending && this.dropPending(),
      drain: () => undefined,
    });
    this.pending = pending;
    conn.send(buildOpen(this.ctx.config.local));
  }

  // -------------------------------------------------------------------------------------------

  private dropPending(): void {
    this.pending?.conn.close();
    this.pending = null;
  }

  /**
   * The peer's connection sent its OPEN while ours is in flight. RFC 4271 6.8: if our identifier is
   * lower, the peer's connection wins and ours is closed with Cease/Connection Collision
   * Resolution; otherwise the peer's is. If ours has not even reached OpenSent, the peer's wins.
   */
  private resolveCollision(): void {
    const p = this.pending!;
    const st = this._state;
    if (st === State.Established) {
      this.pending = null;
      sendCollisionCease(p.conn);
      return;
    }
    const keepIncoming = st === State.Connect || st === State.Active || (this.ctx.config.local.routerId >>> 0) < (p.open!.bgpId >>> 0);
    if (!keepIncoming) {
      this.pending = null;
      sendCollisionCease(p.conn);
      return;
    }
    if (this.conn && st !== State.Connect && st !== State.Active) sendCollisionCease(this.conn);
    else this.conn?.close();
    this.promotePending();
  }

  /** Carries on with the peer's connection, which has our OPEN and may have sent its own. */
  private promotePending(): void {
    const p = this.pending!;
    this.pending = null;
    this.conn = p.conn;
    p.conn.setEvents(this.connEvents(p.conn));
    this.cancel('connectRetry');
    this.ctx.negotiated = null;
    this.setState(State.OpenSent);
    this.arm('hold', this.ctx.config.openHoldTime);
    if (p.open) this.dispatch({ type: 'open', open: p.open });
  }

  private adopt(socket: Socket, outgoing: boolean): Connection {
    const c = new Connection(socket, outgoing, { message: () => undefined, error: () => undefined, closed: () => undefined, drain: () => undefined });
    c.setEvents(this.connEvents(c));
    this.conn = c;
    return c;
  }

  /**
   * Our connection failed (closed, or the peer sent a NOTIFICATION, typically its side of a
   * collision) while the peer's own connection is waiting: continue on that one instead.
   */
  private primaryLostDuringCollision(c: Connection): boolean {
    if (!this.pending || this._state === State.Established || this.conn !== c) return false;
    c.close();
    this.promotePending();
    return true;
  }

  private connEvents(c: Connection) {
    return {
      message: (msg: Message, update: UpdateDecodeResult | undefined) => {
        if (this.conn !== c) return;
        if (msg.type === 'notification' && this.primaryLostDuringCollision(c)) return;
        this.onMessage(msg, update);
      },
      error: (error: BgpError) => this.conn === c && this.dispatch({ type: 'bad-message', error }),
      closed: (reason: string) => this.conn === c && !this.primaryLostDuringCollision(c) && this.dispatch({ type: 'tcp-down', reason }),
      drain: () => this.conn === c && this.handler.writable(),
    };
  }

  private onMessage(msg: Message, update: UpdateDecodeResult | undefined): void {
    switch (msg.type) {
      case 'open':
        this.dispatch({ type: 'open', open: msg });
        return;
      case 'keepalive':
        this.dispatch({ type: 'keepalive' });
        return;
      case 'notification':
        this.counters.notificationsIn++;
        this.dispatch({ type: 'notification', msg });
        return;
      case 'update':
        this.counters.updatesIn++;
        this.dispatch({ type: 'update' });
        if (this._state === State.Established) this.handler.update(msg, update);
        return;
      case 'route-refresh':
        this.dispatch({ type: 'route-refresh' });
        if (this._state === State.Established) this.handler.routeRefresh(msg);
        return;
    }
  }

  private dispatch(ev: FsmEvent): void {
    const from = this._state;
    const t = step(from, this.ctx, ev);
    // Change state before running actions, so that callbacks see the new state.
    if (t.next !== from) this.setState(t.next);
    for (const a of t.actions) this.run(a);
  }

  private setState(to: State): void {
    const from = this._state;
    if (from === to) return;
    this._state = to;
    this._since = this.clock.now();
    this._sinceWall = Date.now();
    this.handler.stateChanged?.(from, to);
  }

  private run(a: Action): void {
    switch (a.do) {
      case 'connect':
        this.connect();
        return;
      case 'close':
        this.conn?.close();
        this.conn = null;
        return;
      case 'send':
        if (a.msg.type === 'notification') this.counters.notificationsOut++;
        this.conn?.send(a.msg);
        return;
      case 'arm':
        this.arm(a.timer, a.seconds);
        return;
      case 'cancel':
        this.cancel(a.timer);
        return;
      case 'established':
        this.conn?.setCodec(a.negotiated.codec);
        this.counters = { updatesIn: 0, updatesOut: 0, notificationsIn: 0, notificationsOut: 0 };
        this.handler.established(a.negotiated);
        return;
      case 'down':
        this.handler.down(a);
        return;
    }
  }

  private connect(): void {
    const o = this.options;
    const password = o.password;
    const open =
      o.connect ??
      (password !== undefined
        ? (x: { host: string; port: number; localAddress?: string }) => loadTcpMd5().connect({ ...x, password })
        : (x: { host: string; port: number; localAddress?: string }) => net.connect({ host: x.host, port: x.port, localAddress: x.localAddress }));
    let socket: Socket;
    try {
      socket = open({ host: o.peerAddress, port: o.peerPort ?? BGP_PORT, localAddress: o.localAddress });
    } catch (e) {
      queueMicrotask(() => this.dispatch({ type: 'tcp-down', reason: `connect failed: ${(e as Error).message}` }));
      return;
    }
    const c = this.adopt(socket, true);
    socket.once('connect', () => {
      if (this.conn === c) this.dispatch({ type: 'tcp-up' });
    });
  }

  private arm(timer: TimerName, seconds: number): void {
    this.cancel(timer);
    // RFC 4271 10: jitter ConnectRetry; the others fire as negotiated.
    const ms = timer === 'connectRetry' ? seconds * 1000 * (0.75 + 0.25 * Math.random()) : seconds * 1000;
    this.timers.set(
      timer,
      this.clock.setTimer(ms, () => {
        this.timers.delete(timer);
        this.dispatch({ type: 'timer', timer });
      }),
    );
  }

  private cancel(timer: TimerName): void {
    this.timers.get(timer)?.cancel();
    this.timers.delete(timer);
  }
}

function sendCollisionCease(c: Connection): void {
  c.send({ type: 'notification', code: ErrorCode.Cease, subcode: CeaseSubcode.ConnectionCollisionResolution, data: new Uint8Array(0) });
  c.close();
}

function rejectCollision(socket: Socket): void {
  sendCollisionCease(new Connection(socket, false, { message: () => undefined, error: () => undefined, closed: () => undefined, drain: () => undefined }));
}
