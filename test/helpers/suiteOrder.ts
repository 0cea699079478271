/**
 * The suites that run real Redis, Sentinel or pod processes, longest first (seconds each took
 * in one `npm test` on a 2-core machine, every one on the local kubelet: 229, 156, 131, 127,
 * 121, 113, 79, 63, 41, 38, 38, 36, 29). Vitest orders a fresh clone's files by size, which left two of the longest suites to
 * start last and run alone; vitest.config.ts starts these first, so the short ones fill the gaps.
 */
export const LONGEST_FIRST = [
  "archive",
  "backup",
  "redis-processes",
  "redis-restarts",
  "drill",
  "switchover",
  "cli",
  "clusterRun",
  "localCluster",
  "ops",
  "promotionFollower",
  "redisAcl",
  "monitoring",
].map((name) => `${name}.test.ts`);
