#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace redisdr {

// One JSON object per line on stdout: {"ts", "level", "msg", ...fields}.
void logLine(const char* level, const std::string& message, const nlohmann::json& fields = nlohmann::json::object());

}  // namespace redisdr
