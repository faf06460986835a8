/**
 * The per-connection rate limit of both front doors: a token bucket that holds at most `rate` tokens (the
 * burst) and refills at `rate` tokens per second. The caller passes the time, so a test drives it with a fake
 * clock. What happens over the rate is the caller's: the JSON connection refuses the frame (take()); the XMPP
 * stream has already parsed the element and cannot refuse it, so it runs into debt and stops reading until the
 * debt is paid (charge()).
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  /** A full bucket at `now` (ms); `rate` is tokens per second, and the burst. */
  constructor(
    private readonly rate: number,
    now: number,
  ) {
    this.tokens = rate;
    this.last = now;
  }

  /** Takes one token if there is a whole one; false leaves the bucket as it is (the work is refused). */
  take(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /**
   * Takes one token whether or not there is one, on credit: 0 while the balance stays non-negative, otherwise
   * the milliseconds until refilling has paid the debt back.
   */
  charge(now: number): number {
    this.refill(now);
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.rate);
  }

  /** Adds what `rate` earned since the last call, up to the burst. */
  private refill(now: number): void {
    this.tokens = Math.min(this.rate, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
  }
}
