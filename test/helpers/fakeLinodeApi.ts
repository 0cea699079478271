import * as http from "http";
import { AddressInfo } from "net";

/**
 * A Linode API v4 on loopback for the ops tests. It serves only the routes
 * Linode documents (both /v4 and /v4beta roots), checks every request the way
 * the real API does (Bearer token; page_size within 25..500; X-Filter is JSON;
 * the recycle action takes no body) and records what it saw. Tests can queue
 * canned failures (401, 404, 429 with Retry-After, 5xx) per route.
 */

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  filter?: Record<string, unknown>;
  body: string;
}

export interface CannedResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface FakeState {
  regions: Record<string, { id: string; label: string; status: string; capabilities: string[] }>;
  versions: string[];
  types: Record<string, { id: string; label: string; memory: number }>;
  account: { capabilities: string[] };
  profile: { username: string; restricted: boolean };
  grants: { global: Record<string, boolean | string | null> };
  clusters: Array<{ id: number; label: string; status: string; k8s_version: string; region: string }>;
  pools: Record<number, Array<{ id: number; type: string; count: number; nodes: Array<{ id: string; instance_id: number; status: string }> }>>;
  linodes: Record<number, { id: number; label: string; status: string }>;
  nodeBalancers: Array<{ id: number; label: string; hostname: string; ipv4: string; region: string; tags: string[] }>;
  configs: Record<number, Array<{ id: number; port: number; nodes_status: { up: number; down: number } }>>;
  backends: Record<number, Array<{ id: number; label: string; address: string; status: "UP" | "DOWN" | "unknown" }>>;
}

type Handler = (match: RegExpExecArray, req: RecordedRequest) => CannedResponse;

const page = <T>(data: T[]) => ({ data, page: 1, pages: 1, results: data.length });
const notFound: CannedResponse = { status: 404, body: { errors: [{ reason: "Not found" }] } };

export class FakeLinodeApi {
  readonly requests: RecordedRequest[] = [];
  readonly violations: string[] = [];
  readonly recycled: Array<{ clusterId: number; nodeId: string }> = [];
  /** Route name -> responses to give before the normal one. */
  readonly queued = new Map<string, CannedResponse[]>();
  onRecycle: (clusterId: number, nodeId: string) => void = () => undefined;
  private server?: http.Server;

  constructor(
    readonly state: FakeState,
    readonly token = "test-token",
  ) {}

  private routes(): Array<[string, string, RegExp, Handler]> {
    const s = this.state;
    // X-Filter: `label` matches exactly; `tags` matches an item carrying that tag.
    const byLabel = <T extends { label: string; tags?: string[] }>(items: T[], req: RecordedRequest) =>
      items.filter(
        (i) => (req.filter?.label === undefined || i.label === req.filter.label) && (req.filter?.tags === undefined || (i.tags ?? []).includes(String(req.filter.tags))),
      );
    return [
      ["region", "GET", /^\/v4(?:beta)?\/regions\/([a-z0-9-]+)$/, (m) => (s.regions[m[1]!] ? { status: 200, body: s.regions[m[1]!] } : notFound)],
      ["versions", "GET", /^\/v4(?:beta)?\/lke\/versions$/, () => ({ status: 200, body: page(s.versions.map((id) => ({ id }))) })],
      ["type", "GET", /^\/v4(?:beta)?\/linode\/types\/([a-z0-9-]+)$/, (m) => (s.types[m[1]!] ? { status: 200, body: s.types[m[1]!] } : notFound)],
      ["account", "GET", /^\/v4(?:beta)?\/account$/, () => ({ status: 200, body: s.account })],
      ["profile", "GET", /^\/v4(?:beta)?\/profile$/, () => ({ status: 200, body: s.profile })],
      ["grants", "GET", /^\/v4(?:beta)?\/profile\/grants$/, () => ({ status: 200, body: s.grants })],
      ["clusters", "GET", /^\/v4(?:beta)?\/lke\/clusters$/, (_m, req) => ({ status: 200, body: page(byLabel(s.clusters, req)) })],
      ["pools", "GET", /^\/v4(?:beta)?\/lke\/clusters\/(\d+)\/pools$/, (m) => (s.pools[Number(m[1])] ? { status: 200, body: page(s.pools[Number(m[1])]!) } : notFound)],
      ["linode", "GET", /^\/v4(?:beta)?\/linode\/instances\/(\d+)$/, (m) => (s.linodes[Number(m[1])] ? { status: 200, body: s.linodes[Number(m[1])] } : notFound)],
      ["nodebalancers", "GET", /^\/v4(?:beta)?\/nodebalancers$/, (_m, req) => ({ status: 200, body: page(byLabel(s.nodeBalancers, req)) })],
      ["configs", "GET", /^\/v4(?:beta)?\/nodebalancers\/(\d+)\/configs$/, (m) => ({ status: 200, body: page(s.configs[Number(m[1])] ?? []) })],
      ["backends", "GET", /^\/v4(?:beta)?\/nodebalancers\/(\d+)\/configs\/(\d+)\/nodes$/, (m) => ({ status: 200, body: page(s.backends[Number(m[2])] ?? []) })],
      [
        "recycle",
        "POST",
        /^\/v4(?:beta)?\/lke\/clusters\/(\d+)\/nodes\/([A-Za-z0-9-]+)\/recycle$/,
        (m, req) => {
          if (req.body.trim() !== "" && req.body.trim() !== "{}") this.violations.push(`recycle takes no body, got ${req.body}`);
          const pool = (s.pools[Number(m[1])] ?? []).find((p) => p.nodes.some((n) => n.id === m[2]));
          if (!pool) return notFound;
          this.recycled.push({ clusterId: Number(m[1]), nodeId: m[2]! });
          this.onRecycle(Number(m[1]), m[2]!);
          return { status: 200, body: {} };
        },
      ],
    ];
  }

