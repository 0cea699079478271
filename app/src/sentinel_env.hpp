#pragma once

#include "env_reader.hpp"
#include "redisdr/sentinel_discovery.hpp"

namespace redisdr {

// Where the Sentinels are and how to ask them, as every binary here reads it: SENTINEL_HOST
// (required, "host[:port],..."), SENTINEL_PORT (26379), REDIS_MASTER_NAME (required),
// SENTINEL_USERNAME and SENTINEL_PASSWORD (empty: the default user). Problems go to R.
SentinelSettings readSentinelSettings(EnvReader& r);

}  // namespace redisdr
