/** One write attempt: when it finished, its sequence number, and whether it was acknowledged. */
export interface WriteSample {
  at: number;
  seq: number;
  ok: boolean;
  error?: string;
}

/** A steady load of sequence-numbered writes; every acknowledged one must survive. */
export interface Writer {
  readonly name: string;
  readonly samples: WriteSample[];
  start(): void;
  stop(): Promise<void>;
  /** The Redis key an acknowledged write `seq` lives under. */
  keyFor(seq: number): string;
}

/** The pace of every drill writer: one write every 20 ms. */
export const WRITE_INTERVAL_MS = 20;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Writes through the C++ service (or a load balancer in front of it), alternating between instances like the NodeBalancer does. */
export class ServiceWriter implements Writer {
  readonly name = "redis-dr-app";
  readonly samples: WriteSample[] = [];
  private running = false;
  private loop?: Promise<void>;

  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly keyPrefix: string;

  constructor(
    private readonly urls: string[],
    /** The API's bearer token. */
    private readonly apiToken: string,
    options: { intervalMs?: number; timeoutMs?: number; keyPrefix?: string } = {},
  ) {
    this.intervalMs = options.intervalMs ?? WRITE_INTERVAL_MS;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.keyPrefix = options.keyPrefix ?? "drill-svc";
  }

  keyFor(seq: number): string {
    return `kv:${this.keyPrefix}-${seq}`;
  }

  start(): void {
    this.running = true;
    this.loop = (async () => {
      for (let seq = 1; this.running; seq++) {
        // A load balancer retries another backend when one refuses the connection; so do we.
        const first = seq % this.urls.length;
        let sample: WriteSample | undefined;
        for (let i = 0; i < this.urls.length && !sample?.ok; i++) {
          const url = this.urls[(first + i) % this.urls.length]!;
          try {
            const res = await fetch(`${url}/kv/${this.keyPrefix}-${seq}`, {
              method: "PUT",
              body: String(seq),
              headers: { Authorization: `Bearer ${this.apiToken}` },
              signal: AbortSignal.timeout(this.timeoutMs),
            });
            const body = await res.text();
            // Only a 2xx acknowledges a write (with REDIS_WAIT_REPLICAS set, one the replicas confirmed).
            sample = { at: Date.now(), seq, ok: res.ok, ...(res.ok ? {} : { error: `HTTP ${res.status}: ${body.slice(0, 160)}` }) };
            if (res.status < 500 || res.status === 503) break; // the service answered: its verdict stands
          } catch (error) {
            sample = { at: Date.now(), seq, ok: false, error: (error as Error).message };
          }
        }
        this.samples.push(sample!);
        await pause(this.intervalMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

/**
 * The longest time without an acknowledged write after the fault: from the fault (or
 * the previous acknowledgement) to the next acknowledgement. A request that succeeds
 * only after retrying for seconds counts as the outage it was, and with several faults
 * (a rolling restart) the worst one counts. Normal pacing (a write every 20 ms) is the
 * floor. NaN if writes had not recovered by the end.
 */
export function rto(samples: WriteSample[], faultAt: number): number {
  let worst = 0;
  let previous = faultAt;
  let failing = false;
  for (const s of samples) {
    if (s.at < faultAt) continue;
    if (s.ok) {
      worst = Math.max(worst, s.at - previous);
      previous = s.at;
    }
    failing = !s.ok;
  }
  return failing ? Number.NaN : worst;
}
