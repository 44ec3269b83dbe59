// The CSV reader: RFC 4180 quoting, the line endings and BOM spreadsheets write, line numbers.

#include "gateway/csv.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace flowgate::gateway {
namespace {

using rows = std::vector<std::vector<std::string>>;

struct csv_case {
    const char* label;
    std::string text;
    rows fields;                     // each record's fields
    std::vector<std::size_t> lines;  // each record's first line
    std::string error;               // "" when well-formed
};

TEST(csv, reads_records_as_rfc_4180_and_spreadsheets_write_them) {
    const std::vector<csv_case> cases = {
        {"plain, LF", "a,b\n1,2\n", {{"a", "b"}, {"1", "2"}}, {1, 2}, ""},
        {"CRLF", "a,b\r\n1,2\r\n", {{"a", "b"}, {"1", "2"}}, {1, 2}, ""},
        {"a lone CR (old spreadsheets)", "a,b\r1,2", {{"a", "b"}, {"1", "2"}}, {1, 2}, ""},
        {"no line break at the end", "a\n1", {{"a"}, {"1"}}, {1, 2}, ""},
        {"a BOM is dropped", "\xEF\xBB\xBFphone,name\n1,x", {{"phone", "name"}, {"1", "x"}}, {1, 2}, ""},
        {"a BOM only at the start", "a\n\xEF\xBB\xBFx", {{"a"}, {"\xEF\xBB\xBFx"}}, {1, 2}, ""},
        {"quoted comma", "name\n\"Haddad, Rania\"", {{"name"}, {"Haddad, Rania"}}, {1, 2}, ""},
        {"doubled quotes", "\"say \"\"hi\"\"\",x", {{"say \"hi\"", "x"}}, {1}, ""},
        {"a line break inside quotes moves the line count",
         "a,b\n\"two\nlines\",x\n3,4\n",
         {{"a", "b"}, {"two\nlines", "x"}, {"3", "4"}},
         {1, 2, 4},
         ""},
        {"CRLF inside quotes is kept", "\"a\r\nb\"", {{"a\r\nb"}}, {1}, ""},
        {"empty fields", "a,,c,\n,,,x", {{"a", "", "c", ""}, {"", "", "", "x"}}, {1, 2}, ""},
        {"an empty quoted field", "\"\",b", {{"", "b"}}, {1}, ""},
        {"blank lines are skipped but counted", "a\n\n\r\nb\n", {{"a"}, {"b"}}, {1, 4}, ""},
        {"Arabic text", "name\nرانيا الحداد", {{"name"}, {"رانيا الحداد"}}, {1, 2}, ""},
        {"a stray quote inside an unquoted field is kept", "5'2\",x", {{"5'2\"", "x"}}, {1}, ""},
        {"spaces are kept (trimming is the caller's)", " a , b ", {{" a ", " b "}}, {1}, ""},
        {"nothing", "", {}, {}, ""},
        {"an unclosed quote",
         "a\n\"open,\nstill open",
         {{"a"}},
         {1},
         "line 2: a quoted field is never closed"},
        {"text after a closing quote",
         "a\n\"x\"y,z",
         {{"a"}},
         {1},
         "line 2: a closing quote must be followed by a comma or the end of the line (write a quote inside a "
         "quoted field as \"\")"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const auto doc = csv::parse(c.text);
        rows got;
        std::vector<std::size_t> lines;
        for (const auto& r : doc.records) {
            got.push_back(r.fields);
            lines.push_back(r.line);
        }
        EXPECT_EQ(got, c.fields);
        EXPECT_EQ(lines, c.lines);
        EXPECT_EQ(doc.error.value_or(""), c.error);
        EXPECT_FALSE(doc.truncated);
    }
}

TEST(csv, stops_reading_past_the_record_limit) {
    const auto doc = csv::parse("h\n1\n2\n3\n", 3);
    EXPECT_TRUE(doc.truncated);
    EXPECT_EQ(doc.records.size(), 3u);
    const auto exact = csv::parse("h\n1\n2\n", 3);
    EXPECT_FALSE(exact.truncated);
    EXPECT_EQ(exact.records.size(), 3u);
}

}  // namespace
}  // namespace flowgate::gateway
