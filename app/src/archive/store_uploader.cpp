#include "archive/store_uploader.hpp"

#include <curl/curl.h>
#include <sys/stat.h>

#include <cstdio>
#include <thread>

namespace redisdr::archive {

namespace {

struct CloseFile {
    void operator()(std::FILE* file) const { std::fclose(file); }
};
struct FreeHeaders {
    void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
struct CleanupEasy {
    void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};

// The start of an error answer (S3 says what was wrong in a small XML body), for the message.
std::size_t keepBody(char* data, std::size_t size, std::size_t count, void* target) {
    auto& body = *static_cast<std::string*>(target);
    const std::size_t bytes = size * count;
    if (body.size() < 512) body.append(data, std::min<std::size_t>(bytes, 512 - body.size()));
    return bytes;
}

// What curl's own --retry counts as transient: a timeout, a refused or dropped connection, and
// HTTP 408, 429, 500, 502, 503 and 504 (curl(1), --retry).
bool transientCode(CURLcode code) {
    switch (code) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_SSL_CONNECT_ERROR:
            return true;
        default:
            return false;
    }
}

bool transientStatus(long status) { return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 || status == 504; }

}  // namespace

struct StoreUploader::Handle {
    std::unique_ptr<CURL, CleanupEasy> easy;
    char error[CURL_ERROR_SIZE] = {};
};

StoreUploader::StoreUploader(StoreSettings settings) : settings_(std::move(settings)), handle_(std::make_unique<Handle>()) {
    while (!settings_.endpoint.empty() && settings_.endpoint.back() == '/') settings_.endpoint.pop_back();
    handle_->easy.reset(curl_easy_init());
    if (!handle_->easy) throw UploadError("curl_easy_init failed");
}

StoreUploader::~StoreUploader() = default;

std::string StoreUploader::urlOf(const std::string& name) const {
    return settings_.endpoint + "/" + settings_.bucket + "/" + settings_.prefix + "/" + name;
}

long StoreUploader::attempt(const std::string& path, const std::string& url, const std::string& sha256, bool& transient, std::string& body) {
    transient = false;
    std::unique_ptr<std::FILE, CloseFile> file(std::fopen(path.c_str(), "rb"));
    struct stat info {};
    if (!file || ::fstat(::fileno(file.get()), &info) != 0) throw UploadError("cannot read " + path);

    const std::unique_ptr<curl_slist, FreeHeaders> headers(curl_slist_append(nullptr, ("x-amz-content-sha256: " + sha256).c_str()));
    if (!headers) throw UploadError("out of memory for headers");
    const std::string sigv4 = "aws:amz:" + settings_.region + ":s3";
    CURL* easy = handle_->easy.get();
    // Options persist on the handle between transfers; every one a transfer depends on is set
    // again here. The handle keeps its connection, so the next PUT needs no new handshake.
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(easy, CURLOPT_READDATA, file.get());
    curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(info.st_size));
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers.get());
    // SigV4 (libcurl 7.75 and later) signs the headers above, x-amz-content-sha256 among them.
    curl_easy_setopt(easy, CURLOPT_AWS_SIGV4, sigv4.c_str());
    curl_easy_setopt(easy, CURLOPT_USERNAME, settings_.accessKeyId.c_str());
    curl_easy_setopt(easy, CURLOPT_PASSWORD, settings_.secretAccessKey.c_str());
    // No wait for "100 Continue" (libcurl asks for it on bodies over 1 MB): the body follows at
    // once. Not by removing the header with "Expect:": libcurl before 8.3 still lists a removed
    // header in SignedHeaders, and a store that checks them refuses the request (curl/curl
    // #11664, fixed by #11668; Debian 12 ships 7.88).
    curl_easy_setopt(easy, CURLOPT_EXPECT_100_TIMEOUT_MS, 0L);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(settings_.connectTimeout.count()));
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(settings_.requestTimeout.count()));
    if (!settings_.caBundle.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, settings_.caBundle.c_str());
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, keepBody);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, handle_->error);
    handle_->error[0] = '\0';
    body.clear();

    const CURLcode code = curl_easy_perform(easy);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(easy, CURLOPT_READDATA, nullptr);
    if (code != CURLE_OK) {
        transient = transientCode(code);
        throw UploadError(url + ": " + (handle_->error[0] != '\0' ? handle_->error : curl_easy_strerror(code)));
    }
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    transient = transientStatus(status);
    return status;
}

void StoreUploader::put(const std::string& path, const std::string& name, const std::string& sha256) {
    const std::string url = urlOf(name);
    for (int tried = 0;; tried++) {
        bool transient = false;
        std::string body;
        std::string failure;
        try {
            const long status = attempt(path, url, sha256, transient, body);
            if (status >= 200 && status < 300) return;
            failure = url + ": HTTP " + std::to_string(status) + (body.empty() ? "" : ": " + body);
        } catch (const UploadError& e) {
            failure = e.what();
        }
        if (!transient || tried >= settings_.retries) throw UploadError(failure);
        std::this_thread::sleep_for(std::chrono::seconds(1 << tried));
    }
}

}  // namespace redisdr::archive
