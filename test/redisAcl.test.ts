import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACL_USERS, renderAclUsers, SENTINEL_ACL_USERS } from "../k8s/redis/acl";
import { REDIS_PORT, SCRIPT_DIR, SENTINEL_PORT } from "../k8s/redis/render";
import { ARCHIVER_BINARY } from "../local/backup/job";
import { rolePassword } from "../local/credentials";
import { waitForConvergence } from "../local/measure/sentinelGroupWatch";
import { Credentials, withConnection } from "../probe/connection";
import { waitFor } from "../probe/wait";
import { CONVERGE_MS } from "./helpers/redisTier";
import { suiteTopology, SuiteTopology } from "./helpers/clusterTopology";
import { SUITE_BRIDGES } from "./helpers/suiteNetworks";

// Each Redis user of k8s/redis/acl.ts, against the real redis-server that start-redis.sh
// configures, in the rendered pods on the local kubelet.
const IDEMPOTENT_INCR_SCRIPT = fs.readFileSync(path.join(__dirname, "../app/src/scripts/idempotent_incr.lua"), "utf8");
const creds: Credentials = { redisPassword: "redis-acl-test-admin-0123456789", sentinelPassword: "redis-acl-test-sentinel-0123456789" };

/** The reply to COMMAND as USER, or the error's first word (NOPERM, ...). */
async function as(host: string, user: string, password: string, ...command: string[]): Promise<unknown> {
  return withConnection(host, REDIS_PORT, password, (c) => c.call(command[0]!, ...command.slice(1)), 2000, user).catch(
    (error: Error) => error.message.split(" ")[0],
  );
}

/** What redis-cli prints for PING with ARGS (address and credentials): PONG, or the error; inside the cluster when WRAP is given. */
function cli(args: string[], wrap = (command: string, argv: string[]) => ({ command, args: argv })): string {
  const { command, args: argv } = wrap("redis-cli", ["--no-auth-warning", ...args, "PING"]);
  const run = spawnSync(command, argv, { encoding: "utf8", timeout: 5000, stdio: ["ignore", "pipe", "pipe"] });
  return (run.stdout + run.stderr).trim();
}

