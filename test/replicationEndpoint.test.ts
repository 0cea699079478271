import * as crypto from "crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { CCM_ANNOTATIONS } from "../infra/ccmAnnotations";
import { parseStackConfig } from "../config/load";
import { replicationBacklogBytes } from "../config/replicationSchema";
import { REPLICATION_TLS_PORT, REPLICATION_TLS_SECRET_NAME, renderRedisConf, redisSettings } from "../k8s/redis/render";
import { RELAY_COMPONENT, REPLICATION_SERVICE_NAME } from "../k8s/standby/replicationEndpoint";
import { isSecretWrapper, plain } from "./helpers/k8sObjects";
import { MOCK_RESERVED_IPV4, one, RenderedStack, renderStack } from "./helpers/pulumiMocks";
import { rawStackConfig, stackConfig } from "./helpers/stackConfig";

// The primary's replication endpoint (docs/standby.md) as the program renders it under mocks
// whose tls resources make real keys and certificates (local/cluster/tlsMocks.ts).
const STANDBY_CIDRS = ["203.0.113.0/28", "2001:db8::/64"];
const ENDPOINT = { "redis-dr:replicationEndpoint": JSON.stringify({ allowedCidrs: STANDBY_CIDRS }) };
const STANDBY_PASSWORDS = "Standby-First-Password-0123,Standby-Second-Password-0123";
const SECRETS = { "redis-dr:standbyPasswords": STANDBY_PASSWORDS, "redis-dr:relayPasswords": "Relay-Password-0123456789" };
const T = {
  secret: "kubernetes:core/v1:Secret",
  configMap: "kubernetes:core/v1:ConfigMap",
  service: "kubernetes:core/v1:Service",
  statefulSet: "kubernetes:apps/v1:StatefulSet",
  deployment: "kubernetes:apps/v1:Deployment",
  netpol: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
  reservedIp: "linode:index/networkingIp:NetworkingIp",
};

describe("a stack with a replication endpoint, under Pulumi mocks", () => {
  let rendered: RenderedStack;
  beforeAll(async () => {
    rendered = await renderStack("prod", ENDPOINT, SECRETS);
  });

  it("puts a TCP NodeBalancer on a reserved address that admits only the standby's addresses, in front of two relays", () => {
    expect(plain(one(rendered, T.reservedIp, "replication").inputs)).toEqual({ type: "ipv4", public: true, reserved: true, region: stackConfig("prod").region });
    expect(one(rendered, T.reservedIp, "replication").options.protect).toBe(true);
    const service = plain(one(rendered, T.service, REPLICATION_SERVICE_NAME).inputs);
    expect(service.spec.type).toBe("LoadBalancer");
    expect(service.spec.ports).toEqual([{ name: "redis-tls", protocol: "TCP", port: 6380, targetPort: "relay" }]);
    expect(service.metadata.annotations[CCM_ANNOTATIONS.protocol]).toBe("tcp");
    expect(service.metadata.annotations[CCM_ANNOTATIONS.reservedIpv4]).toBe(MOCK_RESERVED_IPV4);
    expect(JSON.parse(service.metadata.annotations[CCM_ANNOTATIONS.firewallAcl])).toEqual({ allowList: { ipv4: ["203.0.113.0/28"], ipv6: ["2001:db8::/64"] } });
    const relay = plain(one(rendered, T.deployment, RELAY_COMPONENT).inputs);
    expect(relay.spec.replicas).toBe(2);
    expect(service.spec.selector).toEqual(relay.spec.selector.matchLabels);
    const container = relay.spec.template.spec.containers[0];
    expect(container.image).toBe(stackConfig("prod").appImage);
    expect(container.command).toEqual(["/usr/local/bin/redis-dr-relay"]);
    const env = Object.fromEntries(container.env.map((e: { name: string }) => [e.name, e]));
    expect(env.RELAY_MASTER_PORT.value).toBe(String(REPLICATION_TLS_PORT));
    expect(env.SENTINEL_USERNAME.value).toBe("relay");
    expect(env.SENTINEL_PASSWORD.valueFrom.secretKeyRef.key).toBe("redis-relay-password");
    expect(JSON.stringify(container.env)).not.toContain("Relay-Password");
  });

  it("serves TLS with client certificates on every Redis pod, from a Secret only the redis container mounts", () => {
    const conf = plain(one(rendered, T.configMap, "redis-config").inputs).data["redis.conf"] as string;
    expect(conf).toMatch(new RegExp(`^tls-port ${REPLICATION_TLS_PORT}$`, "m"));
    expect(conf).toMatch(/^tls-auth-clients yes$/m);
    expect(conf).toMatch(/^tls-replication no$/m);
    expect(conf).toMatch(/^tls-ca-cert-file \/tls\/ca\.crt$/m);
    const pod = plain(one(rendered, T.statefulSet, "redis").inputs).spec.template.spec;
    const mounting = pod.containers.filter((c: { volumeMounts?: Array<{ name: string }> }) => c.volumeMounts?.some((m) => m.name === "replication-tls")).map((c: { name: string }) => c.name);
    expect(mounting).toEqual(["redis"]);
    expect(pod.volumes.find((v: { name: string }) => v.name === "replication-tls").secret).toEqual({ secretName: REPLICATION_TLS_SECRET_NAME, defaultMode: 0o440 });
  });

  it("generates a CA whose server and client certificates chain to it, with the key kept secret", () => {
    const tlsSecret = one(rendered, T.secret, REPLICATION_TLS_SECRET_NAME).inputs.stringData;
    expect(isSecretWrapper(tlsSecret)).toBe(true);
    const data = plain(tlsSecret);
    const ca = new crypto.X509Certificate(data["ca.crt"]);
    const server = new crypto.X509Certificate(data["tls.crt"]);
    expect(ca.ca).toBe(true);
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(server.checkPrivateKey(crypto.createPrivateKey(data["tls.key"]))).toBe(true);
    expect(server.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]); // serverAuth only
    const client = new crypto.X509Certificate(rendered.outputs.replicationClientCert as string);
    expect(client.verify(ca.publicKey)).toBe(true);
    expect(client.keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"]); // clientAuth only
    expect(client.checkPrivateKey(crypto.createPrivateKey(rendered.outputs.replicationClientKey as string))).toBe(true);
    expect(rendered.outputs.replicationCaCert).toBe(data["ca.crt"]);
  });

  it("hands the standby its address and credentials as stack outputs, the key and password as secrets", () => {
    expect(rendered.outputs.replicationEndpoint).toBe(`${MOCK_RESERVED_IPV4}:6380`);
    expect(rendered.outputs.standbyPassword).toBe("Standby-First-Password-0123");
    expect([...rendered.secretOutputs].filter((k) => /replication|standby/i.test(k)).sort()).toEqual(["replicationClientKey", "standbyPassword"]);
  });

  it("lets the relay reach only the Sentinels and the TLS port, and only the relay reach the TLS port", () => {
    const relayPolicy = plain(one(rendered, T.netpol, RELAY_COMPONENT).inputs).spec;
    const egressPorts = relayPolicy.egress.flatMap((rule: { ports?: Array<{ port: number }> }) => (rule.ports ?? []).map((p) => p.port));
    expect(new Set(egressPorts)).toEqual(new Set([53, 26379, REPLICATION_TLS_PORT]));
    const redisPolicy = plain(one(rendered, T.netpol, "redis").inputs).spec;
    const tlsRules = redisPolicy.ingress.filter((rule: { ports: Array<{ port: number }> }) => rule.ports.some((p) => p.port === REPLICATION_TLS_PORT));
    expect(tlsRules).toHaveLength(1);
    expect(tlsRules[0].from).toEqual([{ podSelector: { matchLabels: relayPolicy.podSelector.matchLabels } }]);
  });
});

