// What corral counts and what it looks like right now, as plain data: the supervisor and
// the log path write here (cheap increments on hot paths), and /metrics, /readyz and
// /status read from it. No prom-client here: the registry reads these at scrape time.

/** Counters (monotonic). Keys join labels with '\0'. */
export class Stats {
  readonly restarts = new Map<string, number>(); // pool\0worker\0reason
  readonly signalsForwarded = new Map<string, number>(); // SIGNAME
  readonly logLines = new Map<string, number>(); // pool\0stream
  readonly logBytes = new Map<string, number>(); // pool\0stream
  readonly feedback = new Map<string, number>(); // pool
  /** CPU seconds per pool\0worker, advanced by the delta between samples. */
  readonly cpuSeconds = new Map<string, number>();
  zombiesReaped = 0;
  notifyMalformed = 0;

  /**
   * Observers set by the metrics module (histograms need each observation). Until it exists
   * (the registry is built on the first scrape, to keep prom-client out of an unscraped
   * corral's memory), observations are kept, up to a bound, and replayed to it.
   */
  onStartup: (pool: string, seconds: number) => void = (pool, seconds) => {
    this.keep(['startup', pool, seconds, 0]);
  };
  onBatch: (pool: string, size: number, seconds: number) => void = (pool, size, seconds) => {
    this.keep(['batch', pool, size, seconds]);
  };
  private early: ['startup' | 'batch', string, number, number][] | null = [];

  private keep(o: ['startup' | 'batch', string, number, number]): void {
    if (this.early && this.early.length < 100_000) this.early.push(o);
  }

  /** Replays the kept observations through the current observers, then stops keeping them. */
  replayEarly(): void {
    const early = this.early ?? [];
    this.early = null;
    for (const [kind, pool, a, b] of early) {
      if (kind === 'startup') this.onStartup(pool, a);
      else this.onBatch(pool, a, b);
    }
  }

  static inc(map: Map<string, number>, key: string, by = 1): void {
    map.set(key, (map.get(key) ?? 0) + by);
  }
}
