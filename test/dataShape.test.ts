import { beforeAll, describe, expect, it } from "vitest";
import { DATA_SHAPE_KEYS, dataShape } from "../config/dataShape";
import { dataShapeGuardProvider } from "../infra/dataShapeGuard";
import { RenderedStack, renderStack } from "./helpers/pulumiMocks";
import { stackConfig, stackConfigWithout } from "./helpers/stackConfig";

// A change that replaces what holds data, checked as the engine checks the guard: the inputs
// the last update recorded (olds) against this update's (news), from two stack configs.
const inputsOf = (cfg: ReturnType<typeof stackConfig>) => ({ shape: dataShape(cfg), acknowledged: cfg.acknowledgeReplacement });
const check = (before: ReturnType<typeof stackConfig>, after: ReturnType<typeof stackConfig>) => dataShapeGuardProvider.check!(inputsOf(before), inputsOf(after));

describe("the data-shape guard", () => {
  const prod = stackConfig("prod");

  it("lets a first update and a change of anything else through", async () => {
    expect((await dataShapeGuardProvider.check!(undefined as never, inputsOf(prod))).failures).toEqual([]);
    const scaled = stackConfig("prod", { "redis-dr:appReplicas": "5", "redis-dr:nodeCount": "5", "redis-dr:redisMemory": "2Gi" });
    expect((await check(prod, scaled)).failures).toEqual([]);
  });

  it.each([
    ["nodeType", { "redis-dr:nodeType": "g6-standard-8" }, /nodeType: g6-\S+ -> g6-standard-8 would replace the cluster's node pool.*drain the old nodes one at a time/],
    ["volumeSize", { "redis-dr:volumeSize": "40Gi" }, /volumeSize: \S+ -> 40Gi would replace the StatefulSet.*kubectl patch pvc.*--cascade=orphan/],
    ["namespace", { "redis-dr:namespace": "redis-dr-2" }, /namespace: redis-dr -> redis-dr-2 would replace the namespace, and with it every PersistentVolumeClaim.*backup now/],
    ["region", { "redis-dr:region": "eu-central" }, /region: \S+ -> eu-central would replace the LKE cluster.*restoreFrom/],
    ["storageClass", { "redis-dr:storageClass": "linode-block-storage" }, /storageClass: linode-block-storage-retain -> linode-block-storage would replace the StatefulSet/],
    ["backupRegion", { "redis-dr:backupRegion": "fr-par" }, /backupRegion: \S+ -> fr-par would replace the backup bucket.*rclone copy/],
  ])("refuses a %s change with the safe procedure, and lets it through once acknowledged", async (key, change, message) => {
    const { failures } = await check(prod, stackConfig("prod", change));
    expect(failures).toHaveLength(1);
    expect(failures![0]!.reason).toMatch(message);
    const acknowledged = stackConfig("prod", { ...change, "redis-dr:acknowledgeReplacement": JSON.stringify([key]) });
    expect((await check(prod, acknowledged)).failures).toEqual([]);
  });

  it("names every key that changes, and an acknowledgement covers only its own", async () => {
    const after = stackConfig("prod", { "redis-dr:nodeType": "g6-standard-8", "redis-dr:volumeSize": "40Gi", "redis-dr:acknowledgeReplacement": '["nodeType"]' });
    expect((await check(prod, after)).failures!.map((f) => f.reason.split(":")[0])).toEqual(["volumeSize"]);
  });

  it("refuses an acknowledgement of a setting that is not a data-shape key", () => {
    expect(() => stackConfig("prod", { "redis-dr:acknowledgeReplacement": '["appReplicas"]' })).toThrow(/acknowledgeReplacement/);
    expect(stackConfigWithout("prod", []).acknowledgeReplacement).toEqual([]);
  });
});

describe("the program under mocks", () => {
  let rendered: RenderedStack;
  beforeAll(async () => {
    rendered = await renderStack("prod");
  });

  it("records the stack's data shape in the guard", () => {
    const guard = rendered.resources.find((r) => r.name === "data-shape")!;
    expect(guard.inputs.shape).toEqual(dataShape(stackConfig("prod")));
    expect(Object.keys(guard.inputs.shape).sort()).toEqual([...DATA_SHAPE_KEYS].sort());
  });

  it("makes every other resource wait for the guard's check", () => {
    const guard = rendered.resources.find((r) => r.name === "data-shape")!;
    const dependsOnGuard = (deps: unknown) => ([] as unknown[]).concat(deps ?? []).some((d) => (d as { __name?: string }).__name === guard.name);
    const unguarded = rendered.resources.filter((r) => r !== guard && !dependsOnGuard(r.options.dependsOn)).map((r) => `${r.type} ${r.name}`);
    expect(unguarded).toEqual([]);
  });
});
