/**
 * Jittered exponential backoff for the idle hold time after errors: a peer that keeps failing waits
 * longer each time (up to a ceiling), so that a broken peer can never make us spin. The jitter is
 * RFC 4271 10's: each interval is multiplied by a random factor between 0.75 and 1.
 */
export interface BackoffOptions {
  /** First wait after an error, ms. */
  initialMs: number;
  /** Ceiling, ms. */
  maxMs: number;
  /** Source of randomness in [0, 1) (injectable for tests). */
  random?: () => number;
}

export class Backoff {
  private readonly opts: Required<BackoffOptions>;
  private failures = 0;

  constructor(opts: BackoffOptions) {
    this.opts = { random: Math.random, ...opts };
  }

  /** The wait before the next attempt, and count this failure. */
  next(): number {
    const base = Math.min(this.opts.maxMs, this.opts.initialMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    return Math.round(base * jitter(this.opts.random));
  }

  /** A session stayed up: start again from the first interval. */
  reset(): void {
    this.failures = 0;
  }

  get consecutiveFailures(): number {
    return this.failures;
  }
}

/** RFC 4271 10: a factor in [0.75, 1]. */
export function jitter(random: () => number = Math.random): number {
  return 0.75 + 0.25 * random();
}
