#pragma once

#include <cstddef>
#include <memory>
#include <string>

struct evp_md_ctx_st;

namespace redisdr::archive {

// SHA-256 over bytes fed in pieces (OpenSSL's EVP digest; the context freed with the object).
class Sha256 {
public:
    Sha256();
    void update(const char* bytes, std::size_t size);
    // The digest of everything fed so far, as 64 lowercase hex digits; the hash starts over.
    std::string hexDigest();

private:
    struct Free {
        void operator()(evp_md_ctx_st* context) const;
    };
    std::unique_ptr<evp_md_ctx_st, Free> context_;
};

std::string sha256Hex(const std::string& bytes);

}  // namespace redisdr::archive
