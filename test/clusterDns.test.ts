import * as fs from "fs";
import { afterEach, describe, expect, it } from "vitest";
import { ClusterDns, DnsPod } from "../local/cluster/dns";
import { ServiceObject } from "../local/cluster/objects";
import { waitFor } from "../probe/wait";

// Cluster DNS as the Kubernetes DNS specification describes headless Services.
const service = (name: string, publishNotReadyAddresses: boolean, headless = true): ServiceObject => ({
  name,
  namespace: "ns",
  type: "ClusterIP",
  headless,
  publishNotReadyAddresses,
  selector: { app: "redis" },
});
const pod = (i: number): DnsPod => ({ name: `redis-${i}`, namespace: "ns", ip: `10.9.0.${10 + i}`, labels: { app: "redis" }, subdomain: "headless" });
const all = [service("headless", true), service("ready-only", false), service("clusterip", false, false)];
const dnsServers: ClusterDns[] = [];
const make = (delayMs = 0) => {
  const dns = new ClusterDns(all, delayMs);
  dnsServers.push(dns);
  return dns;
};

afterEach(() => {
  for (const dns of dnsServers.splice(0)) dns.close();
});

describe("local cluster DNS", () => {
  it("resolves a Service to its ready endpoints, or to all of them with publishNotReadyAddresses", () => {
    const dns = make();
    dns.setPod(pod(0), true);
    dns.setPod(pod(1), false);
    expect(dns.resolve("headless.ns.svc.cluster.local")).toEqual(["10.9.0.10", "10.9.0.11"]);
    expect(dns.resolve("ready-only.ns.svc.cluster.local")).toEqual(["10.9.0.10"]);
    expect(dns.resolve("redis-1.headless.ns.svc.cluster.local")).toEqual(["10.9.0.11"]);
    // Only the pod's own subdomain gives it a name; a ClusterIP Service has no endpoint records here.
    expect(dns.resolve("redis-1.ready-only.ns.svc.cluster.local")).toEqual([]);
    expect(dns.resolve("clusterip.ns.svc.cluster.local")).toEqual([]);
    dns.setPod(pod(0), false);
    expect(dns.resolve("ready-only.ns.svc.cluster.local")).toEqual([]);
  });

  it("delivers a change only after the propagation delay", async () => {
    const dns = make(300);
    dns.setPod(pod(0), true);
    expect(dns.resolve("ready-only.ns.svc.cluster.local")).toEqual([]);
    await waitFor("the record", async () => dns.resolve("ready-only.ns.svc.cluster.local").length === 1, 2000, 10);
    const changed = Date.now();
    dns.setPod({ ...pod(0), ip: "10.9.0.99" }, true);
    await waitFor("the new address", async () => dns.resolve("redis-0.headless.ns.svc.cluster.local")[0] === "10.9.0.99", 2000, 10);
    expect(Date.now() - changed).toBeGreaterThanOrEqual(290);
  });

  it("overrides a name with a stale address or NXDOMAIN until the fault is cleared", () => {
    const dns = make();
    dns.setPod(pod(0), true);
    const name = "redis-0.headless.ns.svc.cluster.local";
    dns.fault(name, { addresses: ["10.9.0.1"] });
    dns.setPod({ ...pod(0), ip: "10.9.0.50" }, true);
    expect(dns.resolve(name)).toEqual(["10.9.0.1"]);
    dns.fault(name, "nxdomain");
    expect(dns.resolve(name)).toEqual([]);
    dns.clearFault(name);
    expect(dns.resolve(name)).toEqual(["10.9.0.50"]);
  });

  it.skipIf(process.getuid?.() !== 0)("rewrites a namespace's hosts file in place, with the pod's own name, and removes it on close", () => {
    const dns = make();
    dns.attach("rdr-dns-test", "ns", { ip: "10.9.0.10", names: ["redis-0.headless.ns.svc.cluster.local", "redis-0"] });
    const file = "/etc/netns/rdr-dns-test/hosts";
    const inode = fs.statSync(file).ino;
    dns.setPod(pod(1), true);
    expect(fs.statSync(file).ino).toBe(inode);
    const hosts = fs.readFileSync(file, "utf8");
    expect(hosts).toContain("10.9.0.10 redis-0.headless.ns.svc.cluster.local redis-0");
    expect(hosts).toContain("10.9.0.11 redis-1.headless.ns.svc.cluster.local");
    expect(fs.readFileSync("/etc/netns/rdr-dns-test/resolv.conf", "utf8")).toMatch(/^search ns\.svc\.cluster\.local svc\.cluster\.local cluster\.local$/m);
    dns.close();
    expect(fs.existsSync("/etc/netns/rdr-dns-test")).toBe(false);
  });
});
