// The module object itself (a namespace import is a read-only copy), so the wrapper is what net calls.
import dns from "dns";
import { ClusterDns } from "./dns";

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

/**
 * Resolve the cluster's names in this process as the pods resolve them, so the harness (which
 * stands in for clients inside the cluster: probes, peer clients, ops) can use FQDNs with any
 * library. Node's net module looks names up through dns.lookup at connect time, so wrapping it
 * covers ioredis (Sentinel mode included) and fetch. Names outside the cluster domain, and every
 * other process, resolve as before. Returns the function that removes the wrapper.
 */
export function resolveClusterNames(clusterDns: ClusterDns): () => void {
  const original = dns.lookup;
  const suffix = `.${clusterDns.domain}`;
  const wrapped = function (hostname: string, options: unknown, callback?: LookupCallback): void {
    const cb = (typeof options === "function" ? options : callback) as LookupCallback;
    const opts = (typeof options === "object" && options !== null ? options : {}) as dns.LookupOptions;
    if (!hostname.replace(/\.$/, "").endsWith(suffix)) {
      (original as (...args: unknown[]) => void)(hostname, options, callback);
      return;
    }
    const addresses = clusterDns.resolve(hostname);
    process.nextTick(() => {
      if (addresses.length === 0) {
        const error: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
        error.code = "ENOTFOUND";
        cb(error, opts.all ? [] : "");
      } else if (opts.all) cb(null, addresses.map((address) => ({ address, family: 4 })));
      else cb(null, addresses[0]!, 4);
    });
  };
  (dns as { lookup: unknown }).lookup = wrapped;
  return () => {
    (dns as { lookup: unknown }).lookup = original;
  };
}
