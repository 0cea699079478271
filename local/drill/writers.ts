import { ChildProcess, spawn } from "child_process";
import * as path from "path";
import * as readline from "readline";
import Redis from "ioredis";
import { REDIS_PORT, SENTINEL_PORT } from "../../k8s/redis/render";
import { ADMIN_USER, Credentials, withConnection } from "../../probe/connection";
import { WRITE_INTERVAL_MS, WriteSample, Writer } from "../../probe/writes";

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A peer Sentinel client writing straight to Redis, given the Sentinels, the master name and the passwords. */
abstract class PeerWriter implements Writer {
  abstract readonly name: string;
  readonly samples: WriteSample[] = [];

  constructor(
    protected readonly sentinels: string[],
    protected readonly masterName: string,
    protected readonly creds: Credentials,
    /** How to run a client process so it resolves the names the Sentinels give (inside the cluster's DNS). */
    protected readonly wrap: (command: string, args: string[]) => { command: string; args: string[] } = (command, args) => ({ command, args }),
  ) {}

  abstract keyFor(seq: number): string;
  abstract start(): void;
  abstract stop(): Promise<void>;
}

/** ioredis in Sentinel mode with its failover detector, as its docs recommend. */
export class IoredisWriter extends PeerWriter {
  readonly name = "ioredis";
  private running = false;
  private loop?: Promise<void>;
  private client?: Redis;

  keyFor(seq: number): string {
    return `drill:ioredis:${seq}`;
  }

  start(): void {
    this.client = new Redis({
      sentinels: this.sentinels.map((host) => ({ host, port: SENTINEL_PORT })),
      name: this.masterName,
      username: ADMIN_USER,
      password: this.creds.redisPassword,
      sentinelPassword: this.creds.sentinelPassword,
      commandTimeout: 3000,
      failoverDetector: true,
      // A write that hits a demoted master gets READONLY: reconnect (and so re-resolve) on it.
      reconnectOnError: (error) => error.message.startsWith("READONLY"),
    });
    this.client.on("error", () => undefined);
    this.running = true;
    this.loop = (async () => {
      for (let seq = 1; this.running; seq++) {
        try {
          await this.client!.set(this.keyFor(seq), String(seq));
          this.samples.push({ at: Date.now(), seq, ok: true });
        } catch (error) {
          this.samples.push({ at: Date.now(), seq, ok: false, error: (error as Error).message.slice(0, 160) });
        }
        await pause(WRITE_INTERVAL_MS);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.client?.disconnect();
  }
}

/** redis-py's Sentinel client (Debian python3-redis), run as its own process. */
export class RedisPyWriter extends PeerWriter {
  readonly name = "redis-py";
  private child?: ChildProcess;
  private closed?: Promise<void>;

  keyFor(seq: number): string {
    return `drill:redispy:${seq}`;
  }

  start(): void {
    const { command, args } = this.wrap("/usr/bin/python3", [path.join(__dirname, "redis_py_writer.py")]);
    this.child = spawn(command, args, {
      env: {
        PATH: process.env.PATH,
        SENTINELS: this.sentinels.join(","),
        MASTER_NAME: this.masterName,
        REDIS_PASSWORD: this.creds.redisPassword,
        SENTINEL_PASSWORD: this.creds.sentinelPassword,
        INTERVAL_SECONDS: String(WRITE_INTERVAL_MS / 1000),
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const lines = readline.createInterface({ input: this.child.stdout! });
    lines.on("line", (line) => {
      try {
        this.samples.push(JSON.parse(line) as WriteSample);
      } catch {
        /* a partial line at exit */
      }
    });
    this.closed = new Promise((resolve) => lines.once("close", () => resolve()));
  }

  async stop(): Promise<void> {
    this.child?.kill("SIGTERM");
    await this.closed;
  }
}

/** Acknowledged writes of `writer` that `host` does not hold. */
export async function lostWrites(writer: Writer, host: string, creds: Credentials): Promise<number[]> {
  const acked = writer.samples.filter((s) => s.ok).map((s) => s.seq);
  const lost: number[] = [];
  await withConnection(
    host,
    REDIS_PORT,
    creds.redisPassword,
    async (c) => {
      for (let i = 0; i < acked.length; i += 500) {
        const batch = acked.slice(i, i + 500);
        const values = await c.mget(...batch.map((seq) => writer.keyFor(seq)));
        values.forEach((value, j) => {
          if (value === null) lost.push(batch[j]!);
        });
      }
    },
    10_000,
  );
  return lost;
}
