#include "handlers/urn.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace flowgate::handlers {
namespace {

struct urn_case {
    const char* label;
    std::string input;
    std::string country;
    std::optional<std::string> expected;
};

TEST(urn, parses_and_normalises) {
    const std::vector<urn_case> cases = {
        {"E.164 stays", "+962791234567", "JO", "tel:+962791234567"},
        {"Jordan national with trunk 0 (providers.md vector)", "0791234567", "JO", "tel:+962791234567"},
        {"Nigeria national with spaces (providers.md vector)", "0802 123 4567", "NG", "tel:+2348021234567"},
        {"Lebanon 03 range keeps only 3", "03 123 456", "LB", "tel:+9613123456"},
        {"international from another default country", "+9613123456", "JO", "tel:+9613123456"},
        {"Arabic-Indic digits", "٠٧٩١٢٣٤٥٦٧", "JO", "tel:+962791234567"},
        {"tel: scheme normalised", "tel:0791234567", "JO", "tel:+962791234567"},
        {"ext scheme kept", "ext:participant-7", "JO", "ext:participant-7"},
        {"telegram scheme kept", "telegram:123456", "JO", "telegram:123456"},
        {"not a number", "hello", "JO", std::nullopt},
        {"too short", "12", "JO", std::nullopt},
        {"unknown scheme", "mailto:a@b.c", "JO", std::nullopt},
        {"empty ext", "ext:", "JO", std::nullopt},
        {"control characters in ext", std::string("ext:a\nb"), "JO", std::nullopt},
        // providers.md §10: the habits of the region's users and providers.
        {"Persian digits", "۰۷۹۱۲۳۴۵۶۷", "JO", "tel:+962791234567"},
        {"fullwidth digits", "０７９１２３４５６７", "JO", "tel:+962791234567"},
        {"bidi marks and dashes around an Arabic-Indic number",
         "\u200f٠٧٩-١٢٣-٤٥٦٧\u200e",
         "JO",
         "tel:+962791234567"},
        {"international prefix 00", "00962791234567", "JO", "tel:+962791234567"},
        {"Nigeria's international prefix 009", "009962791234567", "NG", "tel:+962791234567"},
        {"country code without +, as Vonage and Infobip send it", "962791234567", "JO", "tel:+962791234567"},
        {"Lebanon: +961 03... drops the trunk 0", "+961 03 123 456", "JO", "tel:+9613123456"},
        {"Lebanon 8-digit range", "71 123 456", "LB", "tel:+96171123456"},
        {"Nigeria: +234 (0)803... drops the (0)", "+234 (0)803 123 4567", "JO", "tel:+2348031234567"},
        {"Nigeria: 2340803... drops the 0", "2340803 123 4567", "NG", "tel:+2348031234567"},
        {"Syria", "0944 567 890", "SY", "tel:+963944567890"},
        {"Iraq", "0791 234 5678", "IQ", "tel:+9647912345678"},
        {"Libya", "091-2345678", "LY", "tel:+218912345678"},
        {"whatsapp scheme kept", "whatsapp:962791234567", "JO", "whatsapp:962791234567"},
        {"facebook scheme kept", "facebook:1234567890", "JO", "facebook:1234567890"},
    };
    // Twice: the second pass is answered from the thread's memo of normalize_phone, and a number
    // with another default country ("0791234567" in JO, NG) must not get the first one's answer.
    for (int pass = 1; pass <= 2; ++pass) {
        for (const auto& c : cases) {
            SCOPED_TRACE(std::string(c.label) + ", pass " + std::to_string(pass));
            EXPECT_EQ(parse_urn(c.input, c.country), c.expected);
        }
    }
    EXPECT_NE(parse_urn("0791234567", "NG"), std::optional<std::string>("tel:+962791234567"))
        << "the JO answer, remembered, is not NG's";
}

TEST(urn, threads_normalising_at_once_get_each_number_s_own_answer) {
    // normalize_phone remembers its answers for every thread, in two generations of 16,384: two
    // threads each ask 24,000 questions (6,000 numbers, each in four ways), half of the numbers the
    // same, so the generations fill and turn over while both use them; every answer is the
    // number's own.
    const auto ask = [](int first) {
        for (int i = 0; i < 6000; ++i) {
            const std::string subscriber = std::to_string(1000000 + (first + i));
            const std::string expected = "+96279" + subscriber;
            if (normalize_phone("079" + subscriber, "JO") != expected ||
                normalize_phone(expected, "LB") != expected || normalize_phone("79" + subscriber, "") ||
                normalize_phone("079" + subscriber, "NG") == expected) {
                return false;
            }
        }
        return true;
    };
    bool other = false;
    std::thread t([&] { other = ask(3000); });
    const bool here = ask(0);
    t.join();
    EXPECT_TRUE(here);
    EXPECT_TRUE(other);
}

TEST(urn, the_same_number_under_the_other_scheme) {
    EXPECT_EQ(same_number_urn("whatsapp:962791234567"), "tel:+962791234567");
    EXPECT_EQ(same_number_urn("tel:+962791234567"), "whatsapp:962791234567");
    EXPECT_EQ(same_number_urn("telegram:962791234567"), std::nullopt);
    EXPECT_EQ(same_number_urn("whatsapp:abc"), std::nullopt);
    EXPECT_EQ(same_number_urn("ext:962791234567"), std::nullopt);
}

TEST(urn, masks_for_logs) {
    EXPECT_EQ(mask_urn("tel:+962791234567"), "tel:\u202667");
    EXPECT_EQ(mask_urn("ext:abc"), "ext:\u2026");
    EXPECT_EQ(mask_urn("tel:+962791234567").find("7912345"), std::string::npos);
}

// Found by fuzz_urn: the last two bytes of a path ending in Arabic were half a letter, and the
// contacts API and broadcast previews put masked URNs in JSON (which refuses invalid UTF-8).
TEST(urn, masks_keep_whole_characters) {
    EXPECT_EQ(mask_urn("ext:\xD8\xB3\xD8\xA7\xD9\x85\xD9\x8A"
                       "1"),
              "ext:\u2026\xD9\x8A"
              "1");
    EXPECT_EQ(mask_urn("ext:participant-\xE2\x82\xAC\xE2\x82\xAC"), "ext:\u2026\xE2\x82\xAC\xE2\x82\xAC");
    EXPECT_EQ(mask_urn("telegram:\xF0\x9F\x98\x80\xF0\x9F\x98\x80"),
              "telegram:\u2026\xF0\x9F\x98\x80\xF0\x9F\x98\x80");
}

// Found by fuzz_urn: leading zeros gave "+23400099627934567", which normalised again to
// "+2340099627934567": the same input as two URNs. A number must be its own normal form.
TEST(urn, a_phone_number_has_at_most_15_digits_and_normalises_once) {
    EXPECT_EQ(normalize_phone("000099627934567", "NG"), std::nullopt);
    EXPECT_EQ(normalize_phone("0000627934567", "NG"), std::nullopt);  // "+234000627934567", 15 digits
    EXPECT_EQ(parse_urn("tel:000099627934567", "NG"), std::nullopt);
    EXPECT_EQ(normalize_phone("+2348021234567", "NG"), "+2348021234567");
}

// Found by fuzz_urn: an opaque URN's path is stored and shown as text, so it must be UTF-8.
TEST(urn, opaque_paths_are_utf8) {
    EXPECT_EQ(parse_urn("ext:abc\xFF", "JO"), std::nullopt);
    EXPECT_EQ(parse_urn("telegram:\xD8", "JO"), std::nullopt);
    EXPECT_EQ(parse_urn("ext:\xD8\xB3\xD8\xA7", "JO"), "ext:\xD8\xB3\xD8\xA7");
}

TEST(urn, known_regions) {
    EXPECT_TRUE(is_known_region("JO"));
    EXPECT_TRUE(is_known_region("NG"));
    EXPECT_FALSE(is_known_region("XX"));
}

TEST(urn, phone_regions_as_a_full_parse_gives_them) {
    const std::vector<std::pair<std::string, std::optional<std::string>>> cases = {
        {"tel:+962791234567", "JO"},
        {"whatsapp:9613123456", "LB"},
        {"tel:+2348031234567", "NG"},
        {"tel:+96279", "JO"},                          // two national digits: the least a parse takes
        {"tel:+9627", std::nullopt},                   // one
        {"tel:+962", std::nullopt},                    // none
        {"tel:+962123456789012345678", std::nullopt},  // 18
        {"tel:+96212345678901234567", "JO"},           // 17
        {"tel:+96201", "JO"},                          // a national prefix it cannot strip
        {"tel:+0962791234567", std::nullopt},          // no calling code starts with 0
        {"tel:+999123456", std::nullopt},              // no such calling code
        {"tel:+80012345678", std::nullopt},            // non-geographic (001)
        {"tel:+12025550123", "US"},                    // shared codes take the full parse
        {"tel:+14165550123", "CA"},
        {"tel:+442071838750", "GB"},
        {"tel:+79161234567", "RU"},
        {"tel:+262262161616", "RE"},
        {"tel:+962 79 123 4567", "JO"},    // not the normal form: parsed
        {"whatsapp:+962791234567", "JO"},  // "++962...": parsed
        {"telegram:12345", std::nullopt},
        {"tel:", std::nullopt},
        {"tel:+", std::nullopt},
    };
    for (const auto& [urn, region] : cases) {
        EXPECT_EQ(phone_region(urn), phone_region_by_parse(urn)) << urn;
        EXPECT_EQ(phone_region(urn), region) << urn;
    }
}

}  // namespace
}  // namespace flowgate::handlers
