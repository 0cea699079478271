import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { APP_DEFAULTED_VARIABLES, APP_SECRET_VARIABLES, APP_TOKENS_VARIABLE, appVariables } from "../k8s/appEnvironment";
import { plain } from "./helpers/k8sObjects";
import { one, renderStack } from "./helpers/pulumiMocks";
import { REPO_ROOT } from "./helpers/stackConfig";

/** The variable names parseServiceConfig reads (r.text / r.word / r.integer / r.millis "NAME"), the Sentinel settings (sentinel_env.cpp) included. */
function namesTheBinaryReads(): string[] {
  const source = ["service_config.cpp", "sentinel_env.cpp"].map((file) => fs.readFileSync(path.join(REPO_ROOT, "app/src", file), "utf8")).join("\n");
  return [...source.matchAll(/r\.(?:text|word|integer|size|millis)\("([A-Z_]+)"/g)].map((m) => m[1]!).sort();
}

const sample = { sentinelHosts: "s", sentinelPort: 1, masterName: "m", aclUser: "app", httpBind: "b", httpPort: 2, probePort: 6, waitReplicas: 0, waitTimeoutMs: 3, requestTimeoutMs: 4, idempotencyKeepSeconds: 7, shutdownDrainSeconds: 5 };

describe("the app's environment contract", () => {
  it("declares every variable the binary reads, and none it does not", () => {
    const declared = [...Object.keys(appVariables(sample)), ...Object.keys(APP_SECRET_VARIABLES), APP_TOKENS_VARIABLE, ...APP_DEFAULTED_VARIABLES].sort();
    expect(namesTheBinaryReads().length).toBeGreaterThan(10);
    expect(declared).toEqual(namesTheBinaryReads());
  });

  it("is what the Deployment sets: every declared variable, passwords only by secretKeyRef", async () => {
    const rendered = await renderStack("prod");
    const container = plain(one(rendered, "kubernetes:apps/v1:Deployment", "redis-dr-app").inputs).spec.template.spec.containers[0];
    const env = Object.fromEntries(container.env.map((e: { name: string }) => [e.name, e]));
    const { httpBind: _bind, ...podSettings } = sample;
    const expected = Object.keys(appVariables(podSettings));
    expect(Object.keys(env).sort()).toEqual([...expected, ...Object.keys(APP_SECRET_VARIABLES), APP_TOKENS_VARIABLE].sort());
    for (const name of Object.keys(APP_SECRET_VARIABLES)) expect(env[name].valueFrom.secretKeyRef.key).toMatch(/-password$/);
    expect(env[APP_TOKENS_VARIABLE].valueFrom.secretKeyRef.key).toBe("tokens");
  });
});
