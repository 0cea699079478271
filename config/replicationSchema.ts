import { z } from "zod";
import { cidr } from "./cidr";

/**
 * The keys of replication to a standby region (docs/standby.md): the primary's replication
 * endpoint, and the backlog every Redis pod keeps so that a replica, local or in the standby
 * region, that lost its link comes back with a partial resync instead of a full copy.
 */
export const replicationConfigShape = {
  replicationEndpoint: z
    .object({
      allowedCidrs: z.array(cidr).min(1, "must list the standby cluster's node addresses: the endpoint admits no one else"),
      port: z.number().int().min(1).max(65535).default(6380),
    })
    .strict()
    .optional()
    .describe("Serve this region's replication stream to a standby region: {allowedCidrs: the standby cluster's node addresses (its egress), port: the NodeBalancer port, default 6380}. Creates a relay that follows this region's master through Sentinel, a TCP NodeBalancer on a reserved IPv4 admitting only allowedCidrs, TLS on the Redis pods with certificates this stack generates (client certificates required), and the standby's credentials as secret stack outputs. Unset: no endpoint, no TLS port."),
  replicationPeakWriteBytesPerSecond: z
    .number()
    .int()
    .min(1024)
    .default(1048576)
    .describe("The highest rate of replication bytes the master produces (INFO's master_repl_offset per second at peak). With replicationOutageSeconds it sizes each pod's repl-backlog-size and the replica output-buffer limit (at least 64 MiB)."),
  replicationOutageSeconds: z
    .number()
    .int()
    .min(1)
    .max(86400)
    .default(60)
    .describe("The longest replication link outage (a WAN cut to the standby, a replica's restart) that must end in a partial resync; longer ones take a full resync, which the standby reports. The backlog is this times replicationPeakWriteBytesPerSecond."),
} as const;

/** Redis's default backlog is 1 MiB; the pods never keep less than this. */
export const MIN_BACKLOG_BYTES = 64 * 1024 * 1024;
/** The share of a Redis container's memory the backlog may take: it sits outside maxmemory (70%) beside fork copy-on-write. */
export const MAX_BACKLOG_SHARE = 0.15;

export interface ReplicationSizing {
  replicationPeakWriteBytesPerSecond: number;
  replicationOutageSeconds: number;
}

/** repl-backlog-size: the peak stream for the longest outage to ride out, at least MIN_BACKLOG_BYTES. */
export function replicationBacklogBytes(cfg: ReplicationSizing): number {
  return Math.max(MIN_BACKLOG_BYTES, cfg.replicationPeakWriteBytesPerSecond * cfg.replicationOutageSeconds);
}

type Replication = ReplicationSizing & { replicationEndpoint?: { allowedCidrs: string[] } | undefined };

/** Cross-key checks of the keys above, reported through AT. */
export function replicationConfigProblems(c: Replication, redisMemoryBytes: number, at: (path: string, message: string) => void): void {
  const wanted = c.replicationPeakWriteBytesPerSecond * c.replicationOutageSeconds;
  const most = Math.floor(redisMemoryBytes * MAX_BACKLOG_SHARE);
  if (wanted > MIN_BACKLOG_BYTES && wanted > most) {
    const mib = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MiB`;
    at(
      "replicationOutageSeconds",
      `with replicationPeakWriteBytesPerSecond (${c.replicationPeakWriteBytesPerSecond}) needs a ${mib(wanted)} backlog, more than ${MAX_BACKLOG_SHARE * 100}% of redisMemory (${mib(most)}), which the backlog shares with fork copy-on-write outside maxmemory; raise redisMemory or ride out a shorter outage`,
    );
  }
  const open = (c.replicationEndpoint?.allowedCidrs ?? []).filter((range) => /\/0$/.test(range));
  if (open.length > 0) {
    at("replicationEndpoint", `allowedCidrs lists ${open.join(", ")}: the endpoint carries every write; admit only the standby cluster's node addresses`);
  }
}