describe("replication config", () => {
  const parse = (overrides: Record<string, string>) => () => parseStackConfig({ ...rawStackConfig("dev"), ...overrides });

  it("sizes the backlog as the peak stream over the longest outage, never below 64 MiB", () => {
    const cfg = parseStackConfig({ ...rawStackConfig("prod"), "redis-dr:replicationPeakWriteBytesPerSecond": "2097152", "redis-dr:replicationOutageSeconds": "60" });
    expect(replicationBacklogBytes(cfg)).toBe(2097152 * 60);
    const conf = renderRedisConf(redisSettings(cfg));
    expect(conf).toMatch(new RegExp(`^repl-backlog-size ${2097152 * 60}$`, "m"));
    expect(conf).toMatch(new RegExp(`^client-output-buffer-limit replica ${256 * 1024 * 1024} ${64 * 1024 * 1024} 60$`, "m"));
    expect(renderRedisConf(redisSettings(parseStackConfig(rawStackConfig("dev"))))).toMatch(new RegExp(`^repl-backlog-size ${64 * 1024 * 1024}$`, "m"));
    expect(renderRedisConf(redisSettings(parseStackConfig(rawStackConfig("dev"))))).not.toMatch(/^tls-port/m);
  });

  it("refuses a backlog the Redis container has no room for, naming both keys", () => {
    expect(parse({ "redis-dr:replicationPeakWriteBytesPerSecond": "10485760", "redis-dr:replicationOutageSeconds": "600" })).toThrow(/replicationOutageSeconds.*6000 MiB backlog.*redisMemory \(77 MiB\)/);
  });

  it("refuses an endpoint open to the internet or to no one", () => {
    expect(parse({ "redis-dr:replicationEndpoint": JSON.stringify({ allowedCidrs: ["0.0.0.0/0"] }) })).toThrow(/replicationEndpoint.*0\.0\.0\.0\/0.*standby cluster's node addresses/);
    expect(parse({ "redis-dr:replicationEndpoint": JSON.stringify({ allowedCidrs: [] }) })).toThrow(/replicationEndpoint: must list the standby cluster's node addresses/);
    expect(parse({ "redis-dr:replicationEndpoint": JSON.stringify({ allowedCidrs: ["203.0.113.0/28"], tls: false }) })).toThrow(/tls/);
  });
});
