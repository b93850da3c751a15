/**
 * Exponential backoff: each failure doubles the wait up to a cap, and a success starts again from
 * the first wait. One definition for every retry loop of the project.
 */
export class Backoff {
  private nextMs: number;

  constructor(private readonly initialMs = 250, private readonly maxMs = 10_000) {
    this.nextMs = initialMs;
  }

  /** The wait before the next attempt; the one after is twice as long (capped). */
  fail(): number {
    const wait = this.nextMs;
    this.nextMs = Math.min(this.nextMs * 2, this.maxMs);
    return wait;
  }

  reset(): void {
    this.nextMs = this.initialMs;
  }
}
