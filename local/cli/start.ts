import * as fs from "fs";
import * as path from "path";
import { StackConfig } from "../../config/schema";
import { claimStateDirectory, leftoversInSite, leftoversInUserNamespace, refuseIfClaimed, RUN_CLAIM_FILE, stopLeftoverContainers } from "../cluster/leftovers";
import { ClusterRun, ClusterStartOptions } from "../cluster/start";
import { isRootless, readRootlessRun, recordRootlessRun, rerunRootlessUnlessRoot, rootlessPrefix } from "../cluster/rootless";
import { LOCAL_SITES } from "../cluster/sites";
import { stackFileConfig } from "../../config/stackFile";
import { API_TOKEN_FILE, localApiToken, localCredentials } from "../credentials";
import { parseCommandLine } from "../../scripts/commandLine";
import { archiveTiming, backupSettings } from "../../k8s/backup/settings";
import { LocalArchiver } from "../backup/archiver";
import { BackupSchedule } from "../backup/schedule";
import { LOCAL_STORE_DIR, localObjectStore } from "../backup/objectStore";
import { LocalBackupOptions } from "../backup/job";
import { SeedChoice } from "../../k8s/redis/podEnvironment";
import { skipList } from "../../ops/backup";

const USAGE = `usage: npm start [-- options]

Runs the production topology on this machine from a stack's config: the program rendered for
the stack, its Redis StatefulSet (redis, sentinel, promotion follower and exporters per pod)
and the service's Deployment as pods on a local kubelet, each in its own network namespace,
with cluster DNS; an S3-compatible object store standing in for the backup region
(.local/<stack>/objects, kept by --fresh) and the backup job on the stack's schedule. Without
root it runs in a user namespace of its own (scripts/rootless.sh). Ctrl-C stops it.

options:
  --stack NAME        stack file to read (Pulumi.NAME.yaml); default dev
  --dir DIR           where state and logs live (DIR/<stack>); default .local
  --fresh             start from empty volumes
  --public-port P     where the LoadBalancer Service's stand-in listens (127.0.0.1); default 18080
  --restore ID|TIME|latest  seed an empty topology from the local object store: a verified
                      backup, the state at TIME (RFC 3339: a backup and the continuous archive),
                      or latest (the newest archived write); as the restore init container
                      does with restoreFrom; with --fresh
  --skip OFFSETS      with --restore TIME|latest: leave the archived commands at these
                      offsets out of the replay (npm run backup -- log lists them)
  --allow-gap         with --restore TIME|latest: replay across gaps the archiver recorded
                      (full resyncs), printing what each leaves out
  --allow-suspect     let --restore take a backup marked suspect (it shrank past
                      backupShrinkAlarmPercent); latest skips them otherwise
  -h, --help          this text`;

/** `npm start`: the stack's rendered pods on the local kubelet until Ctrl-C. */
async function main(): Promise<void> {
  const { values } = parseCommandLine(USAGE, {
    stack: { type: "string", default: "dev" },
    dir: { type: "string", default: path.resolve(".local") },
    fresh: { type: "boolean", default: false },
    "public-port": { type: "string", default: "18080" },
    restore: { type: "string" },
    "allow-suspect": { type: "boolean", default: false },
    skip: { type: "string" },
    "allow-gap": { type: "boolean", default: false },
  });
  const stack = values.stack!;
  const cfg = stackFileConfig(stack);
  const baseDir = path.resolve(values.dir!, stack);
  if (values["allow-suspect"] && values.restore === undefined) throw new Error("--allow-suspect only applies with --restore");
  const restore =
    values.restore === undefined ? undefined : { ...restoreChoice(values.restore, values.skip), allowSuspect: values["allow-suspect"]!, ...(values["allow-gap"] ? { allowGap: true } : {}) };
  if (values.skip !== undefined && !restore?.at) throw new Error("--skip needs --restore TIME or latest (a backup id alone replays no archive)");
  if (values["allow-gap"] && !restore?.at) throw new Error("--allow-gap needs --restore TIME or latest (a backup id alone replays no archive)");
  const publicPort = Number(values["public-port"]);
  if (!Number.isInteger(publicPort) || publicPort < 1024 || publicPort > 65535) throw new Error(`--public-port: "${values["public-port"]}" is not a port between 1024 and 65535`);
  const grace = cfg.redisTerminationGraceSeconds * 1000;
  // A run killed hard left its containers running: stop them before anything touches their volumes.
  // A rootless run's are seen only from here, outside any user namespace (ptrace access rules).
  if (process.getuid?.() !== 0 && fs.existsSync(baseDir)) {
    refuseIfClaimed(baseDir, "npm start");
    const earlier = readRootlessRun(baseDir);
    if (earlier) reportLeftovers(await stopLeftoverContainers(leftoversInUserNamespace(earlier.userNamespace), grace));
  }
  // Everything checked: from here on this may be the rootless re-run, with the public port passed in.
  await rerunRootlessUnlessRoot([{ host: "127.0.0.1", port: publicPort }]);
  fs.mkdirSync(baseDir, { recursive: true });
  const release = claimStateDirectory(baseDir, "npm start");
  process.on("exit", release);
  if (!isRootless()) reportLeftovers(await stopLeftoverContainers(leftoversInSite(LOCAL_SITES.start.prefix), grace));
  // --fresh empties the volumes, not the object store: it stands for another region.
  if (values.fresh) {
    for (const entry of fs.readdirSync(baseDir).filter((e) => e !== LOCAL_STORE_DIR && e !== RUN_CLAIM_FILE)) fs.rmSync(path.join(baseDir, entry), { recursive: true, force: true });
  }
  if (isRootless()) process.on("exit", recordRootlessRun(baseDir));
  await runCluster({ stack, cfg, baseDir, creds: localCredentials(baseDir), apiToken: localApiToken(baseDir), publicPort, ...(restore ? { restore } : {}) });
}

