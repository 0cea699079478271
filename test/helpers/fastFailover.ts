import { Credentials } from "../../probe/connection";
import { stackConfig } from "./stackConfig";

/**
 * The dev stack with a short down-after, so failovers in real-process tests happen within seconds.
 * The grace period leaves the preStop handover 20 s (prestopTimeoutSeconds): on two loaded cores
 * the Sentinels took longer than 10 s to agree on the promoted replica (CI, 2026-12-04).
 */
export const FAST_FAILOVER_OVERRIDES = {
  "redis-dr:sentinelDownAfterMs": "2000",
  "redis-dr:minReplicasMaxLagSeconds": "2",
  "redis-dr:sentinelFailoverTimeoutMs": "8000",
  "redis-dr:redisTerminationGraceSeconds": "30",
};
export const FAST_FAILOVER_CFG = stackConfig("dev", FAST_FAILOVER_OVERRIDES);

export const TEST_CREDENTIALS: Credentials = { redisPassword: "redis-test-password-0123", sentinelPassword: "sentinel-test-password-0123" };

/** The API bearer token the tests' service instances accept. */
export const TEST_API_TOKEN = "api-test-token-0123456789abcdef0123456789";
