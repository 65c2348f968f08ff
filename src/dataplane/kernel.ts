/**
 * The route controller's view of the kernel: a small interface so that unit tests drive the
 * controller with a fake (test/dataplane/fake-kernel.ts) and production talks netlink
 * (kernel-netlink.ts). The controller never learns how requests reach the kernel.
 */
import type { KernelLink, KernelRoute, RouteOpKind } from './netlink.ts';

export type { KernelLink, KernelRoute, NextHop, RouteOpKind } from './netlink.ts';

/**
 * Operations as two parallel arrays, `kinds[i]` applied to `routes[i]`: a 100k-route install
 * allocates no object per operation. The kernel only reads them.
 */
export interface RouteOps {
  kinds: RouteOpKind[];
  routes: KernelRoute[];
}

export interface OpResult {
  /** 0 on success, else the kernel's errno (EEXIST, ESRCH, ENODEV, ...). */
  errno: number;
  /** The kernel's extended-ack text, when it gave one. */
  message?: string;
}

export type KernelEvent =
  /** Someone other than us added or replaced a route (`replace`: it took an existing slot). */
  | { kind: 'route-new'; route: KernelRoute; replace: boolean }
  | { kind: 'route-del'; route: KernelRoute }
  | { kind: 'link-new'; link: KernelLink }
  | { kind: 'link-del'; link: KernelLink }
  /** Notifications were lost (ENOBUFS) or the channel failed: only a full dump tells the truth now. */
  | { kind: 'lost'; reason: string };

export interface Kernel {
  /** Every route of both families in `table` (ours and everyone else's). */
  dumpRoutes(table: number): Promise<KernelRoute[]>;
  dumpLinks(): Promise<KernelLink[]>;
  /** Applies the operations in order, pipelined; one result per operation. Never rejects for a
   * per-route failure; rejects only when the channel to the kernel itself failed. */
  apply(ops: RouteOps): Promise<OpResult[]>;
  /** Writes `/proc/sys/<path>` in the target namespace; rejects with the errno's name. */
  writeSysctl(path: string, value: string): Promise<void>;
  /** Changes made by others. Our own changes are not echoed back. */
  onEvent(listener: (e: KernelEvent) => void): void;
  close(): Promise<void>;
}

/** A failure of the kernel channel itself (not of one route). */
export class KernelError extends Error {
  readonly code: string;
  readonly errno: number;
  constructor(code: string, message: string, errno = 0) {
    super(message);
    this.code = code;
    this.errno = errno;
  }
}
