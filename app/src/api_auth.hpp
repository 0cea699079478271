#pragma once

#include <string>
#include <vector>

namespace redisdr {

// The bearer tokens the public API accepts. Several at once, so a token can be rotated
// without downtime: add the new one, move the clients, drop the old one.
class ApiTokens {
public:
    // Shortest token accepted: 32 characters (the program generates 48).
    static constexpr std::size_t kMinLength = 32;

    explicit ApiTokens(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {}

    // True if AUTHORIZATION is "Bearer <one of the tokens>" (scheme case-insensitive). Every
    // token is compared in full, in constant time, so timing tells nothing about any of them.
    bool authorizes(const std::string& authorization) const;

private:
    std::vector<std::string> tokens_;
};

// Equality of two byte strings in time that depends only on their lengths.
bool constantTimeEquals(const std::string& a, const std::string& b);

}  // namespace redisdr
