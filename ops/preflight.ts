import { getAccountInfo, getKubernetesVersions, getMyGrants, getProfile, getRegion, getType } from "@linode/api-v4";
import { createKubeClusterSchema, createKubeClusterWithRequiredACLSchema, NodeBalancerSchema } from "@linode/validation";
import { StackConfigError, validateStackName } from "../config/load";
import { StackConfig, toBytes } from "../config/schema";
import { BACKUP_NONCURRENT_DAYS } from "../infra/backupStore";
import { poolAutoscaler } from "../infra/cluster";
import { linodeNames, stackTags } from "../infra/names";
import { describeError, LinodeApiError } from "./linodeApi";

/** One preflight check: ok, or one line naming the config key (when there is one) and the fix. */
export interface CheckResult {
  check: string;
  ok: boolean;
  /** Passes, but what it allows deserves an operator's attention. */
  warning?: boolean;
  key?: string;
  message: string;
}

/** What every stack creates, by the name Linode gives the capability. */
export const REQUIRED_CAPABILITIES = ["Kubernetes", "NodeBalancers", "Block Storage", "Cloud Firewall"] as const;
/** Account capabilities for what the stack config turns on: the always-on API ACL, the HA control plane. */
export const ACL_CAPABILITY = "LKE Network Access Control List (IP ACL)";
export const HA_CONTROL_PLANE_CAPABILITY = "LKE HA Control Planes";
/** Documentation ranges (RFC 5737, RFC 3849): placeholders that can never be a real runner's address. */
const DOCUMENTATION_RANGES = [/^192\.0\.2\./, /^198\.51\.100\./, /^203\.0\.113\./, /^2001:0?db8:/i];
/** Global grants a restricted user needs for the same. */
export const REQUIRED_GRANTS = ["add_lkes", "add_nodebalancers", "add_volumes", "add_firewalls"] as const;

const ok = (check: string, message: string): CheckResult => ({ check, ok: true, message });
const fail = (check: string, key: string | undefined, message: string): CheckResult => ({ check, ok: false, ...(key ? { key } : {}), message });

async function regionCheck(cfg: StackConfig): Promise<CheckResult> {
  try {
    const region = await getRegion(cfg.region);
    const missing = REQUIRED_CAPABILITIES.filter((c) => !region.capabilities.includes(c));
    if (missing.length > 0) {
      return fail("region", "redis-dr:region", `${cfg.region} does not offer ${missing.join(", ")}; choose a region that offers ${REQUIRED_CAPABILITIES.join(", ")}`);
    }
    if (region.status !== "ok") return fail("region", "redis-dr:region", `${cfg.region} reports status "${region.status}"; wait for it to recover or choose another region`);
    return ok("region", `${cfg.region} (${region.label}) offers ${REQUIRED_CAPABILITIES.join(", ")}`);
  } catch (error) {
    if (error instanceof LinodeApiError && error.status === 404) {
      return fail("region", "redis-dr:region", `"${cfg.region}" is not a Linode region; set an id such as us-ord (list: GET /regions)`);
    }
    throw error;
  }
}

async function versionCheck(cfg: StackConfig): Promise<CheckResult> {
  const offered = (await getKubernetesVersions({ page_size: 500 })).data.map((v) => v.id);
  if (!offered.includes(cfg.k8sVersion)) {
    return fail("k8sVersion", "redis-dr:k8sVersion", `LKE does not offer ${cfg.k8sVersion}; set one of ${offered.join(", ")}`);
  }
  return ok("k8sVersion", `LKE offers Kubernetes ${cfg.k8sVersion}`);
}

/** A Redis pod's memory limits (redis + sentinel + two exporters), in MB as Linode counts node memory. */
function redisPodMemoryMb(cfg: StackConfig): number {
  return Math.ceil((toBytes(cfg.redisMemory) + toBytes(cfg.sentinelMemory) + 2 * toBytes(cfg.exporterMemory)) / 1024 ** 2);
}

