/**
 * Start and stop. SIGTERM and SIGINT shut the agent down cleanly and fast: components are stopped
 * one by one in the reverse of the order they were added (the wiring adds the datastore first and
 * the endpoints last, so the endpoints go first and the datastore last), each within what is left
 * of `--shutdown-timeout`, and the process exits. Kernel routes are left in place on purpose: pods
 * keep working through an upgrade and the next start adopts them instead of flushing them.
 * A second signal exits at once. SIGHUP runs the reload hooks; a failed reload is logged and the
 * running state kept.
 */
import type { Logger } from './log.ts';

export interface Component {
  name: string;
  stop(): Promise<void> | void;
}

/** The parts of `process` the lifecycle uses, so tests can send signals to an EventEmitter. */
export interface ProcessLike {
  on(event: 'SIGTERM' | 'SIGINT' | 'SIGHUP', listener: () => void): unknown;
  off(event: 'SIGTERM' | 'SIGINT' | 'SIGHUP', listener: () => void): unknown;
}

export interface LifecycleOptions {
  log: Logger;
  shutdownTimeoutMs: number;
  proc?: ProcessLike;
  /** Ends the process; `process.exit` unless a test records it. */
  exit?: (code: number) => void;
}

export class Lifecycle {
  private readonly components: Component[] = [];
  private readonly reloadHooks: { name: string; fn: () => Promise<void> | void }[] = [];
  private readonly log: Logger;
  private readonly timeoutMs: number;
  private readonly proc: ProcessLike;
  private readonly exit: (code: number) => void;
  private shuttingDown: Promise<void> | null = null;
  private reloading: Promise<void> = Promise.resolve();
  private readonly listeners: [('SIGTERM' | 'SIGINT' | 'SIGHUP'), () => void][] = [];

  constructor(opts: LifecycleOptions) {
    this.log = opts.log;
    this.timeoutMs = opts.shutdownTimeoutMs;
    this.proc = opts.proc ?? process;
    this.exit = opts.exit ?? ((code) => process.exit(code));
  }

  /** Registers a started component; components stop in reverse order of registration. */
  add(component: Component): void {
    this.components.push(component);
  }

  /** Registers something to run on SIGHUP, in registration order. */
  onReload(name: string, fn: () => Promise<void> | void): void {
    this.reloadHooks.push({ name, fn });
  }

  installSignalHandlers(): void {
    const term = (signal: 'SIGTERM' | 'SIGINT') => () => {
      if (this.shuttingDown) {
        this.log.warn({ signal }, 'second signal during shutdown: exiting now');
        this.exit(1);
        return;
      }
      void this.shutdown(signal);
    };
    this.listen('SIGTERM', term('SIGTERM'));
    this.listen('SIGINT', term('SIGINT'));
    this.listen('SIGHUP', () => void this.reload());
  }

  /** Removes the signal handlers (tests; an embedding program). */
  uninstallSignalHandlers(): void {
    for (const [signal, fn] of this.listeners.splice(0)) this.proc.off(signal, fn);
  }

  private listen(signal: 'SIGTERM' | 'SIGINT' | 'SIGHUP', fn: () => void): void {
    this.proc.on(signal, fn);
    this.listeners.push([signal, fn]);
  }

  /** Runs every reload hook; one failing does not stop the others or the agent. */
  reload(): Promise<void> {
    this.reloading = this.reloading.then(async () => {
      this.log.info('SIGHUP: reloading configuration');
      for (const hook of this.reloadHooks) {
        try {
          await hook.fn();
        } catch (err) {
          this.log.error({ err, hook: hook.name }, 'reload failed; keeping the running configuration');
        }
      }
    });
    return this.reloading;
  }

  /** Stops everything and exits: 0 when every component stopped in time, 1 otherwise. */
  shutdown(reason: string): Promise<void> {
    if (this.shuttingDown) return this.shuttingDown;
    this.shuttingDown = this.stopAll(reason).then((ok) => this.exit(ok ? 0 : 1));
    return this.shuttingDown;
  }

  /** Stops the components without exiting (a start that failed half way); true if all stopped. */
  shutdownWithoutExit(reason = 'start failed'): Promise<boolean> {
    return this.stopAll(reason);
  }

  private async stopAll(reason: string): Promise<boolean> {
    const started = Date.now();
    const deadline = started + this.timeoutMs;
    this.log.info({ reason, timeoutMs: this.timeoutMs }, 'shutting down; kernel routes stay in place');
    let failed = false;
    for (const c of [...this.components].reverse()) {
      const left = Math.max(0, deadline - Date.now());
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        Promise.resolve()
          .then(() => c.stop())
          .then(
            () => 'stopped' as const,
            (err: unknown) => {
              this.log.error({ err, component: c.name }, 'component failed to stop cleanly');
              return 'failed' as const;
            },
          ),
        new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), left))),
      ]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        this.log.error({ component: c.name, timeoutMs: this.timeoutMs }, 'shutdown timeout reached; exiting without stopping the rest');
        failed = true;
        break;
      }
      if (outcome === 'failed') failed = true;
      else this.log.debug({ component: c.name }, 'stopped');
    }
    this.components.length = 0;
    this.log.info({ ms: Date.now() - started }, 'shutdown complete');
    return !failed;
  }
}
