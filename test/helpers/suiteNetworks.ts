/**
 * The pod network (link prefix and /24) of each suite that runs pods, one per suite so vitest
 * runs the suites side by side. A bridge removes every namespace under `<prefix>-` when it is
 * set up, so no prefix may start with another's `<prefix>-`; the runtime's own are in
 * local/cluster/sites.ts (LOCAL_SITES). The C++ fixtures use loopback: 127.0.2 (CTest's
 * Sentinel group) and 127.0.13 (the archiver's).
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
