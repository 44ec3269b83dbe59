// The pieces every handler shares: header lookup and the request's media type.

#include "handlers/handler.hpp"

#include <gtest/gtest.h>

namespace flowgate::handlers {
namespace {

// Header names and media types compare without regard to ASCII case, and nothing else is folded:
// a byte outside ASCII is never taken for a letter.
TEST(handler, headers_and_media_types_ignore_ascii_case_only) {
    const struct {
        std::string name;   // the header as sent
        std::string value;  // its value
        std::string asked;  // the name looked up
        std::string found;  // what header() answers
        std::string type;   // what content_type() answers
    } cases[] = {
        {"Content-Type", "application/json", "content-type", "application/json", "application/json"},
        {"CONTENT-TYPE",
         "Application/JSON; charset=UTF-8",
         "Content-Type",
         "Application/JSON; charset=UTF-8",
         "application/json"},
        {"content-type",
         " application/x-www-form-urlencoded\t; charset=utf-8",
         "CONTENT-type",
         " application/x-www-form-urlencoded\t; charset=utf-8",
         "application/x-www-form-urlencoded"},
        {"Content-Typf", "application/json", "content-type", "", ""},
        {"Content-Type-", "application/json", "content-type", "", ""},
        {"X-Content-Type", "application/json", "content-type", "", ""},
        {"Content-Type",
         "TEXT/\xc3\x89T\xc3\x89",
         "content-type",
         "TEXT/\xc3\x89T\xc3\x89",
         "text/\xc3\x89t\xc3\x89"},
        {"Content-Typ\xc3\x89", "application/json", "content-typ\xc3\xa9", "", ""},
        {"Content-Type@", "application/json", "content-type`", "", ""},
        {"Content-Type[", "application/json", "content-type{", "", ""},
    };
    for (const auto& c : cases) {
        raw_request req;
        req.headers = {{"Host", "example.org"}, {c.name, c.value}};
        EXPECT_EQ(req.header(c.asked), c.found) << c.name << " asked as " << c.asked;
        EXPECT_EQ(req.content_type(), c.type) << c.name << ": " << c.value;
    }
}

TEST(handler, ascii_lower_leaves_everything_but_ascii_letters) {
    std::string all;
    for (int c = 0; c < 256; ++c) {
        all.push_back(static_cast<char>(c));
    }
    const std::string lowered = ascii_lower(all);
    ASSERT_EQ(lowered.size(), all.size());
    for (int c = 0; c < 256; ++c) {
        const char want = c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : static_cast<char>(c);
        EXPECT_EQ(lowered[c], want) << c;
    }
}

}  // namespace
}  // namespace flowgate::handlers
