#include "gateway/data_key.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "handlers/crypto.hpp"

namespace flowgate::gateway {
namespace {

const std::string hex_a = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const std::string hex_b = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

TEST(data_key, seals_and_opens_every_kind_of_value) {
    const auto key = data_key::from_hex(hex_a);
    for (const std::string& value : std::vector<std::string>{std::string{},
                                                             std::string("tel:+962791234567"),
                                                             std::string("مرحبا، هل أنت بخير؟"),
                                                             std::string("\0binary\xff", 8),
                                                             std::string(100000, 'x')}) {
        const auto sealed = key.seal(value, "messages.text");
        EXPECT_EQ(sealed.size(), value.size() + 1 + 12 + 16) << "version, nonce and tag around the value";
        EXPECT_EQ(sealed.find(value.empty() ? std::string("\x01") : value),
                  value.empty() ? 0u : std::string::npos);
        EXPECT_EQ(key.open(sealed, "messages.text"), value);
    }
}

TEST(data_key, each_seal_has_a_fresh_nonce) {
    const auto key = data_key::from_hex(hex_a);
    std::set<std::string> nonces;
    std::set<std::string> sealed;
    for (int i = 0; i < 1000; ++i) {
        const auto s = key.seal("tel:+962791234567", "contact_urns.urn");
        nonces.insert(s.substr(1, 12));
        sealed.insert(s);
    }
    EXPECT_EQ(nonces.size(), 1000u);
    EXPECT_EQ(sealed.size(), 1000u) << "the same number never seals to the same bytes";
}

TEST(data_key, a_changed_byte_anywhere_fails_to_open) {
    const auto key = data_key::from_hex(hex_a);
    const auto sealed = key.seal("tel:+962791234567", "contact_urns.urn");
    for (std::size_t i = 0; i < sealed.size(); ++i) {
        auto tampered = sealed;
        tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
        EXPECT_THROW(key.open(tampered, "contact_urns.urn"), data_key_error) << "byte " << i;
    }
    EXPECT_THROW(key.open(sealed.substr(0, sealed.size() - 1), "contact_urns.urn"), data_key_error);
    EXPECT_THROW(key.open(sealed.substr(0, 20), "contact_urns.urn"), data_key_error);
    EXPECT_THROW(key.open("tel:+962791234567", "contact_urns.urn"), data_key_error) << "plain text";
    EXPECT_THROW(key.open("", "contact_urns.urn"), data_key_error);
}

TEST(data_key, another_key_or_another_column_fails_to_open) {
    const auto a = data_key::from_hex(hex_a);
    const auto b = data_key::from_hex(hex_b);
    const auto sealed = a.seal("tel:+962791234567", "contact_urns.urn");
    EXPECT_THROW(b.open(sealed, "contact_urns.urn"), data_key_error);
    EXPECT_THROW(data_key::throwaway().open(sealed, "contact_urns.urn"), data_key_error);
    EXPECT_THROW(a.open(sealed, "messages.urn"), data_key_error) << "moved to another column";
    try {
        b.open(sealed, "contact_urns.urn");
    } catch (const data_key_error& e) {
        EXPECT_EQ(std::string(e.what()).find("962791234567"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("another key"), std::string::npos) << e.what();
    }
}

TEST(data_key, one_thread_alternating_between_keys_seals_and_opens_under_each) {
    // Each thread keeps its cipher set up for the last key: a value must never be sealed or opened
    // under the key before.
    const auto a = data_key::from_hex(hex_a);
    const auto b = data_key::from_hex(hex_b);
    for (int i = 0; i < 3; ++i) {
        const auto by_a = a.seal("tel:+962791234567", "contact_urns.urn");
        const auto by_b = b.seal("tel:+962791234567", "contact_urns.urn");
        EXPECT_EQ(a.open(by_a, "contact_urns.urn"), "tel:+962791234567");
        EXPECT_THROW(a.open(by_b, "contact_urns.urn"), data_key_error);
        EXPECT_EQ(b.open(by_b, "contact_urns.urn"), "tel:+962791234567");
        EXPECT_THROW(b.open(by_a, "contact_urns.urn"), data_key_error);
        EXPECT_EQ(a.open(by_a, "contact_urns.urn"), "tel:+962791234567") << "after a failed open";
    }
}

TEST(data_key, lookups_are_keyed_and_stable) {
    const auto a = data_key::from_hex(hex_a);
    const auto a_upper =
        data_key::from_hex("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F");
    const auto b = data_key::from_hex(hex_b);
    const auto h = a.lookup("tel:+962791234567");
    EXPECT_EQ(h.size(), 64u);
    EXPECT_EQ(h, a.lookup("tel:+962791234567"));
    EXPECT_EQ(h, a_upper.lookup("tel:+962791234567"));
    EXPECT_NE(h, a.lookup("tel:+962791234568"));
    EXPECT_NE(h, b.lookup("tel:+962791234567"));
    EXPECT_NE(h, data_key::throwaway().lookup("tel:+962791234567"));
    EXPECT_EQ(h.find("962791234567"), std::string::npos);
    // Not the unkeyed SHA-256 that anyone could compute for every number.
    EXPECT_NE(h, handlers::to_hex(handlers::sha256("tel:+962791234567")));
}

TEST(data_key, a_lookup_memo_answers_as_the_key_does) {
    const auto a = data_key::from_hex(hex_a);
    const auto b = data_key::from_hex(hex_b);
    // Sequences of values asked for in one transaction: repeats, more distinct values than it
    // keeps, a value evicted and asked for again, the empty value, prefixes of each other.
    const std::vector<std::vector<std::string>> sequences = {
        {"tel:+962791234567", "tel:+962791234567", "whatsapp:962791234567", "tel:+962791234567"},
        {"a", "b", "c", "d", "e", "a", "e", "b", "f", "a"},
        {"", "", "x", ""},
        {"tel:+9627", "tel:+96279", "tel:+9627", "tel:+962", "tel:+96279"},
    };
    for (const auto& sequence : sequences) {
        lookup_memo memo_a(a);
        lookup_memo memo_b(b);
        for (std::size_t i = 0; i < sequence.size(); ++i) {
            EXPECT_EQ(memo_a(sequence[i]), a.lookup(sequence[i])) << i << ": " << sequence[i];
            EXPECT_EQ(memo_b(sequence[i]), b.lookup(sequence[i])) << i << ": " << sequence[i];
        }
    }
}

// A reply's URN takes its inbound's sealed bytes; any other value is sealed afresh. Whatever it
// answers opens to the value asked for, under the memo's column only.
TEST(data_key, a_seal_memo_reuses_only_the_remembered_value) {
    const auto a = data_key::from_hex(hex_a);
    seal_memo memo(a, "messages.urn");
    const std::string urn = "tel:+962791234567";
    EXPECT_EQ(a.open(memo("tel:+1"), "messages.urn"), "tel:+1");  // nothing remembered yet
    EXPECT_NE(memo(urn), memo(urn));                              // nor for this: sealed each time
    const std::string ahead = a.seal(urn, "messages.urn");        // as the I/O thread seals it
    EXPECT_EQ(memo.remember(urn, &ahead), ahead);
    EXPECT_EQ(memo(urn), ahead);
    EXPECT_EQ(a.open(memo(urn), "messages.urn"), urn);
    EXPECT_THROW(a.open(memo(urn), "messages.text"), data_key_error);
    for (const std::string other : {"tel:+96279123456", "tel:+9627912345678", "whatsapp:962791234567", ""}) {
        SCOPED_TRACE(other);
        EXPECT_NE(memo(other), ahead);
        EXPECT_EQ(a.open(memo(other), "messages.urn"), other);
    }
    const auto& sealed_here = memo.remember("tel:+2", nullptr);  // no bytes from ahead: sealed
    EXPECT_EQ(a.open(sealed_here, "messages.urn"), "tel:+2");
    EXPECT_EQ(memo("tel:+2"), sealed_here);
    EXPECT_NE(memo(urn), ahead) << "only the last inbound URN is remembered";
}

TEST(data_key, fingerprints_tell_keys_apart) {
    EXPECT_EQ(data_key::from_hex(hex_a).fingerprint(), data_key::from_hex(hex_a).fingerprint());
    EXPECT_NE(data_key::from_hex(hex_a).fingerprint(), data_key::from_hex(hex_b).fingerprint());
    EXPECT_NE(data_key::from_hex(hex_a).fingerprint(), data_key::throwaway().fingerprint());
    EXPECT_EQ(data_key::from_config("none").fingerprint(), data_key::throwaway().fingerprint());
    EXPECT_TRUE(data_key::from_config("none").is_throwaway());
    EXPECT_FALSE(data_key::from_config(hex_a).is_throwaway());
    EXPECT_NE(data_key::from_hex(hex_a).fingerprint(), hex_a);
}

TEST(data_key, rejects_keys_that_are_not_64_hex_characters) {
    for (const std::string& bad : std::vector<std::string>{
             std::string{}, hex_a.substr(0, 62), hex_a + "00", "g" + hex_a.substr(1), std::string("none ")}) {
        EXPECT_THROW(data_key::from_config(bad), std::invalid_argument) << bad;
    }
}

}  // namespace
}  // namespace flowgate::gateway
