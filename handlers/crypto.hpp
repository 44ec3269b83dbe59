#pragma once
// HMAC and hex helpers on OpenSSL, shared by every handler that checks or makes a signature.

#include <cstdint>
#include <string>
#include <string_view>

namespace flowgate::handlers {

// md5 only for providers that still sign with it (Vonage's "MD5 hash" and HMAC-MD5 methods).
enum class digest { md5, sha1, sha256, sha512 };

// Raw (binary) HMAC of `data` under `key`.
std::string hmac(digest d, std::string_view key, std::string_view data);
std::string sha256(std::string_view data);
std::string md5(std::string_view data);

std::string to_hex(std::string_view bytes);  // lower case
std::string to_base64(std::string_view bytes);

// Constant-time equality (CRYPTO_memcmp); different lengths are unequal.
bool equal_constant_time(std::string_view a, std::string_view b);

// Fresh random bytes from OpenSSL's CSPRNG, and a random (version 4) UUID built on them.
std::string random_bytes(std::size_t n);
// The same CSPRNG's bytes for values that are public once used (AES-GCM nonces, UUIDs), drawn
// from a small per-thread buffer that one RAND_bytes call refills: a call per value cost more than
// the seal it was for. Never for secrets (tokens, keys): those come from random_bytes, unbuffered.
// `out` gets `n` bytes, n at most 64.
void public_random_bytes(unsigned char* out, std::size_t n);
std::string random_uuid();
// A version 7 UUID: the time (Unix milliseconds) first, then 74 random bits. Rows keyed by it are
// added at the end of their index instead of at a random place in it, which keeps the pages a
// commit writes few. It tells when the row was made: only for rows that show that anyway.
std::string time_ordered_uuid(std::int64_t unix_millis);

}  // namespace flowgate::handlers
