#pragma once

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

// The archive's uploads to S3-compatible object storage on one kept connection (libcurl), so
// that shipping a segment costs no process start and no new TCP or TLS handshake: the shipper
// (archive.sh ship) runs this as its coprocess. docs/archive.md, "Cost", says why.
namespace redisdr::archive {

struct StoreSettings {
    // scheme://host[:port], no bucket: path-style addressing, as rclone's "Other" provider uses.
    std::string endpoint;
    std::string bucket;
    // Object names are <prefix>/<name>.
    std::string prefix;
    std::string accessKeyId;
    std::string secretAccessKey;
    std::string region;
    // A CA bundle to verify the store's certificate with; empty: the system's. libcurl does not
    // read CURL_CA_BUNDLE itself (only the curl tool does), so the caller passes it on.
    std::string caBundle;
    std::chrono::milliseconds connectTimeout{3000};
    std::chrono::milliseconds requestTimeout{15000};
    // Further attempts after a transient failure, waiting 1 s, then 2 s, ... between them.
    int retries = 2;
};

class UploadError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class StoreUploader {
public:
    explicit StoreUploader(StoreSettings settings);
    ~StoreUploader();
    StoreUploader(const StoreUploader&) = delete;
    StoreUploader& operator=(const StoreUploader&) = delete;

    // PUT the file at PATH as <prefix>/NAME, signed (SigV4) with SHA256, the hex digest of its
    // bytes, as x-amz-content-sha256: a store that checks it refuses a body that changed.
    // Throws UploadError once the retries are spent or at a failure that is not transient.
    void put(const std::string& path, const std::string& name, const std::string& sha256);

private:
    // The URL an object of that name has.
    std::string urlOf(const std::string& name) const;
    // One attempt: the HTTP status, or throws UploadError (transient says whether to try again).
    long attempt(const std::string& path, const std::string& url, const std::string& sha256, bool& transient, std::string& body);

    struct Handle;
    StoreSettings settings_;
    std::unique_ptr<Handle> handle_;
};

}  // namespace redisdr::archive
