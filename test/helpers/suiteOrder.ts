/**
 * The suites that run real Redis, Sentinel or pod processes, longest first (seconds each took
 * in one `npm test` on a 2-core machine: 138, 130, 129, 112, 103, 100, 54, 47, 38, 38, 27, 22,
 * 20). Vitest orders a fresh clone's files by size, which left two of the longest suites to
 * start last and run alone; vitest.config.ts starts these first, so the short ones fill the gaps.
 */
export const LONGEST_FIRST = [
  "backup",
  "archive",
  "redis-processes",
  "redis-restarts",
  "switchover",
  "drill",
  "clusterRun",
  "cli",
  "redisAcl",
  "localCluster",
  "ops",
  "monitoring",
  "promotionFollower",
].map((name) => `${name}.test.ts`);
