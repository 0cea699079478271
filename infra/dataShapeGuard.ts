import * as pulumi from "@pulumi/pulumi";
import { DataShape, dataShapeRefusals } from "../config/dataShape";

interface GuardInputs {
  shape: DataShape;
  acknowledged: string[];
}

/**
 * The engine hands a dynamic provider's check the inputs the last update recorded (olds) and
 * this one's (news) (@pulumi/pulumi dynamic ResourceProvider.check); a failure there stops
 * preview and update before any resource that depends on the guard is touched.
 */
export const dataShapeGuardProvider: pulumi.dynamic.ResourceProvider<GuardInputs, GuardInputs> = {
  async check(olds, news) {
    const refusals = dataShapeRefusals(olds?.shape, news.shape, news.acknowledged ?? []);
    return { inputs: news, failures: refusals.map((reason) => ({ property: "shape", reason })) };
  },
  async diff(_id, olds, news) {
    return { changes: JSON.stringify(olds) !== JSON.stringify(news) };
  },
  async create(inputs) {
    return { id: "data-shape", outs: inputs };
  },
  async update(_id, _olds, news) {
    return { outs: news };
  },
};

/** Records the stack's data shape; every resource registered with dependOnGuard waits for its check. */
export class DataShapeGuard extends pulumi.dynamic.Resource {
  constructor(name: string, args: GuardInputs, opts?: pulumi.CustomResourceOptions) {
    super(dataShapeGuardProvider, name, args, opts);
  }
}

/** A transformation that makes a component and all its children depend on the guard. */
export function dependOnGuard(guard: DataShapeGuard): pulumi.ResourceTransformation {
  return (args) => ({ props: args.props, opts: pulumi.mergeOptions(args.opts, { dependsOn: [guard] }) });
}
