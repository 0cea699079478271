import { StackConfigError } from "../config/load";
import { stackFileConfig } from "../config/stackFile";
import { command, commandGroup, CommandSpec, OptionSpecs, runCommandTable } from "../scripts/commandTable";
import { kubectlAvailable, kubectlPods, switchover, SWITCHOVER_TARGET, switchoverLine } from "./switchover";
import { kubectlBackupRunner } from "./backup";
import { backupCommands } from "./backupCommands";
import { STACK, YES } from "./commonOptions";
import { apiOptionsFromEnv, configureLinodeApi, describeError } from "./linodeApi";
import { kubectlPodNode, nodeDrill } from "./nodeDrill";
import { formatResult, preflight } from "./preflight";
import { gatherStatus, statusExitCode, statusLines } from "./statusCommand";

const PROGRAM = "npm run ops --";
const ENVIRONMENT = `environment: LINODE_TOKEN (required), LINODE_API_URL (optional), SENTINEL_PASSWORD and REDIS_PASSWORD
(for --sentinel; reach a Sentinel with: kubectl port-forward -n <namespace> svc/redis-sentinel 26379),
API_TOKEN (drill: the API's bearer token, pulumi stack output --show-secrets apiToken)`;

// Options more than one command takes, declared once (the stack and --yes: commonOptions.ts).
const JSON_OUTPUT = { json: { type: "boolean", default: false, help: "machine-readable output" } } as const;
const SENTINEL = { sentinel: { type: "string", multiple: true, value: "HOST:PORT", help: "a Sentinel to ask (repeatable)" } } as const;

/** The commands that ask the Linode API set it up from the environment, logging retries to stderr. */
const useLinodeApi = () => configureLinodeApi({ ...apiOptionsFromEnv(), log: (line) => console.error(line) });

/** Progress lines, unless the output is JSON. */
const progressFor = (json: boolean) => (line: string) => {
  if (!json) console.log(`  ${line}`);
};

const COMMANDS: Record<string, CommandSpec<OptionSpecs>> = {
  preflight: command({
    summary: "check the stack's region, Kubernetes version, node type and account on the Linode API",
    positionals: { min: 0, max: 0 },
    options: { ...STACK, ...JSON_OUTPUT },
    async run(values) {
      useLinodeApi();
      if (!values.json) console.log(`preflight for stack ${values.stack}:`);
      const results = await preflight(stackFileConfig(values.stack), values.stack, (check) => progressFor(values.json)(`checking ${check}...`));
      if (values.json) console.log(JSON.stringify({ stack: values.stack, ok: results.every((r) => r.ok), results }, null, 2));
      else for (const r of results) console.log(formatResult(r));
      return results.every((r) => r.ok) ? 0 : 1;
    },
  }),
  status: command({
    summary: "LKE nodes, the app Service's load balancer (kubectl: pending, or why the CCM failed), NodeBalancer backends, with --sentinel the Redis master, replicas and lag, and with --archive the times a restore can reach",
    positionals: { min: 0, max: 0 },
    options: {
      ...STACK,
      ...JSON_OUTPUT,
      ...SENTINEL,
      archive: { type: "boolean", default: false, help: "the times restore --at can reach: from the oldest trusted backup to the newest archived write, less any gap (a backup Job, kubectl)" },
    },
    async run(values) {
      useLinodeApi();
      const cfg = stackFileConfig(values.stack);
      if (values.archive && !kubectlAvailable()) throw new Error("status --archive needs kubectl with the stack's kubeconfig (for the npm start topology: npm run backup -- window)");
      const report = await gatherStatus(values.stack, cfg, values.sentinel ?? [], progressFor(values.json), values.archive ? kubectlBackupRunner(cfg) : undefined);
      console.log(values.json ? JSON.stringify(report, null, 2) : statusLines(report).join("\n"));
      return statusExitCode(report);
    },
  }),
  drill: command({
    summary: "recycle the LKE node that hosts the Redis master while writing through --url (needs --yes)",
    positionals: { min: 0, max: 0 },
    options: { ...STACK, ...JSON_OUTPUT, ...SENTINEL, url: { type: "string", value: "URL", help: "the public URL to write through (the stack output publicUrl)" }, ...YES },
    async run(values) {
      useLinodeApi();
      const cfg = stackFileConfig(values.stack);
      const sentinels = values.sentinel ?? [];
      if (!values.url) throw new Error("drill needs --url <public URL> (the stack output publicUrl)");
      const apiToken = process.env.API_TOKEN;
      if (!apiToken) throw new Error("drill writes through the API: set API_TOKEN (pulumi stack output --show-secrets apiToken)");
      if (sentinels.length === 0) throw new Error("drill needs --sentinel host:port (kubectl port-forward -n <namespace> svc/redis-sentinel 26379)");
      if (!values.yes) throw new Error("drill recycles a production node; pass --yes to confirm");
      const result = await nodeDrill({
        stack: values.stack,
        masterName: cfg.masterName,
        sentinels,
        sentinelPassword: process.env.SENTINEL_PASSWORD ?? "",
        url: values.url,
        apiToken,
        podNode: kubectlPodNode(cfg.namespace),
        progress: progressFor(values.json),
      });
      if (values.json) console.log(JSON.stringify(result, null, 2));
      else {
        console.log(`recycled ${result.node} (LKE node ${result.lkeNodeId}), which hosted master ${result.masterBefore}`);
        console.log(
          `recovery: ${Number.isNaN(result.recoveryMs) ? "writes did not recover" : `${(result.recoveryMs / 1000).toFixed(1)} s`}; ${result.failed} of ${result.requests} requests failed; master now ${result.masterAfter ?? "unknown"}`,
        );
      }
      return Number.isNaN(result.recoveryMs) ? 1 : 0;
    },
  }),
  switchover: command({
    summary: "move the Redis master to another pod with no write lost: pause writes, wait until the target holds every byte, fail over through Sentinel, demote, release",
    positionals: { min: 0, max: 0 },
    options: { ...STACK, ...JSON_OUTPUT, ...SWITCHOVER_TARGET },
    async run(values) {
      const cfg = stackFileConfig(values.stack);
      if (!kubectlAvailable()) throw new Error("switchover needs kubectl with the stack's kubeconfig (for the npm start topology: npm run switchover)");
      progressFor(values.json)(`switchover on namespace ${cfg.namespace}${values.to ? ` to ${values.to}` : ""}...`);
      const result = await switchover(kubectlPods(cfg), values.to);
      console.log(values.json ? JSON.stringify(result, null, 2) : switchoverLine(result));
      return result.code;
    },
  }),
  backup: commandGroup(
    "the stack's backups, by the CronJob's own pod run as a one-off Job: take one now, list, verify, restore (asks first; skips suspect backups), accept a suspect one, the times a restore to a time can reach (window), list the archived commands (log) or undo some (asks first)",
    backupCommands(async (stack) => {
      if (!kubectlAvailable()) throw new Error("backup needs kubectl with the stack's kubeconfig (for the npm start topology: npm run backup)");
      return kubectlBackupRunner(stackFileConfig(stack));
    }),
  ),
};

runCommandTable(PROGRAM, COMMANDS, process.argv.slice(2), ENVIRONMENT).then(
  (code) => process.exit(code),
  (error) => {
    console.error(error instanceof StackConfigError ? error.message : `error: ${describeError(error)}`);
    process.exit(1);
  },
);
