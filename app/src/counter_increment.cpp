#include "counter_increment.hpp"

#include "scripts/IdempotentIncr.hpp"

namespace redisdr {

namespace {

constexpr std::size_t kMaxKeyBytes = 255;

// Visible ASCII but the two characters a structured-field string escapes.
bool keyCharacter(unsigned char c) { return c >= 0x21 && c <= 0x7e && c != '"' && c != '\\'; }

}  // namespace

IdempotencyKeyHeader parseIdempotencyKey(const std::vector<std::string>& values) {
    if (values.empty()) return {};
    if (values.size() > 1) return {std::nullopt, "more than one Idempotency-Key header"};
    std::string key = values.front();
    // draft-ietf-httpapi-idempotency-key-header makes the value a structured-field string
    // ("..."); many clients send it bare, as Stripe's API takes it. Both name the same key.
    if (key.size() >= 2 && key.front() == '"' && key.back() == '"') key = key.substr(1, key.size() - 2);
    if (key.empty() || key.size() > kMaxKeyBytes) return {std::nullopt, "Idempotency-Key must be 1 to 255 characters"};
    for (unsigned char c : key) {
        if (!keyCharacter(c)) return {std::nullopt, "Idempotency-Key must be visible ASCII without \" or \\"};
    }
    return {key, ""};
}

std::vector<std::string> incrementCommand(const std::string& name, const std::optional<std::string>& key,
                                          std::chrono::seconds keep) {
    const std::string counter = "counter:" + name;
    if (!key) return {"INCR", counter};
    // The name's length first: names may hold ':', so "a:b" + "c" and "a" + "b:c" stay apart.
    const std::string record = "idempotency:counter:" + std::to_string(name.size()) + ":" + name + ":" + *key;
    const auto keepMs = std::chrono::duration_cast<std::chrono::milliseconds>(keep).count();
    return {"EVAL", scripts::kIdempotentIncr, "2", counter, record, std::to_string(keepMs)};
}

std::optional<Increment> readIncrement(const Reply& reply) {
    if (reply.type == Reply::Type::Integer) return Increment{reply.integer, false};
    if (reply.type == Reply::Type::Array && reply.elements.size() == 2 && reply.elements[0].type == Reply::Type::Integer &&
        reply.elements[1].type == Reply::Type::Integer) {
        return Increment{reply.elements[1].integer, reply.elements[0].integer == 1};
    }
    return std::nullopt;
}

}  // namespace redisdr
