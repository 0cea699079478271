#include "api_auth.hpp"

#include <algorithm>
#include <cctype>

namespace redisdr {

bool constantTimeEquals(const std::string& a, const std::string& b) {
    // Walk the longer string whole; a length mismatch still costs the same walk.
    const std::size_t n = std::max(a.size(), b.size());
    volatile unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (std::size_t i = 0; i < n; ++i) {
        const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
        const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
        diff = static_cast<unsigned char>(diff | (x ^ y));
    }
    return diff == 0;
}

bool ApiTokens::authorizes(const std::string& authorization) const {
    static const std::string kScheme = "bearer ";
    if (authorization.size() <= kScheme.size()) return false;
    for (std::size_t i = 0; i < kScheme.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return false;
    }
    const std::string presented = authorization.substr(kScheme.size());
    bool match = false;
    for (const auto& token : tokens_) match = constantTimeEquals(presented, token) || match;
    return match;
}

}  // namespace redisdr
