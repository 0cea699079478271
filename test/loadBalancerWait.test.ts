import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import { createRequire } from "module";
import * as path from "path";
import { afterEach, describe, expect, it } from "vitest";
import { isSecretWrapper, plain } from "./helpers/k8sObjects";
import { one, renderStack } from "./helpers/pulumiMocks";
import { REPO_ROOT } from "./helpers/stackConfig";

// `pulumi up`'s wait for the app Service's address is a dynamic resource. These tests take the
// provider exactly as Pulumi serialized it for the rendered program, load it the way the
// dynamic-provider host does (`exports.handler()`), and run it against a fake Kubernetes API.

const TOKEN = "kube-token-for-tests";
let server: http.Server | undefined;

afterEach(async () => {
  await new Promise((done) => (server ? server.close(done) : done(undefined)));
  server = undefined;
});

/** A Kubernetes API that answers the Service (without an address for `pendingPolls` GETs) and its events. */
async function fakeKubeApi(pendingPolls: number, events: unknown[]): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  let polls = 0;
  server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return res.writeHead(401).end("{}");
    res.setHeader("Content-Type", "application/json");
    if (req.url === "/api/v1/namespaces/redis-dr/services/redis-dr-app") {
      polls++;
      const ingress = polls > pendingPolls ? [{ ip: "192.0.2.10" }] : undefined;
      return res.end(JSON.stringify({ kind: "Service", status: { loadBalancer: ingress ? { ingress } : {} } }));
    }
    if (req.url?.startsWith("/api/v1/namespaces/redis-dr/events?fieldSelector=")) return res.end(JSON.stringify({ items: events }));
    res.writeHead(404).end("{}");
  });
  await new Promise<void>((done) => server!.listen(0, "127.0.0.1", done));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}`, seen };
}

const kubeconfig = (server: string) => `apiVersion: v1
kind: Config
current-context: lke
contexts:
  - name: lke
    context: { cluster: lke, user: admin }
clusters:
  - name: lke
    cluster: { server: "${server}" }
users:
  - name: admin
    user: { token: ${TOKEN} }
`;

async function serializedProvider() {
  const rendered = await renderStack("prod");
  const wait = one(rendered, "pulumi-nodejs:dynamic:Resource", "app-load-balancer");
  const dir = path.join(REPO_ROOT, ".scratch");
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `load-balancer-wait-provider-${process.pid}.js`);
  fs.writeFileSync(file, String(wait.inputs.__provider));
  const provider = createRequire(__filename)(file).handler() as {
    create(inputs: Record<string, unknown>): Promise<{ id: string; outs: Record<string, unknown> }>;
  };
  return { provider, wait };
}

describe("the LoadBalancer Service's bounded wait", () => {
  it("is wired to the app Service: its namespace and name, the mode, the timeout, the kubeconfig as a secret", async () => {
    const { wait } = await serializedProvider();
    expect(plain(wait.inputs)).toMatchObject({ namespace: "redis-dr", service: "redis-dr-app", mode: "pulumi", timeoutSeconds: 300, pollSeconds: 5 });
    expect(isSecretWrapper(wait.inputs.kubeconfig)).toBe(true);
    expect(JSON.parse(plain(wait.inputs).annotations)).toHaveProperty(["pulumi.com/skipAwait"], "true");
  });

  it("returns the address the CCM reports, polling until it appears", async () => {
    const { provider } = await serializedProvider();
    const api = await fakeKubeApi(2, []);
    const result = await provider.create({ kubeconfig: kubeconfig(api.url), namespace: "redis-dr", service: "redis-dr-app", mode: "pulumi", timeoutSeconds: 5, pollSeconds: 0.05 });
    expect(result).toMatchObject({ id: "redis-dr/redis-dr-app", outs: { address: "192.0.2.10" } });
    expect(api.seen.filter((r) => r.includes("/services/"))).toHaveLength(3);
  });

  it("fails within the timeout with the CCM's 403 and the switch to reserved-ip, not a bare time-out", async () => {
    const { provider } = await serializedProvider();
    const api = await fakeKubeApi(Number.MAX_SAFE_INTEGER, [
      { type: "Normal", reason: "EnsuringLoadBalancer", message: "Ensuring load balancer" },
      { type: "Warning", reason: "SyncLoadBalancerFailed", message: "Error syncing load balancer: failed to ensure load balancer: [403] Unauthorized", count: 7 },
    ]);
    const failure = provider.create({ kubeconfig: kubeconfig(api.url), namespace: "redis-dr", service: "redis-dr-app", mode: "pulumi", timeoutSeconds: 0.4, pollSeconds: 0.05 });
    await expect(failure).rejects.toThrow(
      /^Service redis-dr\/redis-dr-app got no load-balancer address within 0\.4 s \(redis-dr:loadBalancerTimeoutSeconds\): it is stuck: the CCM gets 403 Unauthorized .*pulumi config set redis-dr:publicEntry reserved-ip.*Last: SyncLoadBalancerFailed: .*\[403\] Unauthorized \(x7\)$/,
    );
  });
});
