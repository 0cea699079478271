import * as pulumi from "@pulumi/pulumi";
import { CONFIG_NAMESPACE, parseStackConfig, SecretKey, StackConfig, validateStackName } from "./load";

export interface StackSettings {
  cfg: StackConfig;
  secrets: Partial<Record<SecretKey, pulumi.Output<string>>>;
}

/** Read and validate the running stack's config; throws before any resource exists. */
export function readStackSettings(): StackSettings {
  validateStackName(pulumi.getStack());
  const cfg = parseStackConfig(pulumi.runtime.allConfig());
  const config = new pulumi.Config(CONFIG_NAMESPACE);
  const secrets: StackSettings["secrets"] = {};
  const redisPassword = config.getSecret("redisPassword");
  const sentinelPassword = config.getSecret("sentinelPassword");
  if (redisPassword) secrets.redisPassword = redisPassword;
  if (sentinelPassword) secrets.sentinelPassword = sentinelPassword;
  return { cfg, secrets };
}