function reportLeftovers(stopped: string[]): void {
  if (stopped.length > 0) console.log(`stopped ${stopped.length} processes an earlier run left in its pods (${[...new Set(stopped.map((c) => c.split(" ")[0]))].join(", ")})`);
}

/** The continuous archive beside the local pods, as the archiver's pod runs it, into the local store. */
async function startArchiver(job: LocalBackupOptions, cfg: StackConfig, baseDir: string): Promise<LocalArchiver> {
  const archiver = new LocalArchiver({ job, spoolDir: path.join(baseDir, "archive", "spool"), timing: archiveTiming(cfg) });
  await archiver.start();
  console.log(`continuous archive: every acknowledged write in the store within ${cfg.archiveIntervalMs} ms; logs ${path.join(baseDir, "archive")}`);
  console.log(`restore to a time: npm run backup -- restore --at <RFC 3339>`);
  return archiver;
}

/** `npm start` on the cluster runtime: runs until Ctrl-C. */
async function runCluster(opts: Omit<ClusterStartOptions, "makeStore" | "log">): Promise<void> {
  const { stack, cfg, baseDir } = opts;
  const stamp = (line: string) => console.log(line);
  console.log(`redis-dr local cluster, stack "${stack}" (down-after ${cfg.sentinelDownAfterMs} ms, quorum ${cfg.sentinelQuorum})`);
  console.log(`state and logs: ${baseDir}`);
  console.log("pods: the program's StatefulSet and Deployment on a local kubelet, one network namespace each, cluster DNS");
  if (isRootless()) console.log(`not root: in a user namespace of its own (pid ${process.pid}); a shell on this machine gets in with: ${rootlessPrefix().trim()}`);
  let run: ClusterRun | undefined;
  let backups: BackupSchedule | undefined;
  let archiver: LocalArchiver | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log("\nstopping: SIGTERM to every container, SIGKILL after its pod's grace period...");
    await backups?.stop();
    await archiver?.stop();
    await run?.stop();
    console.log("stopped; nothing left running. Data stays in", baseDir, "(--fresh to start empty)");
    process.exit(code);
  };
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));
  try {
    run = await ClusterRun.start({ ...opts, makeStore: (host) => localObjectStore(baseDir, stack, host), log: stamp });
    const { cluster } = run;
    console.log("\nconverged; pods:");
    for (const name of cluster.podNames()) console.log(`  ${name.padEnd(16)} ${cluster.ipOf(name).padEnd(12)} netns ${cluster.namespaceOf(name)}  logs ${path.join(baseDir, "pods", name, "logs")}`);
    backups = new BackupSchedule(
      { target: run.backupTarget, store: run.store.access, settings: backupSettings(cfg), scratchDir: path.join(baseDir, "backup-scratch") },
      path.join(baseDir, "backup.log"),
      (line) => console.log(`[${new Date().toISOString()}] ${line}`),
    );
    backups.start();
    archiver = await startArchiver({ target: run.backupTarget, store: run.store.access, settings: backupSettings(cfg), scratchDir: path.join(baseDir, "backup-scratch") }, cfg, baseDir);
    const tokenFile = path.join(baseDir, API_TOKEN_FILE);
    console.log(`\nservice (the LoadBalancer Service's stand-in, to ready app pods): ${run.loadBalancer.url}`);
    console.log(`the API wants a bearer token, kept in ${tokenFile}:`);
    console.log(`  TOKEN=$(cat ${tokenFile})`);
    console.log(`  curl -H "Authorization: Bearer $TOKEN" -X PUT --data hello ${run.loadBalancer.url}/kv/greeting`);
    console.log(`  curl -H "Authorization: Bearer $TOKEN" ${run.loadBalancer.url}/kv/greeting`);
    console.log(`\nin a pod: ${rootlessPrefix()}ip netns exec ${cluster.namespaceOf("redis-0")} redis-cli -h redis-sentinel.${cfg.namespace}.svc.cluster.local -p 26379 --askpass SENTINEL get-master-addr-by-name ${cfg.masterName}`);
    console.log(`  (the Sentinel password is in ${path.join(baseDir, "sentinel-password")})`);
    console.log(`\nbackups: on schedule "${cfg.backupSchedule}" (UTC), next at ${backups.nextRun().toISOString()}; log ${path.join(baseDir, "backup.log")}`);
    console.log(`take one now: npm run backup -- now${stack === "dev" ? "" : ` --stack ${stack}`}`);
    console.log("Ctrl-C stops everything.");
  } catch (error) {
    console.error(`\nerror: ${(error as Error).message}`);
    await stop(1);
  }
}

/**
 * What --restore names: a backup id (that backup alone), a time (RFC 3339: the newest verified
 * backup before it and the continuous archive replayed to it), or latest (the newest archived
 * write, or the newest backup when nothing is archived).
 */
export function restoreChoice(value: string, skip?: string): SeedChoice {
  const skipped = skip === undefined ? {} : { skip: skipList(skip).split(",").map(Number) };
  if (/^\d{8}T\d{6}Z$/.test(value)) return { backup: value };
  if (value === "latest") return { backup: "latest", at: "latest", ...skipped };
  if (/^\d{4}-\d{2}-\d{2}T/.test(value) && !Number.isNaN(Date.parse(value))) return { backup: "latest", at: value, ...skipped };
  throw new Error(`--restore: "${value}" is neither latest, a backup id such as 20261125T230000Z, nor a time such as 2026-12-04T21:30:00Z`);
}

main().catch((error) => {
  console.error(`\nerror: ${(error as Error).message}`);
  process.exit(1);
});
