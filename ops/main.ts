import { StackConfigError } from "../config/load";
import { parseCommandLine } from "../scripts/commandLine";
import { stackFileConfig } from "../config/stackFile";
import { APP_SERVICE_NAME } from "../k8s/appTier";
import { diagnoseLoadBalancer, LoadBalancerDiagnosis } from "../k8s/loadBalancerDiagnosis";
import { kubectlLoadBalancerView } from "./serviceView";
import { localPods } from "../local/podRunner";
import { kubectlAvailable, kubectlPods, switchover } from "./switchover";
import { BACKUP_COMMANDS, BackupCommand, backupCommand, kubectlBackupRunner, localBackupRunner } from "./backup";
import { apiOptionsFromEnv, configureLinodeApi, describeError } from "./linodeApi";
import { kubectlPodNode, nodeDrill } from "./nodeDrill";
import { formatResult, preflight } from "./preflight";
import { clusterStatus, nodeBalancerStatus, redisStatus } from "./status";

const USAGE = `usage: npm run ops -- <command> [--stack dev|prod] [--json] [--sentinel host:port ...] [--url URL] [--yes]

commands:
  preflight   check the stack's region, Kubernetes version, node type and account on the Linode API
  status      LKE nodes, the app Service's load balancer (kubectl: pending, or why the CCM failed),
              NodeBalancer backends and, with --sentinel, the Redis master, replicas and lag
  drill       recycle the LKE node that hosts the Redis master while writing through --url (needs --yes)
  switchover  move the Redis master to another pod with no write lost: pause writes, wait until the
              target holds every byte, fail over through Sentinel, demote, release (--to redis-N;
              --local: the npm start topology instead of the cluster, through kubectl exec)
  backup      list | verify ID | restore ID|latest | accept ID | now: the stack's backups, by the
              CronJob's own pod run as a one-off Job (--local: the npm start topology); restore asks
              first (--yes) and skips suspect backups (--allow-suspect); accept trusts a suspect one

options:
  --stack NAME          stack file to read; default dev
  --json                machine-readable output
  --sentinel HOST:PORT  a Sentinel to ask (status, drill; repeatable)
  --url URL             the public URL to write through (drill)
  --yes                 confirm the drill's node recycle, or a backup restore
  --to POD              switchover target (redis-N); default: Sentinel's choice among in-sync replicas
  --local               switchover or backup on the npm start topology (.local/<stack>)
  --allow-suspect       let a backup restore take a backup marked suspect
  -h, --help            this text

environment: LINODE_TOKEN (required), LINODE_API_URL (optional), SENTINEL_PASSWORD and REDIS_PASSWORD
(for --sentinel; reach a Sentinel with: kubectl port-forward -n <namespace> svc/redis-sentinel 26379),
API_TOKEN (drill: the API's bearer token, pulumi stack output --show-secrets apiToken)`;

