#include "handlers/crypto.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>

#include <array>
#include <atomic>
#include <cstring>
#include <stdexcept>

namespace flowgate::handlers {

namespace {
const EVP_MD* md_of(digest d) {
    switch (d) {
        case digest::md5:
            return EVP_md5();
        case digest::sha1:
            return EVP_sha1();
        case digest::sha256:
            return EVP_sha256();
        case digest::sha512:
            return EVP_sha512();
    }
    return EVP_sha256();
}

std::string hash(digest d, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), out, &len, md_of(d), nullptr) != 1) {
        throw std::runtime_error("digest failed");
    }
    return std::string(reinterpret_cast<const char*>(out), len);
}
}  // namespace

namespace {
const char* name_of(digest d) {
    switch (d) {
        case digest::md5:
            return "MD5";
        case digest::sha1:
            return "SHA1";
        case digest::sha256:
            return "SHA256";
        case digest::sha512:
            return "SHA512";
    }
    return "SHA256";
}

// OpenSSL 3 looks HMAC and its digest up by name on every HMAC() call, which costs more than the
// MAC of a short text: each thread keeps one context per digest instead, given its key each call
// (3.8 → 1.2 µs for a lookup hash on a small machine).
struct mac_contexts {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    std::array<EVP_MAC_CTX*, 4> by_digest{};
    // The key each context was last initialised with: the same key again (the data key's lookup
    // key, a channel's secret) reuses its prepared pads instead of hashing the key anew.
    std::array<std::string, 4> keys;

    mac_contexts() = default;
    mac_contexts(const mac_contexts&) = delete;
    mac_contexts& operator=(const mac_contexts&) = delete;
    ~mac_contexts() {
        for (EVP_MAC_CTX* c : by_digest) {
            EVP_MAC_CTX_free(c);
        }
        for (std::string& k : keys) {
            OPENSSL_cleanse(k.data(), k.size());
        }
        EVP_MAC_free(mac);
    }

    void forget(digest d) {
        std::string& last = keys[static_cast<std::size_t>(d)];
        OPENSSL_cleanse(last.data(), last.size());
        last.clear();
    }

    // Ready for data under `key`, or false.
    bool init(EVP_MAC_CTX* c, digest d, std::string_view key) {
        std::string& last = keys[static_cast<std::size_t>(d)];
        if (last.size() == key.size() && CRYPTO_memcmp(last.data(), key.data(), key.size()) == 0) {
            return EVP_MAC_init(c, nullptr, 0, nullptr) == 1;  // OpenSSL: no key is the last key
        }
        forget(d);
        if (EVP_MAC_init(c, reinterpret_cast<const unsigned char*>(key.data()), key.size(), nullptr) != 1) {
            return false;
        }
        last.assign(key);
        return true;
    }

    EVP_MAC_CTX* get(digest d) {
        EVP_MAC_CTX*& c = by_digest[static_cast<std::size_t>(d)];
        if (c == nullptr && mac != nullptr) {
            c = EVP_MAC_CTX_new(mac);
            OSSL_PARAM params[] = {
                OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(name_of(d)), 0),
                OSSL_PARAM_construct_end()};
            if (c != nullptr && EVP_MAC_CTX_set_params(c, params) != 1) {
                EVP_MAC_CTX_free(c);
                c = nullptr;
            }
        }
        return c;
    }
};
}  // namespace