  /** Fail the next `times` requests to a route with `response`. */
  queue(route: string, response: CannedResponse, times = 1): void {
    this.queued.set(route, [...(this.queued.get(route) ?? []), ...Array.from({ length: times }, () => response)]);
  }

  count(route: string): number {
    const [, method, pattern] = this.routes().find(([name]) => name === route)!;
    return this.requests.filter((r) => r.method === method && pattern.test(r.path)).length;
  }

  private handle(req: http.IncomingMessage, body: string): CannedResponse {
    const url = new URL(req.url ?? "/", "http://fake");
    const recorded: RecordedRequest = { method: req.method ?? "", path: url.pathname, query: url.searchParams, body };
    this.requests.push(recorded);
    if (req.headers.authorization !== `Bearer ${this.token}`) return { status: 401, body: { errors: [{ reason: "Invalid Token" }] } };
    const filter = req.headers["x-filter"];
    if (filter !== undefined) {
      try {
        recorded.filter = JSON.parse(String(filter)) as Record<string, unknown>;
      } catch {
        this.violations.push(`X-Filter is not JSON: ${filter}`);
        return { status: 400, body: { errors: [{ reason: "X-Filter is not valid JSON" }] } };
      }
    }
    const pageSize = url.searchParams.get("page_size");
    if (pageSize !== null && !(Number(pageSize) >= 25 && Number(pageSize) <= 500)) {
      this.violations.push(`page_size ${pageSize} outside 25..500`);
      return { status: 400, body: { errors: [{ field: "page_size", reason: "Must be 25-500" }] } };
    }
    for (const [name, method, pattern, handler] of this.routes()) {
      const match = pattern.exec(url.pathname);
      if (!match || method !== req.method) continue;
      const queued = this.queued.get(name);
      if (queued && queued.length > 0) return queued.shift()!;
      return handler(match, recorded);
    }
    this.violations.push(`no such Linode API route: ${req.method} ${url.pathname}`);
    return notFound;
  }

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => (body += chunk));
      req.on("end", () => {
        const response = this.handle(req, body);
        res.writeHead(response.status, { "content-type": "application/json", ...response.headers });
        res.end(JSON.stringify(response.body ?? {}));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

/** A healthy account with the dev stack deployed: 3 nodes, a NodeBalancer with 3 backends. */
export function healthyState(): FakeState {
  return {
    regions: {
      "us-ord": { id: "us-ord", label: "Chicago, IL", status: "ok", capabilities: ["Linodes", "Kubernetes", "NodeBalancers", "Block Storage", "Cloud Firewall", "VPCs", "LKE HA Control Planes", "LKE Network Access Control List (IP ACL)"] },
      "us-nofw": { id: "us-nofw", label: "Nowhere", status: "ok", capabilities: ["Linodes", "Kubernetes", "NodeBalancers", "Block Storage"] },
    },
    versions: ["1.34", "1.35"],
    types: {
      "g6-standard-2": { id: "g6-standard-2", label: "Linode 4GB", memory: 4096 },
      "g6-nanode-1": { id: "g6-nanode-1", label: "Nanode 1GB", memory: 1024 },
    },
    account: {
      capabilities: ["Linodes", "Kubernetes", "NodeBalancers", "Block Storage", "Cloud Firewall", "LKE HA Control Planes", "LKE Network Access Control List (IP ACL)"],
    },
    profile: { username: "sre", restricted: false },
    grants: { global: { add_lkes: true, add_nodebalancers: true, add_volumes: true, add_firewalls: true } },
    clusters: [{ id: 7001, label: "redis-dr-dev", status: "ready", k8s_version: "1.35", region: "us-ord" }],
    pools: {
      7001: [
        {
          id: 81,
          type: "g6-standard-2",
          count: 3,
          nodes: [
            { id: "7001-aaaa", instance_id: 501, status: "ready" },
            { id: "7001-bbbb", instance_id: 502, status: "ready" },
            { id: "7001-cccc", instance_id: 503, status: "not_ready" },
          ],
        },
      ],
    },
    linodes: {
      501: { id: 501, label: "lke7001-81-aaaa", status: "running" },
      502: { id: 502, label: "lke7001-81-bbbb", status: "running" },
      503: { id: 503, label: "lke7001-81-cccc", status: "running" },
    },
    // Tags as the CCM leaves them: the cluster name, then the tags annotation.
    nodeBalancers: [
      { id: 9001, label: "redis-dr-dev-app", hostname: "nb-1-2-3-4.chicago.nodebalancer.linode.com", ipv4: "203.0.113.10", region: "us-ord", tags: ["lke7001", "redis-dr", "redis-dr-dev", "env-dev"] },
    ],
    configs: { 9001: [{ id: 31, port: 80, nodes_status: { up: 2, down: 1 } }] },
    backends: {
      31: [
        { id: 1, label: "node-aaaa", address: "192.168.128.1:31080", status: "UP" },
        { id: 2, label: "node-bbbb", address: "192.168.128.2:31080", status: "UP" },
        { id: 3, label: "node-cccc", address: "192.168.128.3:31080", status: "DOWN" },
      ],
    },
  };
}
