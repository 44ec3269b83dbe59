#include "handlers/form.hpp"

#include <gtest/gtest.h>

namespace flowgate::handlers {
namespace {

struct decode_case {
    const char* label;
    std::string input;
    std::optional<form_fields> expected;
};

TEST(form, decodes) {
    const std::vector<decode_case> cases = {
        {"empty", "", form_fields{}},
        {"one pair", "a=1", form_fields{{"a", "1"}}},
        {"plus is a space", "Body=hello+world", form_fields{{"Body", "hello world"}}},
        {"percent escapes, UTF-8", "Body=%D9%A3", form_fields{{"Body", "\u0663"}}},
        {"encoded plus stays a plus", "To=%2B962790000000", form_fields{{"To", "+962790000000"}}},
        {"repeated keys kept in order", "a=1&a=2", form_fields{{"a", "1"}, {"a", "2"}}},
        {"empty value kept", "a=&b=2", form_fields{{"a", ""}, {"b", "2"}}},
        {"key without '='", "flag&b=2", form_fields{{"flag", ""}, {"b", "2"}}},
        {"stray ampersands", "&&a=1&", form_fields{{"a", "1"}}},
        {"truncated escape", "a=%4", std::nullopt},
        {"bad hex", "a=%zz", std::nullopt},
        {"escape at the very end", "a=%", std::nullopt},
        {"a whole escape at the end", "a=x%41", form_fields{{"a", "xA"}}},
        {"escapes back to back, then plus", "%41%42+c=d+", form_fields{{"AB c", "d "}}},
        {"lower-case hex", "a=%c3%a9", form_fields{{"a", "\u00e9"}}},
        {"only escapes", "%61=%62", form_fields{{"a", "b"}}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        EXPECT_EQ(decode_form(c.input), c.expected);
    }
}

TEST(form, encode_round_trips) {
    const form_fields fields = {{"To", "+962790000000"}, {"Body", "مرحبا & hi=1"}, {"Empty", ""}};
    const std::string encoded = encode_form(fields);
    EXPECT_EQ(encoded.find(' '), std::string::npos);
    EXPECT_EQ(encoded.find('+'), std::string::npos);
    EXPECT_EQ(decode_form(encoded), fields);
    EXPECT_EQ(percent_encode("a b~"), "a%20b~");
}

TEST(form, percent_decode_leaves_plus_alone_outside_forms) {
    EXPECT_EQ(percent_decode("a+b%2Bc", false), "a+b+c");
    EXPECT_EQ(percent_decode("a+b%2Bc", true), "a b+c");
    EXPECT_EQ(percent_decode("", false), "");
    EXPECT_EQ(percent_decode("%", false), std::nullopt);
    EXPECT_EQ(percent_decode("%4", false), std::nullopt);
    EXPECT_EQ(percent_decode("ab%4g", false), std::nullopt);
}

TEST(form, percent_encode_escapes_all_but_unreserved) {
    EXPECT_EQ(percent_encode(""), "");
    EXPECT_EQ(percent_encode("AZaz09-_.~"), "AZaz09-_.~");
    EXPECT_EQ(percent_encode("+/ %"), "%2B%2F%20%25");
    EXPECT_EQ(percent_encode("\u0663x"), "%D9%A3x");
}

TEST(form, find_field_returns_first) {
    const form_fields fields = {{"a", "1"}, {"a", "2"}};
    ASSERT_NE(find_field(fields, "a"), nullptr);
    EXPECT_EQ(*find_field(fields, "a"), "1");
    EXPECT_EQ(find_field(fields, "b"), nullptr);
}

}  // namespace
}  // namespace flowgate::handlers
