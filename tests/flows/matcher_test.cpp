#include "flows/matcher.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace flowgate {
// Readable failures: "pointer: message" instead of bytes.
[[maybe_unused]] static void PrintTo(const problem& p, std::ostream* os) {
    *os << p.pointer << ": " << p.message;
}
}  // namespace flowgate

namespace flowgate::flows {
namespace {

const std::string amman_ar = "\xD8\xB9\xD9\x85\xD8\xA7\xD9\x86";                 // عمان
const std::string amman_ar_shadda = "\xD8\xB9\xD9\x85\xD9\x91\xD8\xA7\xD9\x86";  // عمّان
const std::string yes_ar = "\xD9\x86\xD8\xB9\xD9\x85";                           // نعم
const std::string three_ar = "\xD9\xA3";                                         // ٣
const std::string three_fa = "\xDB\xB3";                                         // ۳

struct test_run_case {
    std::string test;
    std::vector<std::string> args;
    std::string input;
    std::optional<std::string> match;  // nullopt: the test does not pass
};

TEST(run_test, follows_rapidpro_semantics_on_normalised_text) {
    const std::vector<test_run_case> cases = {
        // has_text: any non-blank text; the value is the trimmed text.
        {"has_text", {}, "  hello there ", "hello there"},
        {"has_text", {}, "...", "..."},
        {"has_text", {}, "   ", std::nullopt},
        {"has_text", {}, "", std::nullopt},
        {"has_text", {}, "\xE2\x80\x8F ", std::nullopt},
        // has_any_word: any of the words, matched words returned as the contact wrote them.
        {"has_any_word", {"amman", amman_ar, "1"}, "I live in Amman", "Amman"},
        {"has_any_word", {"amman", amman_ar, "1"}, amman_ar_shadda, amman_ar_shadda},
        {"has_any_word", {"amman", amman_ar, "1"}, " 1 ", "1"},
        {"has_any_word", {"amman", amman_ar, "1"}, three_ar, std::nullopt},
        {"has_any_word", {"amman", amman_ar, "1"}, "\xD9\xA1", "\xD9\xA1"},
        {"has_any_word", {"amman", amman_ar, "1"}, "1.", "1"},
        {"has_any_word", {"amman", amman_ar, "1"}, "Ammân!", "Ammân"},
        {"has_any_word", {"amman", amman_ar, "1"}, "Irbid", std::nullopt},
        {"has_any_word", {"amman", amman_ar, "1"}, "ammanx", std::nullopt},
        {"has_any_word", {"yes y"}, "Y", "Y"},
        {"has_any_word", {"red green"}, "green and RED", "green RED"},
        {"has_any_word", {yes_ar}, yes_ar + "\xD8\x8C " + "thanks", yes_ar},
        {"has_any_word", {"yes"}, "", std::nullopt},
        // has_all_words
        {"has_all_words", {"red green"}, "Green and red!", "Green red"},
        {"has_all_words", {"red green"}, "red only", std::nullopt},
        {"has_all_words", {"red", "green"}, "red, green", "red green"},
        // has_phrase: the words in order, next to each other.
        {"has_phrase", {"the quick"}, "The quick brown fox", "The quick"},
        {"has_phrase", {"quick the"}, "The quick brown fox", std::nullopt},
        {"has_phrase", {"the brown"}, "The quick brown fox", std::nullopt},
        {"has_phrase", {"ar"}, "ar", "ar"},
        {"has_phrase", {"ar"}, "arabic", std::nullopt},
        // has_only_phrase: nothing else.
        {"has_only_phrase", {"the quick"}, "  THE, quick. ", "THE quick"},
        {"has_only_phrase", {"the quick"}, "the quick fox", std::nullopt},
        {"has_only_phrase", {"the quick"}, "quick", std::nullopt},
        // has_beginning: a prefix of the normalised text, in the contact's spelling.
        {"has_beginning", {"amm"}, "Ammân is nice", "Amm"},
        {"has_beginning", {"ammân"}, "AMMAN", "AMMAN"},
        {"has_beginning", {"irb"}, "amman", std::nullopt},
        {"has_beginning", {"hello"}, "  Hello!", "Hello"},
        // has_number and its comparisons: the first number, Arabic-Indic and Persian digits too.
        {"has_number", {}, "3", "3"},
        {"has_number", {}, three_ar, "3"},
        {"has_number", {}, three_fa, "3"},
        {"has_number", {}, " 3 ", "3"},
        {"has_number", {}, "3.", "3"},
        {"has_number", {}, "2.5", "2.5"},
        {"has_number", {}, "\xD9\xA2\xD9\xAB\xD9\xA5", "2.5"},  // ٢٫٥
        {"has_number", {}, "I am 25 years", "25"},
        {"has_number", {}, "25th", "25"},
        {"has_number", {}, "\xD9\xA1\xD9\xA2", "12"},
        {"has_number", {}, "temp -5 today", "-5"},
        {"has_number", {}, "5-6", "5"},
        {"has_number", {}, "no digits", std::nullopt},
        {"has_number", {}, "", std::nullopt},
        {"has_number_between", {"1", "3"}, "2", "2"},
        {"has_number_between", {"1", "3"}, "1", "1"},
        {"has_number_between", {"1", "3"}, "3", "3"},
        {"has_number_between", {"1", "3"}, three_ar, "3"},
        {"has_number_between", {"1", "3"}, "4", std::nullopt},
        {"has_number_between", {"1", "3"}, "0", std::nullopt},
        {"has_number_between", {"1", "3"}, "day two", std::nullopt},
        {"has_number_between", {"1.5", "2.5"}, "2.5", "2.5"},
        {"has_number_lt", {"5"}, "4", "4"},
        {"has_number_lt", {"5"}, "5", std::nullopt},
        {"has_number_lte", {"5"}, "5", "5"},
        {"has_number_lte", {"5"}, "6", std::nullopt},
        {"has_number_eq", {"2"}, "2", "2"},
        {"has_number_eq", {"2"}, "\xDB\xB2", "2"},
        {"has_number_eq", {"2"}, "2.0", "2.0"},
        {"has_number_eq", {"2"}, "3", std::nullopt},
        {"has_number_eq", {"2"}, "12", std::nullopt},
        {"has_number_gte", {"18"}, "18", "18"},
        {"has_number_gte", {"18"}, "17", std::nullopt},
        {"has_number_gt", {"18"}, "19 years", "19"},
        {"has_number_gt", {"18"}, "18", std::nullopt},
        {"has_number_gt", {"-1"}, "0", "0"},
        // The first number decides, as the spec of this slice says.
        {"has_number_gt", {"5"}, "1 or 10", std::nullopt},
        // Unknown tests and wrong argument counts never pass.
        {"has_nmber", {}, "3", std::nullopt},
        {"has_number_between", {"1"}, "1", std::nullopt},
        {"has_number_eq", {"two"}, "2", std::nullopt},
    };
    for (const auto& c : cases) {
        std::string args;
        for (const auto& a : c.args) {
            args += (args.empty() ? "" : ", ") + a;
        }
        SCOPED_TRACE(c.test + "(\"" + c.input + "\", " + args + ")");
        EXPECT_EQ(run_test(c.test, c.input, c.args), c.match);
    }
}

struct arguments_case {
    std::string test;
    std::vector<std::string> args;
    flowgate::problems problems;
};

TEST(check_test_arguments, reports_counts_and_numbers_with_pointers) {
    const std::vector<arguments_case> cases = {
        {"has_text", {}, {}},
        {"has_text", {"x"}, {{"/args", "takes no arguments"}}},
        {"has_any_word", {"a b", "c"}, {}},
        {"has_any_word", {}, {{"/args", "takes at least 1 argument"}}},
        {"has_any_word", {"ok", "..."}, {{"/args/1", "must contain a word"}}},
        {"has_phrase", {"a", "b"}, {{"/args", "takes 1 argument"}}},
        {"has_beginning", {""}, {{"/args/0", "must contain a word"}}},
        {"has_number", {}, {}},
        {"has_number_between", {"1", "3"}, {}},
        {"has_number_between", {"-1.5", "2.25"}, {}},
        {"has_number_between", {"1"}, {{"/args", "takes 2 arguments"}}},
        {"has_number_between",
         {"one", "3x"},
         {{"/args/0", "must be a number"}, {"/args/1", "must be a number"}}},
        {"has_number_between", {"5", "1"}, {{"/args/1", "must not be less than the minimum"}}},
        {"has_number_eq", {"2"}, {}},
        {"has_number_eq", {"2."}, {{"/args/0", "must be a number"}}},
        {"has_number_eq", {"inf"}, {{"/args/0", "must be a number"}}},
        {"has_number_eq", {"1e3"}, {{"/args/0", "must be a number"}}},
        {"has_number_lt", {}, {{"/args", "takes 1 argument"}}},
        {"has_number_lte", {"x"}, {{"/args/0", "must be a number"}}},
        {"has_number_gte", {"1", "2"}, {{"/args", "takes 1 argument"}}},
        {"has_number_gt", {"0"}, {}},
        {"has_date", {}, {{"/test", "unknown test \"has_date\""}}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.test + " with " + std::to_string(c.args.size()) + " argument(s)");
        EXPECT_EQ(check_test_arguments(c.test, c.args), c.problems);
    }
}

TEST(is_known_test, knows_the_first_slice_only) {
    const std::vector<std::pair<std::string, bool>> cases = {
        {"has_text", true},
        {"has_any_word", true},
        {"has_all_words", true},
        {"has_phrase", true},
        {"has_only_phrase", true},
        {"has_beginning", true},
        {"has_number", true},
        {"has_number_between", true},
        {"has_number_lt", true},
        {"has_number_lte", true},
        {"has_number_eq", true},
        {"has_number_gte", true},
        {"has_number_gt", true},
        {"has_date", false},
        {"has_pattern", false},
        {"HAS_TEXT", false},
        {"", false},
    };
    for (const auto& [name, known] : cases) {
        SCOPED_TRACE(name);
        EXPECT_EQ(is_known_test(name), known);
    }
}

}  // namespace
}  // namespace flowgate::flows
