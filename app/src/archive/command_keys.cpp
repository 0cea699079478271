#include "archive/command_keys.hpp"

#include <cstdio>

namespace redisdr::archive {

std::vector<std::vector<std::string>> keysOf(RedisConnection& server, const std::vector<const std::vector<std::string>*>& commands) {
    constexpr std::size_t kBatch = 1000;
    std::vector<std::vector<std::string>> out;
    out.reserve(commands.size());
    for (std::size_t first = 0; first < commands.size(); first += kBatch) {
        std::vector<std::vector<std::string>> asks;
        for (std::size_t i = first; i < commands.size() && i < first + kBatch; i++) {
            std::vector<std::string> ask{"COMMAND", "GETKEYS"};
            ask.insert(ask.end(), commands[i]->begin(), commands[i]->end());
            asks.push_back(std::move(ask));
        }
        std::vector<const std::vector<std::string>*> pointers;
        for (const auto& a : asks) pointers.push_back(&a);
        std::vector<Reply> replies;
        server.pipeline(pointers, replies);
        for (const Reply& reply : replies) {
            std::vector<std::string> keys;
            // An error says the command has no key arguments (or none in this form).
            if (reply.type == Reply::Type::Array) {
                for (const Reply& key : reply.elements) keys.push_back(key.str);
            }
            out.push_back(std::move(keys));
        }
    }
    return out;
}

std::string printable(const std::string& key) {
    std::string out;
    for (const unsigned char c : key) {
        if (c > 0x20 && c < 0x7f && c != '\\') {
            out += static_cast<char>(c);
        } else {
            char hex[5];
            std::snprintf(hex, sizeof hex, "\\x%02x", c);
            out += hex;
        }
    }
    return out;
}

}  // namespace redisdr::archive
