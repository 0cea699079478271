import Redis from "ioredis";
import { REDIS_PORT } from "../../k8s/redis/render";
import { ADMIN_USER, Credentials, withConnection } from "../../probe/connection";
import { sentinelMaster } from "../../probe/roles";
import { WriteSample } from "../../probe/writes";

/**
 * A steady load of sequence-numbered writes (RPUSH key seq) straight to the master
 * that the Sentinels name, re-resolving after every error. Every acknowledged
 * sequence number is recorded so the final master can be checked for losses.
 */
export class AckWriter {
  readonly samples: WriteSample[] = [];
  private seq = 0;
  private running = false;
  private loop?: Promise<void>;
  private client?: Redis;
  private master?: string;

  constructor(
    private readonly sentinels: string[],
    private readonly masterName: string,
    private readonly creds: Credentials,
    private readonly key = "drill:acked",
    private readonly intervalMs = 10,
  ) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.client?.disconnect();
  }

  get acked(): number[] {
    return this.samples.filter((s) => s.ok).map((s) => s.seq);
  }

  get failed(): number {
    return this.samples.filter((s) => !s.ok).length;
  }

  private async resolveMaster(): Promise<string> {
    for (const sentinel of this.sentinels) {
      const master = await sentinelMaster(sentinel, this.masterName, this.creds);
      if (master) return master;
    }
    throw new Error("no Sentinel answered");
  }

  private async connect(): Promise<Redis> {
    const master = await this.resolveMaster();
    const client = new Redis({
      host: master,
      port: REDIS_PORT,
      username: ADMIN_USER,
      password: this.creds.redisPassword,
      connectTimeout: 500,
      commandTimeout: 500,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
      lazyConnect: true,
    });
    client.on("error", () => undefined);
    await client.connect();
    const [role] = (await client.call("ROLE")) as string[];
    if (role !== "master") {
      client.disconnect();
      throw new Error(`${master} is not master (${role})`);
    }
    this.master = master;
    return client;
  }

  private async run(): Promise<void> {
    while (this.running) {
      const seq = ++this.seq;
      try {
        this.client ??= await this.connect();
        await this.client.rpush(this.key, String(seq));
        this.samples.push({ at: Date.now(), seq, ok: true });
      } catch (error) {
        this.samples.push({ at: Date.now(), seq, ok: false, error: (error as Error).message });
        this.client?.disconnect();
        this.client = undefined;
      }
      await new Promise((r) => setTimeout(r, this.intervalMs));
    }
  }

  /** Acknowledged writes missing from what HOST holds now. */
  async lostOn(host: string): Promise<number[]> {
    const stored = await withConnection(host, REDIS_PORT, this.creds.redisPassword, (c) => c.lrange(this.key, 0, -1));
    const present = new Set(stored);
    return this.acked.filter((seq) => !present.has(String(seq)));
  }

  get currentMaster(): string | undefined {
    return this.master;
  }
}