std::string hmac(digest d, std::string_view key, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    // An empty key goes the one-shot way: EVP_MAC_init reads "no key" as "the previous key".
    if (!key.empty()) {
        thread_local mac_contexts contexts;
        EVP_MAC_CTX* c = contexts.get(d);
        std::size_t len = 0;
        if (c == nullptr || !contexts.init(c, d, key) ||
            EVP_MAC_update(c, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1 ||
            EVP_MAC_final(c, out, &len, sizeof out) != 1) {
            contexts.forget(d);
            throw std::runtime_error("HMAC failed");
        }
        return std::string(reinterpret_cast<const char*>(out), len);
    }
    unsigned int len = 0;
    if (HMAC(md_of(d),
             key.data(),
             static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(data.data()),
             data.size(),
             out,
             &len) == nullptr) {
        throw std::runtime_error("HMAC failed");
    }
    return std::string(reinterpret_cast<const char*>(out), len);
}

std::string sha256(std::string_view data) { return hash(digest::sha256, data); }
std::string md5(std::string_view data) { return hash(digest::md5, data); }

namespace {
// One byte as two lower-case hexadecimal digits at `out`; the next place after them.
char* put_hex(char* out, unsigned char c) {
    static constexpr char digits[] = "0123456789abcdef";
    *out++ = digits[c >> 4];
    *out++ = digits[c & 0x0f];
    return out;
}
}  // namespace

std::string to_hex(std::string_view bytes) {
    std::string out(bytes.size() * 2, '\0');
    char* at = out.data();
    for (const char c : bytes) {
        at = put_hex(at, static_cast<unsigned char>(c));
    }
    return out;
}

std::string to_base64(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()),
                                  static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

bool equal_constant_time(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string random_bytes(std::size_t n) {
    std::string out(n, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
        throw std::runtime_error("RAND_bytes failed");
    }
    return out;
}

namespace {
// Counts fork()s: a child process must never hand out the bytes its parent's buffer still holds
// (the same AES-GCM nonce twice under one key gives the key's authentication away).
std::atomic<unsigned> forks{0};
}  // namespace

void public_random_bytes(unsigned char* out, std::size_t n) {
    struct pool {
        std::array<unsigned char, 4096> bytes{};
        std::size_t used = 4096;  // empty: the first call fills it
        unsigned forks_seen = 0;
        ~pool() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
    };
    static const bool watching_forks = [] {
        return pthread_atfork(nullptr, nullptr, [] { forks.fetch_add(1, std::memory_order_relaxed); }) == 0;
    }();
    if (!watching_forks) {
        throw std::runtime_error("pthread_atfork failed");
    }
    thread_local pool p;
    if (n > 64) {
        throw std::invalid_argument("public_random_bytes: at most 64 bytes");
    }
    if (const unsigned f = forks.load(std::memory_order_relaxed); f != p.forks_seen) {
        p.forks_seen = f;
        p.used = p.bytes.size();  // a forked child: what is left was its parent's
    }
    if (p.bytes.size() - p.used < n) {
        if (RAND_bytes(p.bytes.data(), static_cast<int>(p.bytes.size())) != 1) {
            throw std::runtime_error("RAND_bytes failed");
        }
        p.used = 0;
    }
    std::memcpy(out, p.bytes.data() + p.used, n);
    // Each byte is handed out once.
    OPENSSL_cleanse(p.bytes.data() + p.used, n);
    p.used += n;
}

namespace {
// 16 bytes as 8-4-4-4-12 lower-case hexadecimal digits.
std::string format_uuid(const std::array<unsigned char, 16>& b) {
    std::string out(36, '-');
    char* at = out.data();
    for (std::size_t i = 0; i < b.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            ++at;  // past a dash
        }
        at = put_hex(at, b[i]);
    }
    return out;
}
}  // namespace

std::string random_uuid() {
    std::array<unsigned char, 16> b{};
    public_random_bytes(b.data(), b.size());
    b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
    b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
    return format_uuid(b);
}

std::string time_ordered_uuid(std::int64_t unix_millis) {
    std::array<unsigned char, 16> b{};
    public_random_bytes(b.data(), b.size());
    for (int i = 0; i < 6; ++i) {
        b[static_cast<std::size_t>(i)] = static_cast<unsigned char>((unix_millis >> (40 - 8 * i)) & 0xff);
    }
    b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x70);
    b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
    return format_uuid(b);
}

}  // namespace flowgate::handlers
