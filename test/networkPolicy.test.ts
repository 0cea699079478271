import { beforeAll, describe, expect, it } from "vitest";
import { CRONJOB_NAME } from "../k8s/backup/backupJob";
import { APP_COMPONENT, APP_PORT_NAMES } from "../k8s/appTier";
import { endpointPort, hostPortEgress } from "../k8s/networkPolicy";
import { EXPORTER_PORTS } from "../k8s/redis/exporters";
import { REDIS_PORT, SENTINEL_PORT } from "../k8s/redis/render";
import { plain } from "./helpers/k8sObjects";
import { admits, Connection, External, Pod, Policy, Rule } from "./helpers/networkPolicy";
import { byType, one as oneNamed, RenderedStack, renderStack } from "./helpers/pulumiMocks";

/** "The Deployment" is the app's; the archiver's is named where a test means it. */
const one = (rendered: RenderedStack, type: string, name?: string) => oneNamed(rendered, type, name ?? (type === "kubernetes:apps/v1:Deployment" ? APP_COMPONENT : undefined));

// The rendered NetworkPolicies, evaluated with Kubernetes' semantics against the connections
// each pod makes (and some an attacker in a pod would try).
const T = {
  netpol: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
  statefulSet: "kubernetes:apps/v1:StatefulSet",
  deployment: "kubernetes:apps/v1:Deployment",
  cronJob: "kubernetes:batch/v1:CronJob",
};
const RESTORE = { bucket: "redis-dr-old-backups-0f0f0f", region: "us-iad", endpoint: "https://us-iad-1.linodeobjects.com", backup: "latest" };
const OBJECT_STORE: External = { ip: "172.105.0.10" }; // a public Linode address
const METADATA_SERVICE: External = { ip: "169.254.169.254" };
const NODE_PRIVATE: External = { ip: "192.168.128.7" };

interface Cluster {
  policies: Policy[];
  redis: Pod;
  app: Pod;
  backup: Pod;
  archiver: Pod;
  dns: Pod;
  prometheus: Pod;
}

function cluster(rendered: RenderedStack): Cluster {
  const policies = byType(rendered, T.netpol).map((p) => plain(p.inputs) as Policy);
  const namespace = policies[0]!.metadata.namespace;
  const pod = (labels: Record<string, string>, ip: string): Pod => ({ namespace, labels, ip });
  return {
    policies,
    redis: pod(plain(one(rendered, T.statefulSet).inputs).spec.template.metadata.labels, "10.2.0.11"),
    app: pod(plain(one(rendered, T.deployment).inputs).spec.template.metadata.labels, "10.2.1.20"),
    backup: pod(plain(one(rendered, T.cronJob, CRONJOB_NAME).inputs).spec.jobTemplate.spec.template.metadata.labels, "10.2.2.30"),
    archiver: pod(plain(one(rendered, T.deployment, "redis-archiver").inputs).spec.template.metadata.labels, "10.2.2.31"),
    dns: { namespace: "kube-system", labels: { "k8s-app": "kube-dns" }, ip: "10.2.0.2" },
    prometheus: { namespace: "monitoring", labels: { app: "prometheus" }, ip: "10.2.3.40" },
  };
}

const tcp = (from: Pod, to: Pod | External, port: number): Connection => ({ from, to, protocol: "TCP", port });
const dns = (from: Pod, to: Pod): Connection => ({ from, to, protocol: "UDP", port: 53 });