describe("Redis users: least privilege", () => {
  let suite: SuiteTopology;
  let master = "";
  const app = (...command: string[]) => as(master, "app", rolePassword(creds, "app"), ...command);
  const monitor = (...command: string[]) => as(master, "monitor", rolePassword(creds, "monitor"), ...command);
  const inCluster = (command: string, args: string[]) => suite.topology.clientCommand(command, args);

  beforeAll(async () => {
    suite = await suiteTopology(SUITE_BRIDGES.redisAcl, { creds });
    await suite.topology.start();
    master = (await waitForConvergence(suite.hosts, suite.cfg.masterName, creds, CONVERGE_MS)).masters[0]!;
  });
  afterAll(async () => {
    await suite?.topology.shutdown();
  });

  it("turns the default user off", async () => {
    expect(cli(["-h", master, "-p", String(REDIS_PORT)], inCluster)).toMatch(/^NOAUTH/);
    expect(cli(["-h", master, "-p", String(REDIS_PORT), "--pass", creds.redisPassword], inCluster)).toMatch(/WRONGPASS/);
    expect(cli(["-h", master, "-p", String(REDIS_PORT), "--user", "admin", "--pass", creds.redisPassword], inCluster)).toBe("PONG");
  });

  it("lets the app touch only kv:*, counter:* and idempotency:* with the commands it sends", async () => {
    expect(await app("SET", "kv:acl", "v")).toBe("OK");
    expect(await app("GET", "kv:acl")).toBe("v");
    expect(await app("INCR", "counter:acl")).toBe(1);
    // The keyed increment exactly as the service sends it (app/src/counter_increment.cpp).
    const keyed = ["EVAL", IDEMPOTENT_INCR_SCRIPT, "2", "counter:acl", "idempotency:counter:3:acl:k1", "60000"];
    expect(await app(...keyed)).toEqual([0, 2]);
    expect(await app(...keyed)).toEqual([1, 2]);
    expect(await app("WAIT", "1", "1000")).toBeGreaterThanOrEqual(1);
    expect(await app("ROLE")).toEqual(expect.arrayContaining(["master"]));
    for (const refused of [
      ["SET", "other:acl", "v"],
      ["GET", "other:acl"],
      ["DEL", "kv:acl"],
      ["FLUSHALL"],
      ["CONFIG", "GET", "maxmemory"],
      ["KEYS", "*"],
      ["EVAL", "return redis.call('GET', KEYS[1])", "1", "other:acl"],
      ["REPLICAOF", "NO", "ONE"],
      ["ACL", "LIST"],
    ]) {
      expect(await app(...refused), refused.join(" ")).toBe("NOPERM");
    }
    // Inside a script Redis checks each call against the same rules.
    for (const script of ["return redis.call('FLUSHALL')", "return redis.call('GET', 'other:acl')", "return redis.call('DEL', 'kv:acl')"]) {
      const refusal = await withConnection(master, REDIS_PORT, rolePassword(creds, "app"), (c) => c.call("EVAL", script, "0"), 2000, "app").catch((e: Error) => e.message);
      expect(refusal, script).toMatch(/user executing the script can't (run this command|access at least one of the keys)/);
    }
  });

  it("gives the exporters statistics and nothing else", async () => {
    expect(String(await monitor("INFO", "replication"))).toMatch(/role:master/);
    expect(await monitor("SLOWLOG", "LEN")).toEqual(expect.any(Number));
    // CONFIG GET would hand out masterauth (the replication password) and every other setting.
    const refusals = [["GET", "kv:acl"], ["SET", "kv:acl", "x"], ["FLUSHALL"], ["CONFIG", "SET", "maxmemory", "1"], ["CONFIG", "GET", "masterauth"], ["CONFIG", "GET", "*"], ["SHUTDOWN"]];
    for (const refused of refusals) {
      expect(await monitor(...refused), refused.join(" ")).toBe("NOPERM");
    }
  });

  it("gives each Sentinel client its own user: lookups and events, never reconfiguring a Sentinel", async () => {
    const cfg = suite.cfg;
    const sentinel = suite.hosts[0]!;
    // Each client's Sentinel password is the one it already holds for Redis (SENTINEL_ACL_USERS).
    const passwords = { app: rolePassword(creds, "app"), monitor: rolePassword(creds, "monitor"), relay: rolePassword(creds, "relay"), backup: creds.redisPassword };
    const on = (user: keyof typeof SENTINEL_ACL_USERS, ...command: string[]) =>
      withConnection(sentinel, SENTINEL_PORT, passwords[user], (c) => c.call(command[0]!, ...command.slice(1)), 2000, user).catch((error: Error) => error.message.split(" ")[0]);
    const uses = {
      app: [["SENTINEL", "MASTER", cfg.masterName], ["SENTINEL", "REPLICAS", cfg.masterName], ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", cfg.masterName]],
      monitor: [["INFO"], ["SENTINEL", "MASTERS"], ["SENTINEL", "SENTINELS", cfg.masterName], ["SENTINEL", "SLAVES", cfg.masterName], ["SENTINEL", "CKQUORUM", cfg.masterName]],
      relay: [["SENTINEL", "MASTER", cfg.masterName], ["SENTINEL", "REPLICAS", cfg.masterName], ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", cfg.masterName]],
      backup: [["SENTINEL", "GET-MASTER-ADDR-BY-NAME", cfg.masterName], ["SENTINEL", "MASTER", cfg.masterName]],
    };
    const refused = [
      ["SENTINEL", "SET", cfg.masterName, "quorum", "1"],
      ["SENTINEL", "REMOVE", cfg.masterName],
      ["SENTINEL", "MONITOR", "fake", "127.0.0.1", "6399", "1"],
      ["SENTINEL", "FAILOVER", cfg.masterName],
      ["SENTINEL", "RESET", "*"],
      ["SENTINEL", "CONFIG", "GET", "*"],
      ["SENTINEL", "DEBUG"],
      ["ACL", "LIST"],
      ["PUBLISH", "__sentinel__:hello", "x"],
    ];
    for (const user of Object.keys(SENTINEL_ACL_USERS) as Array<keyof typeof SENTINEL_ACL_USERS>) {
      expect(await on(user, "PING"), `${user}: PING`).toBe("PONG");
      for (const command of uses[user]) expect(["NOPERM", "WRONGPASS", "ERR"], `${user}: ${command.join(" ")}`).not.toContain(await on(user, ...command));
      for (const command of refused) expect(await on(user, ...command), `${user}: ${command.join(" ")}`).toBe("NOPERM");
    }
    // The app hears failover events but not the Sentinels' hello channel (their addresses and epochs).
    expect(await on("app", "SUBSCRIBE", "+switch-master")).not.toBe("NOPERM");
    expect(await on("app", "SUBSCRIBE", "__sentinel__:hello")).toBe("NOPERM");
    expect(await on("relay", "SUBSCRIBE", "+switch-master")).not.toBe("NOPERM");
    expect(await on("relay", "SUBSCRIBE", "__sentinel__:hello")).toBe("NOPERM");
    expect(await on("monitor", "SUBSCRIBE", "+switch-master")).toBe("NOPERM");
    // The Sentinels' own password still does everything (peers, pod scripts, operators).
    expect(await withConnection(sentinel, SENTINEL_PORT, creds.sentinelPassword, (c) => c.call("ACL", "WHOAMI"))).toBe("default");
  });

  it("lets a standby's leader link as `standby` and read no key, and the relay run nothing on Redis", async () => {
    const standby = (...command: string[]) => as(master, "standby", rolePassword(creds, "standby"), ...command);
    expect(await standby("PING")).toBe("PONG");
    expect(await standby("REPLCONF", "capa", "psync2")).toBe("OK");
    for (const refused of [["GET", "kv:acl"], ["SET", "kv:acl", "x"], ["KEYS", "*"], ["INFO"], ["CONFIG", "GET", "masterauth"], ["SUBSCRIBE", "x"]]) {
      expect(await standby(...refused), refused.join(" ")).toBe("NOPERM");
    }
    for (const refused of [["PING"], ["GET", "kv:acl"], ["INFO"], ["ROLE"], ["PSYNC", "?", "-1"]]) {
      expect(await as(master, "relay", rolePassword(creds, "relay"), ...refused), refused.join(" ")).toBe("NOPERM");
    }
  });

  it("lets redis-dr-archiver follow a replica as `archiver`, reading no key", async () => {
    for (const refused of [["GET", "kv:acl"], ["SET", "kv:acl", "x"], ["KEYS", "*"], ["FLUSHALL"], ["CONFIG", "GET", "masterauth"], ["SUBSCRIBE", "x"]]) {
      expect(await as(master, "archiver", rolePassword(creds, "archiver"), ...refused), refused.join(" ")).toBe("NOPERM");
    }
    const spool = path.join(suite.baseDir, "archive-spool");
    const followCommand = inCluster(ARCHIVER_BINARY, ["follow"]);
    const follower = spawn(followCommand.command, followCommand.args, {
      env: { PATH: process.env.PATH, REDIS_NODES: suite.hosts.join(","), ARCHIVER_USER: "archiver", REDIS_PASSWORD: rolePassword(creds, "archiver"), ARCHIVE_SPOOL_DIR: spool, ARCHIVE_SEGMENT_MS: "100" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    follower.stdout!.on("data", (chunk) => (output += chunk));
    try {
      await waitFor("the archiver to follow a replica", async () => /following /.test(output), 15_000);
      await as(master, "app", rolePassword(creds, "app"), "SET", "kv:archived", "yes");
      await waitFor("a segment holding the write", async () => fs.readdirSync(spool).some((f) => f.endsWith(".resp") && fs.readFileSync(path.join(spool, f)).includes("kv:archived")), 15_000);
    } finally {
      follower.kill("SIGTERM");
    }
    // A replica, never the master.
    const replicas = suite.hosts.filter((h) => h !== master);
    expect(output).toMatch(new RegExp(`following (${replicas.map((h) => h.replace(/\./g, "\\.")).join("|")}):6379`));
  });

  it("links replicas as `replication` and lets Sentinel fail over as `sentinel`, neither able to touch data", async () => {
    for (const user of ["replication", "sentinel"] as const) {
      for (const refused of [["GET", "kv:acl"], ["FLUSHALL"], ["CONFIG", "SET", "maxmemory", "1"]]) {
        expect(await as(master, user, rolePassword(creds, user), ...refused), `${user}: ${refused.join(" ")}`).toBe("NOPERM");
      }
    }
    const replication = String(await as(master, "admin", creds.redisPassword, "INFO", "replication"));
    expect(replication.match(/state=online/g)).toHaveLength(2);
    // A failover runs on the sentinel user's rights alone (SLAVEOF, CONFIG REWRITE, CLIENT KILL, ...).
    const cfg = suite.cfg;
    await withConnection(suite.hosts[0]!, SENTINEL_PORT, creds.sentinelPassword, (c) => c.call("SENTINEL", "FAILOVER", cfg.masterName));
    const moved = await waitFor(
      "a new master with both replicas online",
      async () => {
        const view = await waitForConvergence(suite.hosts, cfg.masterName, creds, 5_000).catch(() => undefined);
        return view && view.masters[0] !== master ? view.masters[0] : undefined;
      },
      60_000,
    );
    expect(String(await as(moved, "admin", creds.redisPassword, "INFO", "replication")).match(/state=online/g)).toHaveLength(2);
  });
});

describe("a password rotation", () => {
  it("keeps every listed password valid while clients use the first", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redis-dr-acl-rotation-"));
    fs.writeFileSync(path.join(dir, "users.acl"), renderAclUsers());
    const env: Record<string, string> = {
      PATH: process.env.PATH!,
      POD_FQDN: "rotation",
      REDIS_NODES: "rotation",
      MASTER_NAME: "m",
      REDIS_PASSWORD: "rotation-admin-0123456789",
      SENTINEL_PASSWORD: "rotation-sentinel-0123456789",
      CONFIG_DIR: dir,
      REPLICATION_PASSWORDS: "replication-0123456789",
      SENTINEL_USER_PASSWORDS: "sentinel-user-0123456789",
      APP_PASSWORDS: "app-old-0123456789,app-new-0123456789",
      MONITOR_PASSWORDS: "monitor-0123456789",
      ARCHIVER_PASSWORDS: "archiver-0123456789",
      STANDBY_PASSWORDS: "standby-0123456789",
      RELAY_PASSWORDS: "relay-0123456789",
    };
    const rendered = spawnSync("bash", ["-c", `source "${SCRIPT_DIR}/lib.sh" && acl_user_lines "$CONFIG_DIR/users.acl" && echo "first: $(first_password "$APP_PASSWORDS")"`], { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    expect(rendered.status, rendered.stderr).toBe(0);
    expect(rendered.stdout).toContain("first: app-old-0123456789");
    expect(rendered.stdout.split("\n").filter((l) => l.startsWith("user "))).toHaveLength(Object.keys(ACL_USERS).length);

    const socket = path.join(dir, "redis.sock");
    const conf = path.join(dir, "redis.conf");
    fs.writeFileSync(conf, `port 0\nunixsocket ${socket}\nsave ""\nappendonly no\nuser default reset off\n${rendered.stdout.split("\n").filter((l) => l.startsWith("user ")).join("\n")}\n`);
    const server = spawn("redis-server", [conf], { stdio: "ignore" });
    try {
      await waitFor("the server's socket", async () => fs.existsSync(socket), 5000);
      const auth = (password: string) => cli(["-s", socket, "--user", "app", "--pass", password]);
      expect(auth("app-old-0123456789")).toBe("PONG");
      expect(auth("app-new-0123456789")).toBe("PONG");
      expect(auth("app-gone-0123456789")).toMatch(/WRONGPASS/);
    } finally {
      server.kill("SIGKILL");
    }
  });
});
