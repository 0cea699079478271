#include "env_reader.hpp"

#include <sstream>

namespace redisdr {

namespace {

std::string joinProblems(const std::vector<std::string>& problems) {
    std::ostringstream out;
    out << "invalid configuration:";
    for (const auto& p : problems) out << "\n  - " << p;
    return out.str();
}

}  // namespace

ConfigError::ConfigError(std::vector<std::string> problems)
    : std::runtime_error(joinProblems(problems)), problems_(std::move(problems)) {}

std::string EnvReader::text(const char* name, const std::string& fallback, bool required) {
    const char* value = env_(name);
    if (value == nullptr || *value == '\0') {
        if (required) problems.push_back(std::string(name) + " is required");
        return fallback;
    }
    return value;
}

std::string EnvReader::word(const char* name, bool required) {
    std::string value = text(name, "", required);
    if (value.find_first_of(" \t\r\n") != std::string::npos) problems.push_back(std::string(name) + " must not contain white space");
    return value;
}

long long EnvReader::integer(const char* name, long long fallback, long long min, long long max) {
    const char* value = env_(name);
    if (value == nullptr || *value == '\0') return fallback;
    std::string text(value);
    std::size_t used = 0;
    long long parsed = 0;
    try {
        parsed = std::stoll(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != text.size() || used == 0) {
        problems.push_back(std::string(name) + "=\"" + text + "\" is not a whole number");
        return fallback;
    }
    if (parsed < min || parsed > max) {
        problems.push_back(std::string(name) + "=" + text + " is outside " + std::to_string(min) + ".." + std::to_string(max));
        return fallback;
    }
    return parsed;
}

void EnvReader::check() const {
    if (!problems.empty()) throw ConfigError(problems);
}

}  // namespace redisdr
