import * as pulumi from "@pulumi/pulumi";
import { CONFIG_NAMESPACE, parseStackConfig, SECRET_KEYS, SecretKey, StackConfig, validateStackName } from "./load";

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
  for (const key of SECRET_KEYS) {
    const value = config.getSecret(key);
    if (value) secrets[key] = value;
  }
  return { cfg, secrets };
}