async function nodeTypeCheck(cfg: StackConfig): Promise<CheckResult> {
  try {
    const type = await getType(cfg.nodeType);
    const needed = redisPodMemoryMb(cfg);
    // Kubernetes system pods and the kubelet's reservation take roughly a quarter of a small node.
    if (needed > type.memory * 0.75) {
      return fail(
        "nodeType",
        "redis-dr:nodeType",
        `${cfg.nodeType} has ${type.memory} MB; a Redis pod needs ${needed} MB of limits plus system overhead; choose a larger type or lower redis-dr:redisMemory`,
      );
    }
    return ok("nodeType", `${cfg.nodeType} (${type.label}, ${type.memory} MB) fits a Redis pod (${needed} MB)`);
  } catch (error) {
    if (error instanceof LinodeApiError && error.status === 404) {
      return fail("nodeType", "redis-dr:nodeType", `"${cfg.nodeType}" is not a Linode type; set an id such as g6-standard-2 (list: GET /linode/types)`);
    }
    throw error;
  }
}

/** The Kubernetes API's ACL: never open in prod, never a placeholder that would lock out the deploy. */
export function controlPlaneAclCheck(cfg: StackConfig): CheckResult {
  const key = "redis-dr:controlPlaneAllowedCidrs";
  const placeholders = cfg.controlPlaneAllowedCidrs.filter((c) => DOCUMENTATION_RANGES.some((r) => r.test(c)));
  if (placeholders.length > 0) {
    return fail("controlPlaneAcl", key, `${placeholders.join(", ")} is a documentation range; list the deploy runners' and operators' egress ranges, or \`pulumi up\` will be locked out of the cluster it creates`);
  }
  const open = cfg.controlPlaneAllowedCidrs.filter((c) => c.endsWith("/0"));
  if (open.length > 0 && cfg.environment === "prod") {
    return fail("controlPlaneAcl", key, `${open.join(", ")} opens the prod Kubernetes API to the internet; list the deploy runners' and operators' ranges`);
  }
  const note = open.length > 0 ? " (open to the internet: acceptable for dev only)" : "";
  return ok("controlPlaneAcl", `the Kubernetes API admits ${cfg.controlPlaneAllowedCidrs.join(", ")}${note}`);
}

/** Plain HTTP passes validation only by choice (allowPlainHttp in prod, or dev): say loudly what it exposes. */
export function publicTlsCheck(cfg: StackConfig): CheckResult {
  if (cfg.publicTlsSecret !== undefined) {
    return ok("publicTls", `HTTPS on port ${cfg.publicPort} with the kubernetes.io/tls Secret ${cfg.namespace}/${cfg.publicTlsSecret}, which must exist before the CCM can configure the NodeBalancer`);
  }
  const reach = cfg.publicIngressCidrs.some((range) => range.endsWith("/0")) ? "the whole internet" : cfg.publicIngressCidrs.join(", ");
  const why = cfg.allowPlainHttp ? "allowPlainHttp is true" : `environment ${cfg.environment}`;
  return {
    ...ok("publicTls", `WARNING: PLAIN HTTP (${why}): bearer tokens and values cross the network in the clear to ${reach}; set redis-dr:publicTlsSecret and publicPort 443 (docs/linode.md, "HTTPS")`),
    warning: true,
  };
}

/**
 * A leaked in-cluster key can erase the backup history, and nothing in the program can stop it:
 * the key must delete (retention), S3 lets whoever may delete also delete a version for good, and
 * a Linode bucket policy cannot single the key out: its principals are canonical IDs, one per
 * account, shared by every key of the account (Linode docs, "Enacting Access Control Lists (ACLs)
 * and Bucket Policies with Linode Object Storage"). Said as a warning on every run.
 */
export function backupHistoryCheck(noncurrentDays: number): CheckResult {
  return {
    ...ok(
      "backupHistory",
      `WARNING: the backup job's key can delete object versions for good; deleted backups stay ${noncurrentDays} days as noncurrent versions only against ordinary deletes, and no Linode bucket policy can deny version deletes to that key alone (one canonical ID per account): copy the bucket to another account (docs/disaster-recovery.md, "What a leaked key can erase")`,
    ),
    warning: true,
  };
}

