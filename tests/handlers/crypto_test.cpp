#include "handlers/crypto.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <set>

namespace flowgate::handlers {
namespace {

struct hmac_case {
    const char* label;
    digest d;
    std::string key;
    std::string data;
    const char* hex;
};

// RFC 4231 (HMAC-SHA-256) and RFC 2202 (HMAC-SHA-1, HMAC-MD5) published vectors.
TEST(crypto, hmac_matches_published_vectors) {
    const std::vector<hmac_case> cases = {
        {"RFC 4231 case 1",
         digest::sha256,
         std::string(20, '\x0b'),
         "Hi There",
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        {"RFC 4231 case 2",
         digest::sha256,
         "Jefe",
         "what do ya want for nothing?",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {"RFC 4231 case 6 (key longer than the block)",
         digest::sha256,
         std::string(131, '\xaa'),
         "Test Using Larger Than Block-Size Key - Hash Key First",
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
        {"RFC 2202 case 2",
         digest::sha1,
         "Jefe",
         "what do ya want for nothing?",
         "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
        {"RFC 2202 HMAC-MD5 case 1",
         digest::md5,
         std::string(16, '\x0b'),
         "Hi There",
         "9294727a3638bb1c13f48ef8158bfc9d"},
        {"RFC 2202 HMAC-MD5 case 2",
         digest::md5,
         "Jefe",
         "what do ya want for nothing?",
         "750c783e6ab0b503eaa86e310a5db738"},
        {"RFC 2202 HMAC-MD5 case 6 (key longer than the block)",
         digest::md5,
         std::string(80, '\xaa'),
         "Test Using Larger Than Block-Size Key - Hash Key First",
         "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"},
        {"RFC 4231 case 2, SHA-512",
         digest::sha512,
         "Jefe",
         "what do ya want for nothing?",
         "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcae"
         "ab1a34d4a6b4b636e070a38bce737"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        EXPECT_EQ(to_hex(hmac(c.d, c.key, c.data)), c.hex);
    }
    // A thread reuses a key's prepared state when the same key comes again: the same vectors,
    // each twice in a row and then in reverse order (every key after a different one).
    for (const auto& c : cases) {
        SCOPED_TRACE(std::string(c.label) + ", twice");
        EXPECT_EQ(to_hex(hmac(c.d, c.key, c.data)), c.hex);
        EXPECT_EQ(to_hex(hmac(c.d, c.key, c.data)), c.hex);
    }
    for (auto it = cases.rbegin(); it != cases.rend(); ++it) {
        SCOPED_TRACE(std::string(it->label) + ", reversed");
        EXPECT_EQ(to_hex(hmac(it->d, it->key, it->data)), it->hex);
    }
}

TEST(crypto, public_random_bytes_are_fresh_across_refills) {
    std::set<std::string> seen;
    for (int i = 0; i < 2000; ++i) {  // 24 KB: several refills of the per-thread buffer
        std::string b(12, '\0');
        public_random_bytes(reinterpret_cast<unsigned char*>(b.data()), b.size());
        EXPECT_TRUE(seen.insert(b).second) << "a repeated nonce at " << i;
    }
    unsigned char big[65];
    EXPECT_THROW(public_random_bytes(big, sizeof big), std::invalid_argument);
}

TEST(crypto, a_forked_child_never_repeats_its_parents_public_random_bytes) {
    unsigned char first[16];
    public_random_bytes(first, sizeof first);  // the buffer now holds bytes not yet handed out
    int pipe_fds[2];
    ASSERT_EQ(pipe(pipe_fds), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        unsigned char b[16];
        public_random_bytes(b, sizeof b);
        const bool written = write(pipe_fds[1], b, sizeof b) == static_cast<ssize_t>(sizeof b);
        _exit(written ? 0 : 1);
    }
    unsigned char in_child[16];
    ASSERT_EQ(read(pipe_fds[0], in_child, sizeof in_child), static_cast<ssize_t>(sizeof in_child));
    int status = 0;
    waitpid(child, &status, 0);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    unsigned char in_parent[16];
    public_random_bytes(in_parent, sizeof in_parent);  // the parent's next bytes
    EXPECT_NE(std::memcmp(in_child, in_parent, sizeof in_parent), 0)
        << "the child drew its parent's next bytes";
}

// RFC 1321 appendix A.5.
TEST(crypto, md5_matches_rfc_1321) {
    EXPECT_EQ(to_hex(""), "");
    EXPECT_EQ(to_hex(std::string("\x00\xff\x10\x9a", 4)), "00ff109a");
    EXPECT_EQ(to_hex(md5("")), "d41d8cd98f00b204e9800998ecf8427e");
    EXPECT_EQ(to_hex(md5("abc")), "900150983cd24fb0d6963f7d28e17f72");
    EXPECT_EQ(to_hex(md5("message digest")), "f96b697d7cb7938d525a2f31aaf161d0");
}

TEST(crypto, sha256_and_base64) {
    EXPECT_EQ(to_hex(sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(to_base64(""), "");
    EXPECT_EQ(to_base64("f"), "Zg==");
    EXPECT_EQ(to_base64("foobar"), "Zm9vYmFy");
}

TEST(crypto, constant_time_equality) {
    EXPECT_TRUE(equal_constant_time("abc", "abc"));
    EXPECT_FALSE(equal_constant_time("abc", "abd"));
    EXPECT_FALSE(equal_constant_time("abc", "abcd"));
    EXPECT_TRUE(equal_constant_time("", ""));
}

// 8-4-4-4-12 lower-case hexadecimal digits.
bool is_uuid_text(const std::string& u) {
    if (u.size() != 36) {
        return false;
    }
    for (std::size_t i = 0; i < u.size(); ++i) {
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        const char c = u[i];
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

TEST(crypto, random_uuids_are_version_4_and_distinct) {
    std::set<std::string> seen;
    for (int i = 0; i < 100; ++i) {
        const std::string u = random_uuid();
        ASSERT_TRUE(is_uuid_text(u)) << u;
        EXPECT_EQ(u[14], '4');
        EXPECT_TRUE(u[19] == '8' || u[19] == '9' || u[19] == 'a' || u[19] == 'b');
        seen.insert(u);
    }
    EXPECT_EQ(seen.size(), 100u);
}

TEST(crypto, time_ordered_uuids_are_version_7_distinct_and_sort_by_time) {
    // 2026-11-28T10:00:00.000Z is 0x01A22198ED00 milliseconds after 1970.
    const std::int64_t t = 1795860000000;
    const std::string u = time_ordered_uuid(t);
    ASSERT_TRUE(is_uuid_text(u)) << u;
    EXPECT_EQ(u.substr(0, 13), "01a22198-ed00");
    EXPECT_EQ(u[14], '7');
    EXPECT_TRUE(u[19] == '8' || u[19] == '9' || u[19] == 'a' || u[19] == 'b');
    std::set<std::string> same_ms;
    for (int i = 0; i < 100; ++i) {
        const std::string v = time_ordered_uuid(t);
        EXPECT_TRUE(is_uuid_text(v)) << v;
        EXPECT_EQ(v.substr(0, 13), "01a22198-ed00");
        same_ms.insert(v);
    }
    EXPECT_EQ(same_ms.size(), 100u) << "74 random bits within one millisecond";
    EXPECT_LT(*same_ms.rbegin(), time_ordered_uuid(t + 1));
    EXPECT_LT(time_ordered_uuid(t + 1), time_ordered_uuid(t + 1000 * 3600 * 24 * 365LL));
}

}  // namespace
}  // namespace flowgate::handlers
