#pragma once
// Participants' data at rest (docs/security.md, "Data at rest"): the config's data_key, and what
// the store does with it. Two subkeys are derived from the key with HKDF-SHA256 under distinct
// labels: one encrypts values with AES-256-GCM, the other makes the keyed HMAC-SHA256 that
// lookups and uniqueness use instead of the value. All of it is OpenSSL's.

#include <utility>

#include <array>
#include <stdexcept>
#include <string>
#include <string_view>

namespace flowgate::gateway {

// A sealed value that does not open: tampered with, cut short, or sealed under another key.
class data_key_error : public std::runtime_error {
   public:
    using std::runtime_error::runtime_error;
};

class data_key {
   public:
    // 64 hexadecimal characters (32 bytes). Throws std::invalid_argument otherwise.
    static data_key from_hex(std::string_view hex);
    // The all-zero key of `"data_key": "none"`: values are still sealed, under a key anyone knows
    // (throwaway use only: tests, demos, trying a flow).
    static data_key throwaway();
    // The config's resolved value: "none" or 64 hex characters.
    static data_key from_config(std::string_view value);

    data_key(const data_key&) = default;
    data_key& operator=(const data_key&) = default;
    ~data_key();

    bool is_throwaway() const { return throwaway_; }

    // AES-256-GCM under a fresh random 96-bit nonce: version byte (1) || nonce || ciphertext ||
    // 16-byte tag. `context` (the column, e.g. "contact_urns.urn") is authenticated with it, so a
    // value moved to another column does not open.
    std::string seal(std::string_view plaintext, std::string_view context) const;
    // The plaintext, or data_key_error.
    std::string open(std::string_view sealed, std::string_view context) const;
    // Keyed HMAC-SHA256 of the value, as 64 lower-case hex characters: equal values give equal
    // lookups, and without the key no one can test a guess (every phone number) against it.
    std::string lookup(std::string_view value) const;
    // A value derived from the key that reveals nothing about it: the store keeps it to refuse
    // a database opened with another key.
    std::string fingerprint() const;

   private:
    explicit data_key(const std::array<unsigned char, 32>& key, bool throwaway);

    std::array<unsigned char, 32> seal_key_{};
    std::array<unsigned char, 32> lookup_key_{};
    std::array<unsigned char, 32> fingerprint_{};
    bool throwaway_ = false;
};

// A write transaction's recent lookups: the same URN's hash is asked for several times in one job
// (a new contact's URN is looked up, inserted, then checked against the suppression list, and so is
// the number's other scheme), and each is an HMAC. Keeps the last few; not shared between threads.
class lookup_memo {
   public:
    explicit lookup_memo(const data_key& key) : key_(key) {}
    lookup_memo(const lookup_memo&) = delete;
    lookup_memo& operator=(const lookup_memo&) = delete;

    // key.lookup(value), computed once while it is among the last few asked for.
    std::string operator()(std::string_view value);
    // `lookup` is key.lookup(value), computed elsewhere (on another thread, ahead of the job).
    void remember(std::string_view value, std::string lookup);

   private:
    static constexpr std::size_t kept = 4;
    const data_key& key_;
    std::array<std::pair<std::string, std::string>, kept> recent_;  // value, lookup; empty: unused
    std::size_t next_ = 0;                                          // the slot to replace next
};

// A write transaction's last inbound URN, as sealed for its column: the replies its job queues go
// to the same URN, and their rows take the same bytes instead of an AES-GCM seal each (the same
// URN under the same key; equal bytes tell no more than the rows' shared contact already does).
class seal_memo {
   public:
    seal_memo(const data_key& key, std::string_view context) : key_(key), context_(context) {}
    seal_memo(const seal_memo&) = delete;
    seal_memo& operator=(const seal_memo&) = delete;

    // `value` sealed: `sealed` if given (made ahead, on another thread), else sealed here.
    // Remembered either way.
    const std::string& remember(std::string_view value, const std::string* sealed);
    // `value` sealed: the remembered bytes when it is the remembered value, else sealed here.
    std::string operator()(std::string_view value) const;

   private:
    const data_key& key_;
    std::string_view context_;
    std::string value_;
    std::string sealed_;  // empty: nothing remembered
};

}  // namespace flowgate::gateway