async function accountCheck(cfg: StackConfig): Promise<CheckResult> {
  const account = await getAccountInfo();
  const needed = [...REQUIRED_CAPABILITIES, ACL_CAPABILITY, ...(cfg.haControlPlane ? [HA_CONTROL_PLANE_CAPABILITY] : [])];
  const missing = needed.filter((c) => !(account.capabilities as string[]).includes(c));
  if (missing.length > 0) {
    const haHint = missing.includes(HA_CONTROL_PLANE_CAPABILITY) ? " (or set redis-dr:haControlPlane false, dev only)" : "";
    return fail("account", undefined, `the account lacks ${missing.join(", ")}; ask Linode support to enable them${haHint}`);
  }
  const profile = await getProfile();
  if (profile.restricted) {
    const grants = (await getMyGrants()).global as unknown as Record<string, unknown>;
    const lacking = REQUIRED_GRANTS.filter((g) => grants[g] !== true);
    if (lacking.length > 0) {
      return fail("account", undefined, `user ${profile.username} is restricted and lacks the grants ${lacking.join(", ")}; an account admin can add them under Users > Permissions`);
    }
  }
  return ok("account", `account can create ${needed.join(", ")}${profile.restricted ? " (restricted user with the needed grants)" : ""}`);
}

function stackNameCheck(stack: string): CheckResult {
  try {
    validateStackName(stack);
    return ok("stackName", `${stack} makes valid Linode labels`);
  } catch (error) {
    return fail("stackName", undefined, (error as StackConfigError).problems.join("; "));
  }
}

/** The create payloads the program will send, checked with Linode's own schemas. */
async function payloadCheck(cfg: StackConfig, stack: string): Promise<CheckResult> {
  let names: ReturnType<typeof linodeNames>;
  try {
    names = linodeNames(stack);
  } catch (error) {
    return fail("payload", undefined, (error as Error).message);
  }
  const tags = stackTags(cfg.tags, stack);
  const bounds = poolAutoscaler(cfg.autoscalerMin, cfg.autoscalerMax);
  const autoscaler = bounds ? { enabled: true, ...bounds } : undefined;
  try {
    const request = {
        label: names.cluster,
        region: cfg.region,
        k8s_version: cfg.k8sVersion,
        tags,
        control_plane: {
          high_availability: cfg.haControlPlane,
          acl: {
            enabled: true,
            addresses: {
              ipv4: cfg.controlPlaneAllowedCidrs.filter((c) => !c.includes(":")),
              ipv6: cfg.controlPlaneAllowedCidrs.filter((c) => c.includes(":")),
            },
          },
        },
        node_pools: [{ type: cfg.nodeType, count: cfg.nodeCount, ...(autoscaler ? { autoscaler } : {}) }],
    };
    await createKubeClusterSchema.validate(request, { abortEarly: false });
    await createKubeClusterWithRequiredACLSchema.validate(request, { abortEarly: false });
    await NodeBalancerSchema.validate({ label: names.nodeBalancer, region: cfg.region, tags }, { abortEarly: false });
  } catch (error) {
    const errors = (error as { errors?: string[] }).errors ?? [describeError(error)];
    return fail("payload", undefined, `Linode would reject the create request: ${errors.join("; ")}`);
  }
  return ok("payload", `cluster ${names.cluster} and NodeBalancer ${names.nodeBalancer} pass @linode/validation`);
}

/** Every check, in order; an API failure that is not about the config stops the run with its message. */
export async function preflight(cfg: StackConfig, stack: string, progress: (check: string) => void = () => undefined): Promise<CheckResult[]> {
  const checks: Array<[string, () => Promise<CheckResult>]> = [
    ["stackName", async () => stackNameCheck(stack)],
    ["payload", () => payloadCheck(cfg, stack)],
    ["region", () => regionCheck(cfg)],
    ["k8sVersion", () => versionCheck(cfg)],
    ["nodeType", () => nodeTypeCheck(cfg)],
    ["account", () => accountCheck(cfg)],
    ["controlPlaneAcl", async () => controlPlaneAclCheck(cfg)],
    ["publicTls", async () => publicTlsCheck(cfg)],
    ["backupHistory", async () => backupHistoryCheck(BACKUP_NONCURRENT_DAYS)],
  ];
  const results: CheckResult[] = [];
  for (const [name, run] of checks) {
    progress(name);
    results.push(await run());
  }
  return results;
}

export function formatResult(result: CheckResult): string {
  return `${result.ok ? (result.warning ? "WARN" : "ok  ") : "FAIL"} ${result.check.padEnd(10)} ${result.key ? `${result.key}: ` : ""}${result.message}`;
}
