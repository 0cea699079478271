#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace redisdr {

// Every problem found in a configuration, so one start reports them all.
class ConfigError : public std::runtime_error {
public:
    explicit ConfigError(std::vector<std::string> problems);
    const std::vector<std::string>& problems() const { return problems_; }

private:
    std::vector<std::string> problems_;
};

using EnvLookup = std::function<const char*(const char*)>;

// Reads typed settings from an environment, collecting what is wrong instead of throwing at the first.
class EnvReader {
public:
    explicit EnvReader(EnvLookup env) : env_(std::move(env)) {}

    std::string text(const char* name, const std::string& fallback, bool required = false);
    // As text, with no white space in it (a name, a user): one that has some is a problem.
    std::string word(const char* name, bool required = false);
    long long integer(const char* name, long long fallback, long long min, long long max);
    std::size_t size(const char* name, std::size_t fallback, long long min, long long max) {
        return static_cast<std::size_t>(integer(name, static_cast<long long>(fallback), min, max));
    }
    std::chrono::milliseconds millis(const char* name, long long fallback, long long min, long long max) {
        return std::chrono::milliseconds(integer(name, fallback, min, max));
    }
    // Throws ConfigError if any problem was found.
    void check() const;

    std::vector<std::string> problems;

private:
    EnvLookup env_;
};

}  // namespace redisdr
