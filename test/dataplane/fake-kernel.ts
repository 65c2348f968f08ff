/**
 * An in-memory kernel for the route controller's unit tests: holds routes and links, answers
 * dumps, applies operations with the kernel's rules (EXCL adds fail on an occupied slot, deletes
 * match our protocol, routes through a missing or down link are refused), and lets a test play
 * "someone else" (foreign changes, deleted links, lost notifications).
 */
import type { Kernel, KernelEvent, KernelLink, KernelRoute, OpResult, RouteOpKind, RouteOps } from '../../src/dataplane/kernel.ts';
import type { Clock } from '../../src/dataplane/clock.ts';

export const EEXIST = 17;
export const ESRCH = 3;
export const ENODEV = 19;
export const ENETDOWN = 100;

const slot = (a: KernelRoute, b: KernelRoute) => a.table === b.table && a.dst === b.dst && a.priority === b.priority;

export class FakeKernel implements Kernel {
  routes: KernelRoute[] = [];
  links: KernelLink[] = [];
  sysctls = new Map<string, string>();
  /** Every operation the controller sent, in order. */
  log: Array<{ op: RouteOpKind; route: KernelRoute }> = [];
  dumps = 0;
  /** errno to return for the next operations (one each), then success again. */
  failNext: number[] = [];
  private listeners: Array<(e: KernelEvent) => void> = [];
  private nextIndex = 10;

  addLink(name: string, up = true, notify = true): KernelLink {
    const link = { index: this.nextIndex++, name, up };
    this.links.push(link);
    if (notify) this.emit({ kind: 'link-new', link });
    return link;
  }

  /** Deletes a link and, as the kernel does, every route through it. */
  deleteLink(name: string): void {
    const link = this.links.find((l) => l.name === name);
    if (!link) throw new Error(`no link ${name}`);
    this.links = this.links.filter((l) => l !== link);
    this.routes = this.routes.filter((r) => !r.nexthops.some((n) => n.ifindex === link.index));
    this.emit({ kind: 'link-del', link });
  }

  /** Sets a link down or up; like the kernel, down silently drops the IPv4 routes through it. */
  setLinkUp(name: string, up: boolean): void {
    const old = this.link(name);
    const link = { ...old, up };
    this.links = this.links.map((l) => (l === old ? link : l));
    if (!up) this.routes = this.routes.filter((r) => r.family !== 4 || !r.nexthops.some((n) => n.ifindex === link.index));
    this.emit({ kind: 'link-new', link });
  }

  link(name: string): KernelLink {
    const l = this.links.find((x) => x.name === name);
    if (!l) throw new Error(`no link ${name}`);
    return l;
  }

  /** Someone else adds a route (and the notification reaches the controller). */
  foreignAdd(route: KernelRoute, notify = true): void {
    this.routes.push(route);
    if (notify) this.emit({ kind: 'route-new', route, replace: false });
  }

  /** Someone else deletes a route (ours or not). */
  foreignDelete(dst: string, notify = true): KernelRoute {
    const r = this.routes.find((x) => x.dst === dst);
    if (!r) throw new Error(`no route ${dst}`);
    this.routes = this.routes.filter((x) => x !== r);
    if (notify) this.emit({ kind: 'route-del', route: r });
    return r;
  }

  loseNotifications(): void {
    this.emit({ kind: 'lost', reason: 'test: ENOBUFS' });
  }

  find(dst: string): KernelRoute[] {
    return this.routes.filter((r) => r.dst === dst);
  }

  private emit(e: KernelEvent): void {
    for (const l of this.listeners) l(e);
  }

  onEvent(listener: (e: KernelEvent) => void): void {
    this.listeners.push(listener);
  }

  async dumpRoutes(table: number): Promise<KernelRoute[]> {
    this.dumps++;
    return structuredClone(this.routes.filter((r) => r.table === table));
  }

  async dumpLinks(): Promise<KernelLink[]> {
    return structuredClone(this.links);
  }

  async apply(ops: RouteOps): Promise<OpResult[]> {
    return ops.kinds.map((op, at) => {
      const o = { op, route: structuredClone(ops.routes[at]) };
      this.log.push(o);
      const forced = this.failNext.shift();
      if (forced) return { errno: forced };
      const r = structuredClone(o.route);
      if (o.op === 'delete') {
        const i = this.routes.findIndex((x) => slot(x, r) && x.protocol === r.protocol && x.type === r.type);
        if (i < 0) return { errno: ESRCH };
        this.routes.splice(i, 1);
        return { errno: 0 };
      }
      for (const n of r.nexthops) {
        if (n.ifindex === 0) continue;
        const l = this.links.find((x) => x.index === n.ifindex);
        if (!l) return { errno: ENODEV };
        if (!l.up) return { errno: ENETDOWN };
      }
      const i = this.routes.findIndex((x) => slot(x, r));
      if (o.op === 'add' && i >= 0) return { errno: EEXIST };
      if (i >= 0) this.routes.splice(i, 1);
      this.routes.push(r);
      return { errno: 0 };
    });
  }

  async writeSysctl(path: string, value: string): Promise<void> {
    this.sysctls.set(path, value);
  }

  async close(): Promise<void> {}
}

/** A clock that moves only when the test says so. */
export class FakeClock implements Clock {
  private t = 0;
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private ids = 0;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.ids;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((x) => x.id !== handle);
  }
  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }
  pending(): number[] {
    return this.timers.map((x) => x.at - this.t);
  }
}