describe("network policies", () => {
  let c: Cluster;
  beforeAll(async () => {
    c = cluster(await renderStack("dev"));
  });

  it("select every pod of the deployment for both directions", () => {
    for (const pod of [c.redis, c.app, c.backup, c.archiver]) {
      const selecting = c.policies.filter((p) => Object.entries(p.spec.podSelector.matchLabels ?? {}).every(([k, v]) => pod.labels[k] === v));
      expect(selecting.flatMap((p) => p.spec.policyTypes).sort()).toEqual(["Egress", "Ingress"]);
    }
  });

  it("let the app look names up and reach Sentinel and Redis, and nothing else", () => {
    expect(admits(c.policies, dns(c.app, c.dns))).toBe(true);
    expect(admits(c.policies, tcp(c.app, c.redis, SENTINEL_PORT))).toBe(true);
    expect(admits(c.policies, tcp(c.app, c.redis, REDIS_PORT))).toBe(true);
    expect(admits(c.policies, tcp(c.app, c.redis, EXPORTER_PORTS.redis))).toBe(false);
    expect(admits(c.policies, tcp(c.app, c.backup, 8080))).toBe(false);
    expect(admits(c.policies, tcp(c.app, OBJECT_STORE, 443))).toBe(false);
    expect(admits(c.policies, tcp(c.app, METADATA_SERVICE, 80))).toBe(false);
    expect(admits(c.policies, tcp(c.app, c.prometheus, 9090))).toBe(false);
  });

  it("let the Redis pods replicate and gossip among themselves, and reach nothing outside without a seed", () => {
    const peer = { ...c.redis, ip: "10.2.1.12" };
    expect(admits(c.policies, tcp(c.redis, peer, REDIS_PORT))).toBe(true);
    expect(admits(c.policies, tcp(c.redis, peer, SENTINEL_PORT))).toBe(true);
    expect(admits(c.policies, dns(c.redis, c.dns))).toBe(true);
    expect(admits(c.policies, tcp(c.redis, c.app, 8080))).toBe(false);
    expect(admits(c.policies, tcp(c.redis, OBJECT_STORE, 443))).toBe(false);
    expect(admits(c.policies, tcp(c.redis, METADATA_SERVICE, 80))).toBe(false);
  });

  it("let the archiver reach a replica's Redis port and the bucket, and admit no one to it", () => {
    expect(admits(c.policies, dns(c.archiver, c.dns))).toBe(true);
    expect(admits(c.policies, tcp(c.archiver, c.redis, REDIS_PORT))).toBe(true);
    expect(admits(c.policies, tcp(c.archiver, OBJECT_STORE, 443))).toBe(true);
    expect(admits(c.policies, tcp(c.archiver, c.redis, SENTINEL_PORT))).toBe(false);
    expect(admits(c.policies, tcp(c.archiver, c.app, 8080))).toBe(false);
    expect(admits(c.policies, tcp(c.archiver, METADATA_SERVICE, 80))).toBe(false);
    expect(admits(c.policies, tcp(c.archiver, NODE_PRIVATE, 443))).toBe(false);
    expect(admits(c.policies, tcp(c.app, c.archiver, 8080))).toBe(false);
    expect(admits(c.policies, tcp(c.redis, c.archiver, REDIS_PORT))).toBe(false);
  });

  it("let a seeding Redis pod reach the object store, but no private or link-local address", async () => {
    const seeded = cluster(await renderStack("dev", { "redis-dr:restoreFrom": JSON.stringify(RESTORE) }));
    expect(admits(seeded.policies, tcp(seeded.redis, OBJECT_STORE, 443))).toBe(true);
    expect(admits(seeded.policies, tcp(seeded.redis, OBJECT_STORE, 80))).toBe(false);
    expect(admits(seeded.policies, tcp(seeded.redis, METADATA_SERVICE, 443))).toBe(false);
    expect(admits(seeded.policies, tcp(seeded.redis, NODE_PRIVATE, 443))).toBe(false);
  });

  it("let the backup job reach Sentinel, Redis, the bucket and the Pushgateway, and admit no one to it", async () => {
    const withGateway = cluster(await renderStack("dev", { "redis-dr:backupPushgateway": "pushgateway.monitoring.svc:9091" }));
    const { policies, backup, redis, prometheus } = withGateway;
    expect(admits(policies, tcp(backup, redis, SENTINEL_PORT))).toBe(true);
    expect(admits(policies, tcp(backup, redis, REDIS_PORT))).toBe(true);
    expect(admits(policies, tcp(backup, OBJECT_STORE, 443))).toBe(true);
    expect(admits(policies, tcp(backup, prometheus, 9091))).toBe(true);
    expect(admits(policies, dns(backup, withGateway.dns))).toBe(true);
    expect(admits(policies, tcp(backup, prometheus, 9090))).toBe(false);
    expect(admits(policies, tcp(backup, METADATA_SERVICE, 80))).toBe(false);
    expect(admits(policies, tcp(withGateway.app, backup, 8080))).toBe(false);
    // The archiver's shipper pushes there too, and to nothing else of Prometheus's.
    expect(admits(policies, tcp(withGateway.archiver, prometheus, 9091))).toBe(true);
    expect(admits(policies, tcp(withGateway.archiver, prometheus, 9090))).toBe(false);
    expect(admits(c.policies, tcp(c.archiver, c.prometheus, 9091))).toBe(false);
    expect(admits(c.policies, tcp(c.backup, c.prometheus, 9091))).toBe(false); // no Pushgateway configured
  });

  it("still admit Prometheus to the exporters and the app's probe port, and anyone to the API", async () => {
    const ports = Object.fromEntries(
      plain(one(await renderStack("dev"), T.deployment).inputs).spec.template.spec.containers[0].ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]),
    );
    const visitor: Pod = { namespace: "elsewhere", labels: {}, ip: "10.2.4.50" };
    expect(admits(c.policies, tcp(visitor, c.app, ports[APP_PORT_NAMES.http]))).toBe(true);
    expect(admits(c.policies, tcp(visitor, c.app, ports[APP_PORT_NAMES.probe]))).toBe(false);
    expect(admits(c.policies, tcp(c.prometheus, c.app, ports[APP_PORT_NAMES.probe]))).toBe(true);
    expect(admits(c.policies, tcp(c.prometheus, c.redis, EXPORTER_PORTS.redis))).toBe(true);
    expect(admits(c.policies, tcp(c.prometheus, c.redis, EXPORTER_PORTS.sentinel))).toBe(true);
    expect(admits(c.policies, tcp(c.prometheus, c.redis, REDIS_PORT))).toBe(false);
  });

  it("send a Pushgateway outside the cluster to public addresses only", () => {
    const outside = hostPortEgress("gateway.example.com:9091");
    const policy: Policy = { metadata: { namespace: c.backup.namespace, name: "gw" }, spec: { podSelector: { matchLabels: c.backup.labels }, policyTypes: ["Egress"], egress: [outside as Rule] } };
    expect(admits([policy], tcp(c.backup, OBJECT_STORE, 9091))).toBe(true);
    expect(admits([policy], tcp(c.backup, c.prometheus, 9091))).toBe(false);
    expect(endpointPort("http://minio.local:9000")).toBe(9000);
    expect(endpointPort("https://us-iad-1.linodeobjects.com")).toBe(443);
  });
});