async function main(): Promise<number> {
  const { values, positionals } = parseCommandLine(
    USAGE,
    {
      stack: { type: "string", default: "dev" },
      json: { type: "boolean", default: false },
      sentinel: { type: "string", multiple: true },
      url: { type: "string" },
      yes: { type: "boolean", default: false },
      to: { type: "string" },
      local: { type: "boolean", default: false },
      "allow-suspect": { type: "boolean", default: false },
    },
    true,
  );
  const command = positionals[0];
  if (command === "backup") {
    const [, sub, id, ...rest] = positionals;
    if (!sub || !(BACKUP_COMMANDS as readonly string[]).includes(sub) || rest.length > 0) {
      console.error(`backup needs one of: ${BACKUP_COMMANDS.join(", ")}\n\n${USAGE}`);
      return 2;
    }
    const stack = values.stack!;
    const cfg = stackFileConfig(stack);
    if (!values.local && !kubectlAvailable()) throw new Error("backup needs kubectl with the stack's kubeconfig (or --local for the npm start topology)");
    const runner = values.local ? await localBackupRunner(cfg, stack) : kubectlBackupRunner(cfg);
    return backupCommand(runner, sub as BackupCommand, id, { stack, yes: values.yes!, allowSuspect: values["allow-suspect"]!, print: (line) => console.log(line) });
  }
  if (!command || !["preflight", "status", "drill", "switchover"].includes(command) || positionals.length > 1) {
    console.error(`${command ? `unknown command or extra argument: ${positionals.join(" ")}` : "no command given"}\n\n${USAGE}`);
    return 2;
  }
  const stack = values.stack!;
  const cfg = stackFileConfig(stack);
  const json = values.json!;
  const progress = (line: string) => {
    if (!json) console.log(`  ${line}`);
  };
  if (command === "switchover") {
    if (!values.local && !kubectlAvailable()) throw new Error("switchover needs kubectl with the stack's kubeconfig (or --local for the npm start topology)");
    const runner = values.local ? localPods(cfg, stack) : kubectlPods(cfg);
    progress(`switchover on ${values.local ? "the local topology" : `namespace ${cfg.namespace}`}${values.to ? ` to ${values.to}` : ""}...`);
    const result = await switchover(runner, values.to);
    if (json) console.log(JSON.stringify(result, null, 2));
    else console.log(`${result.output.trim()}\n${result.code === 0 ? "switched" : result.code === 3 ? "refused (nothing changed)" : "FAILED"}: ${result.from} -> ${result.to ?? "Sentinel's choice"}`);
    return result.code;
  }

  configureLinodeApi({ ...apiOptionsFromEnv(), log: (line) => console.error(line) });

  if (command === "preflight") {
    if (!json) console.log(`preflight for stack ${stack}:`);
    const results = await preflight(cfg, stack, (check) => progress(`checking ${check}...`));
    if (json) console.log(JSON.stringify({ stack, ok: results.every((r) => r.ok), results }, null, 2));
    else for (const r of results) console.log(formatResult(r));
    return results.every((r) => r.ok) ? 0 : 1;
  }

  const sentinels = values.sentinel ?? [];
  const sentinelPassword = process.env.SENTINEL_PASSWORD ?? "";
  if (command === "status") {
    progress("LKE cluster...");
    const cluster = await clusterStatus(stack);
    progress("app Service (kubectl)...");
    let service: LoadBalancerDiagnosis | { error: string };
    try {
      const view = kubectlLoadBalancerView(cfg.namespace, APP_SERVICE_NAME);
      service = diagnoseLoadBalancer(view.service, view.events, cfg.publicEntry);
    } catch (error) {
      service = { error: `kubectl could not read the app Service (${describeError(error).split("\n")[0]}); set KUBECONFIG to the stack's kubeconfig output` };
    }
    progress("NodeBalancer...");
    const nodeBalancer = await nodeBalancerStatus(stack).catch((error: unknown) => ({ error: describeError(error) }));
    let redis;
    if (sentinels.length > 0) {
      progress("Sentinels...");
      redis = await redisStatus(sentinels, cfg.masterName, { sentinel: sentinelPassword, ...(process.env.REDIS_PASSWORD ? { redis: process.env.REDIS_PASSWORD } : {}) });
    }
    if (json) {
      console.log(JSON.stringify({ stack, cluster, service, nodeBalancer, ...(redis ? { redis } : {}) }, null, 2));
    } else {
      console.log(`cluster ${cluster.label} (${cluster.id}): ${cluster.status}, Kubernetes ${cluster.k8sVersion}`);
      for (const pool of cluster.pools) for (const n of pool.nodes) console.log(`  node ${n.id} (linode ${n.instanceId ?? "-"}, ${pool.type}): ${n.status}`);
      if ("error" in service) console.log(`app Service: ${service.error}`);
      else {
        console.log(`app Service ${service.message}`);
        for (const line of service.events.slice(-3)) console.log(`  ${line}`);
      }
      if ("error" in nodeBalancer) console.log(`NodeBalancer: ${nodeBalancer.error}`);
      else {
        console.log(`NodeBalancer ${nodeBalancer.label}: ${nodeBalancer.hostname} ${nodeBalancer.ipv4}`);
        for (const p of nodeBalancer.ports) {
          console.log(`  port ${p.port}: ${p.up} up, ${p.down} down`);
          for (const b of p.backends) console.log(`    ${b.label} ${b.address}: ${b.status}`);
        }
      }
      if (redis) {
        console.log(`Redis master: ${redis.master ?? "none"} (${redis.agreeing} of ${redis.asked} Sentinels agree)`);
        for (const r of redis.replicas) console.log(`  replica ${r.address}: link ${r.linkStatus}, ${r.lagBytes} bytes behind${r.flags !== "slave" ? ` [${r.flags}]` : ""}`);
        for (const s of redis.sentinels.filter((v) => v.error)) console.log(`  Sentinel ${s.sentinel}: ${s.error}`);
      }
    }
    const pending = "state" in service && service.state === "pending";
    return pending || "error" in nodeBalancer ? 1 : 0;
  }

  if (!values.url) throw new Error("drill needs --url <public URL> (the stack output publicUrl)");
  const apiToken = process.env.API_TOKEN;
  if (!apiToken) throw new Error("drill writes through the API: set API_TOKEN (pulumi stack output --show-secrets apiToken)");
  if (sentinels.length === 0) throw new Error("drill needs --sentinel host:port (kubectl port-forward -n <namespace> svc/redis-sentinel 26379)");
  if (!values.yes) throw new Error("drill recycles a production node; pass --yes to confirm");
  const result = await nodeDrill({
    stack,
    masterName: cfg.masterName,
    sentinels,
    sentinelPassword,
    url: values.url,
    apiToken,
    podNode: kubectlPodNode(cfg.namespace),
    progress,
  });
  if (json) console.log(JSON.stringify(result, null, 2));
  else {
    console.log(`recycled ${result.node} (LKE node ${result.lkeNodeId}), which hosted master ${result.masterBefore}`);
    console.log(`recovery: ${Number.isNaN(result.recoveryMs) ? "writes did not recover" : `${(result.recoveryMs / 1000).toFixed(1)} s`}; ${result.failed} of ${result.requests} requests failed; master now ${result.masterAfter ?? "unknown"}`);
  }
  return Number.isNaN(result.recoveryMs) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error instanceof StackConfigError ? error.message : `error: ${describeError(error)}`);
    process.exit(1);
  },
);
