// redis-dr-uploader: the continuous archive's uploads, on one kept connection to the store.
// The shipper (archive.sh ship) runs it as a coprocess and writes it batches on stdin:
//
//   SHA256 NAME PATH  one line per file, in the order to store them: its sha256 (hex), its
//                     object name under ARCHIVE_PREFIX (no spaces: <hour>/<segment>.resp),
//                     and its path
//   (empty line)      the end of a batch
//
// For each batch it answers one line on stdout: "ok N" once all N files are stored, or
// "failed REASON" (naming the object) at the first that could not be (the rest of that batch is not sent,
// so a file is only ever stored after every file before it). It exits at the end of stdin.
//
// Environment: RCLONE_CONFIG_STORE_ENDPOINT, RCLONE_CONFIG_STORE_ACCESS_KEY_ID,
// RCLONE_CONFIG_STORE_SECRET_ACCESS_KEY, RCLONE_CONFIG_STORE_REGION (the backup job's store
// settings), BACKUP_BUCKET, ARCHIVE_PREFIX (default archive), CURL_CA_BUNDLE (optional: the
// CA bundle the tools volume carries, as the curl tool reads it). The key is read only from
// the environment, never from argv.
#include <curl/curl.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "archive/store_uploader.hpp"
#include "env_reader.hpp"

using namespace redisdr;
using namespace redisdr::archive;

namespace {

const char* envLookup(const char* name) { return std::getenv(name); }

struct CurlGlobal {
    CurlGlobal() {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw UploadError("curl_global_init failed");
    }
    ~CurlGlobal() { curl_global_cleanup(); }
    CurlGlobal(const CurlGlobal&) = delete;
    CurlGlobal& operator=(const CurlGlobal&) = delete;
};

StoreSettings settingsFromEnvironment() {
    EnvReader env(envLookup);
    StoreSettings settings;
    settings.endpoint = env.text("RCLONE_CONFIG_STORE_ENDPOINT", "", true);
    settings.accessKeyId = env.text("RCLONE_CONFIG_STORE_ACCESS_KEY_ID", "", true);
    settings.secretAccessKey = env.text("RCLONE_CONFIG_STORE_SECRET_ACCESS_KEY", "", true);
    settings.region = env.text("RCLONE_CONFIG_STORE_REGION", "", true);
    settings.bucket = env.text("BACKUP_BUCKET", "", true);
    settings.prefix = env.text("ARCHIVE_PREFIX", "archive");
    settings.caBundle = env.text("CURL_CA_BUNDLE", "");
    env.check();
    return settings;
}

// One line of a batch: the digest, the object's name (letters, digits, ".", "_", "-" and "/",
// no ".." and no leading "/"), then the path, which may hold spaces.
bool parseLine(const std::string& line, std::string& sha256, std::string& name, std::string& path) {
    const auto firstSpace = line.find(' ');
    if (firstSpace != 64) return false;
    sha256 = line.substr(0, firstSpace);
    const auto secondSpace = line.find(' ', firstSpace + 1);
    if (secondSpace == std::string::npos || secondSpace + 1 >= line.size()) return false;
    name = line.substr(firstSpace + 1, secondSpace - firstSpace - 1);
    path = line.substr(secondSpace + 1);
    const bool nameIsSafe = !name.empty() && name.front() != '/' && name.find("..") == std::string::npos &&
                            name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-/") == std::string::npos;
    return nameIsSafe && sha256.find_first_not_of("0123456789abcdef") == std::string::npos;
}

std::string oneLine(std::string text) {
    for (char& c : text)
        if (c == '\n' || c == '\r') c = ' ';
    return text;
}

}  // namespace

int main() {
    // A write to a store connection closed at the other end raises SIGPIPE, and with
    // CURLOPT_NOSIGNAL (set: no signals from timeouts) libcurl no longer ignores it for us
    // (CURLOPT_NOSIGNAL(3)): it fails that upload, not the process. The shipper stops the
    // uploader by closing stdin.
    std::signal(SIGPIPE, SIG_IGN);
    try {
        const CurlGlobal curl;
        StoreUploader uploader(settingsFromEnvironment());
        std::string line;
        std::vector<std::string> batch;
        while (std::getline(std::cin, line)) {
            if (!line.empty()) {
                batch.push_back(line);
                continue;
            }
            std::string failure;
            for (const auto& entry : batch) {
                std::string sha256, name, path;
                try {
                    if (!parseLine(entry, sha256, name, path)) throw UploadError("not a \"SHA256 NAME PATH\" line: " + entry);
                    uploader.put(path, name, sha256);
                } catch (const UploadError& e) {
                    failure = oneLine(e.what());
                    break;
                }
            }
            std::cout << (failure.empty() ? "ok " + std::to_string(batch.size()) : "failed " + failure) << std::endl;
            batch.clear();
        }
        return 0;
    } catch (const ConfigError& e) {
        for (const auto& problem : e.problems()) std::cerr << "redis-dr-uploader: " << problem << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "redis-dr-uploader: " << e.what() << "\n";
        return 1;
    }
}
