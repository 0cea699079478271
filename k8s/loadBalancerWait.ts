import type * as https from "https";
import * as pulumi from "@pulumi/pulumi";
import { diagnoseLoadBalancer, EventView, ServiceView } from "./loadBalancerDiagnosis";

/** GET against the Kubernetes API, authenticated as the kubeconfig's current user. */
export type KubeGet = (path: string) => Promise<unknown>;

interface Kubeconfig {
  "current-context"?: string;
  contexts?: Array<{ name: string; context: { cluster: string; user: string } }>;
  clusters?: Array<{ name: string; cluster: { server: string; "certificate-authority-data"?: string } }>;
  users?: Array<{ name: string; user: { token?: string; "client-certificate-data"?: string; "client-key-data"?: string } }>;
}

/** A minimal client for the token or client-certificate kubeconfig LKE issues. */
export function kubeGetFromKubeconfig(kubeconfig: string): KubeGet {
  // Required here, not imported: Pulumi serializes this function into the dynamic provider, and
  // its closure serializer can capture neither the yaml package's export map nor a transpiled
  // import of a Node built-in. A require at run time needs no capture.
  const { parse } = require("yaml") as typeof import("yaml");
  const transport = { "http:": require("http") as typeof import("http"), "https:": require("https") as typeof import("https") };
  const doc = parse(kubeconfig) as Kubeconfig;
  const context = doc.contexts?.find((c) => c.name === doc["current-context"]) ?? doc.contexts?.[0];
  const cluster = doc.clusters?.find((c) => c.name === context?.context.cluster) ?? doc.clusters?.[0];
  const user = doc.users?.find((u) => u.name === context?.context.user) ?? doc.users?.[0];
  if (!cluster) throw new Error("the kubeconfig names no cluster");
  const server = new URL(cluster.cluster.server);
  const decode = (data?: string) => (data ? Buffer.from(data, "base64") : undefined);
  return (path) =>
    new Promise((resolve, reject) => {
      const options: https.RequestOptions = {
        method: "GET",
        hostname: server.hostname,
        port: server.port || (server.protocol === "https:" ? 443 : 80),
        path: `${server.pathname.replace(/\/$/, "")}${path}`,
        headers: { Accept: "application/json", ...(user?.user.token ? { Authorization: `Bearer ${user.user.token}` } : {}) },
        timeout: 10_000,
        ...(cluster.cluster["certificate-authority-data"] ? { ca: decode(cluster.cluster["certificate-authority-data"]) } : {}),
        ...(user?.user["client-certificate-data"] ? { cert: decode(user.user["client-certificate-data"]), key: decode(user.user["client-key-data"]) } : {}),
      };
      const request = (server.protocol === "https:" ? transport["https:"] : transport["http:"]).request(options, (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (body += chunk));
        response.on("end", () => {
          if ((response.statusCode ?? 0) >= 400) reject(new Error(`GET ${path}: ${response.statusCode} ${body.slice(0, 200)}`));
          else resolve(JSON.parse(body) as unknown);
        });
      });
      request.on("timeout", () => request.destroy(new Error(`GET ${path}: timed out`)));
      request.on("error", reject);
      request.end();
    });
}

export interface LoadBalancerWaitInputs {
  namespace: string;
  service: string;
  mode: "pulumi" | "reserved-ip";
  timeoutSeconds: number;
  pollSeconds: number;
}

/**
 * Poll the Service until the CCM reports its address; past the timeout, fail with what the
 * CCM's events say (a 403 names the switch to reserved-ip) instead of a bare time-out.
 */
export async function waitForLoadBalancerAddress(get: KubeGet, inputs: LoadBalancerWaitInputs, sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))): Promise<string> {
  const base = `/api/v1/namespaces/${encodeURIComponent(inputs.namespace)}`;
  const deadline = Date.now() + inputs.timeoutSeconds * 1000;
  let lastError = "";
  for (;;) {
    try {
      const service = (await get(`${base}/services/${encodeURIComponent(inputs.service)}`)) as ServiceView;
      const ingress = service.status?.loadBalancer?.ingress?.[0];
      if (ingress?.ip ?? ingress?.hostname) return (ingress.ip ?? ingress.hostname)!;
    } catch (error) {
      lastError = (error as Error).message;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(inputs.pollSeconds * 1000, Math.max(0, deadline - Date.now())));
  }
  const selector = encodeURIComponent(`involvedObject.kind=Service,involvedObject.name=${inputs.service}`);
  const events = ((await get(`${base}/events?fieldSelector=${selector}`).catch(() => ({ items: [] }))) as { items: EventView[] }).items;
  const diagnosis = diagnoseLoadBalancer({}, events, inputs.mode);
  const last = diagnosis.events.at(-1) ?? lastError;
  throw new Error(
    `Service ${inputs.namespace}/${inputs.service} got no load-balancer address within ${inputs.timeoutSeconds} s (redis-dr:loadBalancerTimeoutSeconds): it ${diagnosis.message}${last ? `. Last: ${last}` : ""}`,
  );
}

interface WaitState extends LoadBalancerWaitInputs {
  kubeconfig: string;
  /** The Service's annotations: a change re-runs the wait. */
  annotations: string;
  address?: string;
}

const provider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: WaitState) {
    const address = await waitForLoadBalancerAddress(kubeGetFromKubeconfig(inputs.kubeconfig), inputs);
    return { id: `${inputs.namespace}/${inputs.service}`, outs: { ...inputs, address } };
  },
  async diff(_id: string, olds: WaitState, news: WaitState) {
    const keys = ["namespace", "service", "mode", "annotations"] as const;
    return { changes: keys.some((k) => olds[k] !== news[k]) };
  },
  async update(_id: string, _olds: WaitState, news: WaitState) {
    return { outs: { ...news, address: await waitForLoadBalancerAddress(kubeGetFromKubeconfig(news.kubeconfig), news) } };
  },
};

export interface LoadBalancerWaitArgs {
  kubeconfig: pulumi.Input<string>;
  namespace: pulumi.Input<string>;
  service: pulumi.Input<string>;
  mode: "pulumi" | "reserved-ip";
  annotations: pulumi.Input<string>;
  timeoutSeconds: number;
}

/**
 * `pulumi up`'s wait for the app Service's address, bounded and with a diagnosis. The Service
 * itself skips the Kubernetes provider's await, whose failure is a bare time-out after 10 minutes.
 */
export class LoadBalancerWait extends pulumi.dynamic.Resource {
  declare readonly address: pulumi.Output<string>;

  constructor(name: string, args: LoadBalancerWaitArgs, opts?: pulumi.CustomResourceOptions) {
    super(provider, name, { ...args, kubeconfig: pulumi.secret(args.kubeconfig), pollSeconds: 5, address: undefined }, opts);
  }
}
