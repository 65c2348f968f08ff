/**
 * Time as an injected dependency (the way Felix's route table takes one): sessions only ever read
 * the time and arm timers through a Clock, so unit tests drive hold timers and backoff by advancing
 * a FakeClock instead of waiting.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  setTimer(ms: number, fn: () => void): TimerHandle;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  },
};

interface FakeTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** A clock that moves only when told to; timers fire in order of due time, then of creation. */
export class FakeClock implements Clock {
  private t = 0;
  private seq = 0;
  private timers: FakeTimer[] = [];

  now(): number {
    return this.t;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const timer: FakeTimer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => (timer.cancelled = true) };
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.timers = this.timers.filter((x) => !x.cancelled);
      const due = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.t = Math.max(this.t, due.at);
      due.cancelled = true;
      due.fn();
    }
    this.t = end;
  }

  /** Timers still armed (for tests). */
  pending(): number {
    return this.timers.filter((x) => !x.cancelled).length;
  }
}
