/**
 * The loopback /24 each real-process suite's pods listen on (port 6379 and 26379 on
 * `${prefix}.10`, `.11`, `.12`), one per suite so vitest runs the suites side by side.
 * Taken elsewhere: 127.0.1 (`npm start` on loopback, the bench), 127.0.2 (the C++ CTest
 * fixture), 127.0.3 (the drills on loopback), 127.0.13 (the C++ archive fixture).
 */
export const SUITE_LOOPBACK = {
  monitoring: "127.0.4",
  ops: "127.0.5",
  backup: "127.0.6",
  backupRestored: "127.0.7",
  redisAcl: "127.0.8",
  promotionFollower: "127.0.9",
  redisProcesses: "127.0.10",
  wholeTierRestart: "127.0.11",
  switchover: "127.0.12",
  archive: "127.0.14",
} as const;

/**
 * The pod network (link prefix and /24) of each suite that runs pods in network namespaces.
 * A bridge removes every namespace under `<prefix>-` when it is set up, so no prefix may start
 * with another's `<prefix>-`; the runtime's own are in local/cluster/sites.ts (LOCAL_SITES).
 */
export const SUITE_BRIDGES = {
  localCluster: { prefix: "rdrt", subnet: "10.231.9" },
  clusterRun: { prefix: "rdrc", subnet: "10.231.8" },
  leftovers: { prefix: "rdrl", subnet: "10.231.14" },
  drill: { prefix: "rdrh", subnet: "10.231.15" },
  redisAcl: { prefix: "rdra", subnet: "10.231.16" },
  monitoring: { prefix: "rdrm", subnet: "10.231.17" },
  promotionFollower: { prefix: "rdrf", subnet: "10.231.18" },
  switchover: { prefix: "rdrw", subnet: "10.231.19" },
  redisProcesses: { prefix: "rdrp", subnet: "10.231.20" },
  wholeTierRestart: { prefix: "rdrr", subnet: "10.231.21" },
  ops: { prefix: "rdro", subnet: "10.231.22" },
  backup: { prefix: "rdrb", subnet: "10.231.23" },
  backupRestored: { prefix: "rdrx", subnet: "10.231.24" },
  archive: { prefix: "rdry", subnet: "10.231.25" },
} as const;
