#include "flows/segments.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace flowgate::flows {
namespace {

std::string repeat(const std::string& s, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        out += s;
    }
    return out;
}

// "1234567890" repeated, cut to n characters (the digit vectors of providers.md §9.6).
std::string digits(std::size_t n) { return repeat("1234567890", n / 10 + 1).substr(0, n); }

// "23456789..." as in the emoji vectors: n ASCII characters after the emoji.
std::string tail(std::size_t n) { return digits(n + 1).substr(1); }

struct segment_case {
    std::string label;
    std::string text;
    sms_encoding encoding;
    std::size_t units;
    std::size_t segments;
};

TEST(segments, counts_parts_as_providers_bill_them) {
    const std::string alef = "\xD8\xA7";          // ا
    const std::string three_ar = "\xD9\xA3";      // ٣
    const std::string grin = "\xF0\x9F\x98\x80";  // 😀
    const std::string wink = "\xF0\x9F\x98\x9C";  // 😜
    std::vector<segment_case> cases = {
        {"empty text", "", sms_encoding::gsm7, 0, 0},
        {"§9.6: 160 digits fit one GSM-7 SMS", digits(160), sms_encoding::gsm7, 160, 1},
        {"§9.6: 161 digits take two parts", digits(161), sms_encoding::gsm7, 161, 2},
        {"306 digits fill two parts of 153", digits(306), sms_encoding::gsm7, 306, 2},
        {"§9.6: 307 digits take three parts", digits(307), sms_encoding::gsm7, 307, 3},
        {"§9.6: emoji + 69 chars (70 UTF-16 units) is one UCS-2 SMS",
         wink + tail(68),
         sms_encoding::ucs2,
         70,
         1},
        {"§9.6: emoji + 70 chars takes two parts", wink + tail(69), sms_encoding::ucs2, 71, 2},
        {"§9.6: emoji + 134 chars takes three parts", wink + tail(133), sms_encoding::ucs2, 135, 3},
        {"§9.6: 70 × Á is one UCS-2 SMS", repeat("\xC3\x81", 70), sms_encoding::ucs2, 70, 1},
        {"§9.6: 71 × Á takes two", repeat("\xC3\x81", 71), sms_encoding::ucs2, 71, 2},
        {"§9.6: 70 × ç (not in GSM-7, only Ç is)", repeat("\xC3\xA7", 70), sms_encoding::ucs2, 70, 1},
        {"§9.6: 71 × ç", repeat("\xC3\xA7", 71), sms_encoding::ucs2, 71, 2},
        {"§9.6: 70 × í", repeat("\xC3\xAD", 70), sms_encoding::ucs2, 70, 1},
        {"§9.6: 71 × í", repeat("\xC3\xAD", 71), sms_encoding::ucs2, 71, 2},
        {"§9.6: 😀 + ] × 68 is one UCS-2 SMS (] is one unit there)",
         grin + repeat("]", 68),
         sms_encoding::ucs2,
         70,
         1},
        {"§9.6: 😀 + ] × 69 takes two", grin + repeat("]", 69), sms_encoding::ucs2, 71, 2},
        {"70 Arabic letters are one SMS", repeat(alef, 70), sms_encoding::ucs2, 70, 1},
        {"71 Arabic letters take two parts", repeat(alef, 71), sms_encoding::ucs2, 71, 2},
        {"134 Arabic letters fill two parts of 67", repeat(alef, 134), sms_encoding::ucs2, 134, 2},
        {"135 Arabic letters take three", repeat(alef, 135), sms_encoding::ucs2, 135, 3},
        {"one Arabic-Indic digit turns Latin text into UCS-2", "Hello" + three_ar, sms_encoding::ucs2, 6, 1},
        {"one Arabic digit makes 160 Latin chars three UCS-2 parts",
         digits(159) + three_ar,
         sms_encoding::ucs2,
         160,
         3},
        {"Arabic comma forces UCS-2", "a\xD8\x8C b", sms_encoding::ucs2, 4, 1},
        {"an RLM mark forces UCS-2",
         "\xE2\x80\x8F"
         "1",
         sms_encoding::ucs2,
         2,
         1},
        {"GSM-7 basic table specials",
         "@\xC2\xA3$\xC2\xA5\xC3\xA8\xC3\xA9\xC3\x87\xC3\x89\xC3\x9F\xC2\xA4\xC2\xA1\xC2\xBF\xC3\xA0\xCE\x94_"
         "\n\r",
         sms_encoding::gsm7,
         17,
         1},
        {"backtick is not GSM-7", "`", sms_encoding::ucs2, 1, 1},
        {"curly quotes are not GSM-7", "\xE2\x80\x9Chi\xE2\x80\x9D", sms_encoding::ucs2, 4, 1},
        {"NBSP is not GSM-7",
         "a\xC2\xA0"
         "b",
         sms_encoding::ucs2,
         3,
         1},
        {"an escape pair is never split: 152 digits + € + 152 digits (306 septets) takes three parts",
         digits(152) + "\xE2\x82\xAC" + digits(152),
         sms_encoding::gsm7,
         306,
         3},
        {"the same with € at the end of the first part fits two",
         digits(151) + "\xE2\x82\xAC" + digits(153),
         sms_encoding::gsm7,
         306,
         2},
        {"a surrogate pair is never split: 66 Á + emoji + 66 Á (134 units) takes three parts",
         repeat("\xC3\x81", 66) + grin + repeat("\xC3\x81", 66),
         sms_encoding::ucs2,
         134,
         3},
        {"the same with the emoji at the end of the first part fits two",
         repeat("\xC3\x81", 65) + grin + repeat("\xC3\x81", 67),
         sms_encoding::ucs2,
         134,
         2},
        {"an invalid byte counts as one U+FFFD", "ab\xFF", sms_encoding::ucs2, 3, 1},
        {"a truncated sequence counts byte by byte", "\xE0\xA0", sms_encoding::ucs2, 2, 1},
        {"an overlong encoding is invalid", "\xC0\xAF", sms_encoding::ucs2, 2, 1},
    };
    for (const std::string ext : {"|", "^", "\xE2\x82\xAC", "{", "}", "[", "]", "~", "\\"}) {
        cases.push_back({"§9.6: extension char " + ext + " + 158 digits is one SMS",
                         ext + digits(158),
                         sms_encoding::gsm7,
                         160,
                         1});
        cases.push_back({"§9.6: extension char " + ext + " + 159 digits takes two",
                         ext + digits(159),
                         sms_encoding::gsm7,
                         161,
                         2});
    }
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const segment_info info = count_segments(c.text);
        EXPECT_EQ(to_string(info.encoding), std::string(to_string(c.encoding)));
        EXPECT_EQ(info.units, c.units);
        EXPECT_EQ(info.segments, c.segments);
    }
}

TEST(segments, encoding_names) {
    const std::vector<std::pair<sms_encoding, std::string>> cases = {{sms_encoding::gsm7, "GSM-7"},
                                                                     {sms_encoding::ucs2, "UCS-2"}};
    for (const auto& [e, name] : cases) {
        SCOPED_TRACE(name);
        EXPECT_EQ(to_string(e), name);
    }
}

}  // namespace
}  // namespace flowgate::flows
