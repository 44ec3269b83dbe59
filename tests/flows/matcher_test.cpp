#include "flows/matcher.hpp"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/print.hpp"

namespace flowgate::flows {
namespace {

const std::string amman_ar = "\xD8\xB9\xD9\x85\xD8\xA7\xD9\x86";                 // عمان
const std::string amman_ar_shadda = "\xD8\xB9\xD9\x85\xD9\x91\xD8\xA7\xD9\x86";  // عمّان
const std::string yes_ar = "\xD9\x86\xD8\xB9\xD9\x85";                           // نعم
const std::string three_ar = "\xD9\xA3";                                         // ٣
const std::string three_fa = "\xDB\xB3";                                         // ۳
const std::string group_uuid = "b7cf0d83-f1c9-411c-96fd-c511a4cfa86d";

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

// The word tests remember, per thread, the last message's words and their arguments' tokens (a
// router asks one message of each case in turn): asked in any order, each answers as it would
// alone.
TEST(run_test, word_tests_answer_the_same_in_any_order) {
    const std::vector<test_run_case> cases = {
        {"has_any_word", {"amman irbid"}, "I live in Irbid now", "Irbid"},
        {"has_any_word", {"zarqa"}, "I live in Irbid now", std::nullopt},
        {"has_all_words", {"live", "irbid"}, "I live in Irbid now", "live Irbid"},
        {"has_all_words", {"live", "zarqa"}, "I live in Irbid now", std::nullopt},
        {"has_phrase", {"in irbid"}, "I live in Irbid now", "in Irbid"},
        {"has_only_phrase", {"irbid"}, "Irbid", "Irbid"},
        {"has_only_phrase", {"irbid"}, "I live in Irbid now", std::nullopt},
        {"has_any_word", {"amman", amman_ar}, yes_ar + " " + amman_ar_shadda, amman_ar_shadda},
        {"has_any_word", {"amman", amman_ar}, "Irbid", std::nullopt},
        {"has_any_word", {"amman irbid"}, "zarqa", std::nullopt},
        // The same words as one argument or as two: the same tokens, asked under both.
        {"has_all_words", {"live irbid"}, "I live in Irbid now", "live Irbid"},
    };
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < cases.size(); ++i) {
        order.push_back(i);
    }
    for (std::size_t i = cases.size(); i-- > 0;) {
        order.push_back(i);
        order.push_back(i);  // the same twice in a row
    }
    for (std::size_t i = 0; i < cases.size(); i += 2) {
        order.push_back(i);
    }
    for (const auto i : order) {
        const auto& c = cases[i];
        EXPECT_EQ(run_test(c.test, c.input, c.args), c.match)
            << c.test << " of \"" << c.input << "\" (case " << i << ")";
    }
    // More distinct arguments than the memo keeps: it empties and starts again, answers unchanged.
    for (int round = 0; round < 2; ++round) {
        for (int i = 0; i < 1500; ++i) {
            std::string word = "w";
            word += std::to_string(i);
            ASSERT_EQ(run_test("has_any_word", "say w7 now", {word}),
                      i == 7 ? std::optional<std::string>("w7") : std::nullopt)
                << word;
        }
    }
}

// Contexts the tests below run in. Lagos is UTC+1 all year: at 23:30 UTC on 24 December it is
// already 25 December there, so "today" is the 25th.
const timestamp christmas_eve_2330_utc = from_millis(1798155015250);  // 2026-12-24T23:30:15.250Z
const std::vector<std::string> contact_groups = {group_uuid, "Volunteers", "متطوعون"};

test_context lagos() {
    test_context c;
    c.now = christmas_eve_2330_utc;
    c.timezone = "Africa/Lagos";
    c.default_country = "NG";
    c.groups = &contact_groups;
    return c;
}

test_context amman_phones() {
    test_context c;
    c.now = christmas_eve_2330_utc;
    c.default_country = "JO";
    return c;
}

test_context month_first() {
    test_context c;
    c.now = christmas_eve_2330_utc;
    c.default_country = "US";
    c.day_first = false;
    return c;
}

test_context failed_operand() {
    test_context c;
    c.operand_error = "unknown variable @results.foo";
    return c;
}

enum class ctx { none, lagos, amman, month_first, failed };

test_context make(ctx c) {
    switch (c) {
        case ctx::none:
            return {};
        case ctx::lagos:
            return lagos();
        case ctx::amman:
            return amman_phones();
        case ctx::month_first:
            return month_first();
        case ctx::failed:
            return failed_operand();
    }
    return {};
}

const char* name_of(ctx c) {
    switch (c) {
        case ctx::none:
            return "default context";
        case ctx::lagos:
            return "Lagos, NG";
        case ctx::amman:
            return "UTC, JO";
        case ctx::month_first:
            return "UTC, US, month first";
        case ctx::failed:
            return "operand error";
    }
    return "?";
}

struct context_case {
    std::string test;
    std::vector<std::string> args;
    std::string input;
    ctx context;
    std::optional<std::string> match;  // nullopt: the test does not pass
};

TEST(run_test, follows_rapidpro_semantics_with_a_context) {
    const std::string xmas = "2026-12-25T00:30:15.250000+01:00";  // the date, with Lagos' time of day
    const std::vector<context_case> cases = {
        // has_only_text: exact, case-sensitive equality, nothing trimmed; the value is the operand.
        {"has_only_text", {"Success"}, "Success", ctx::none, "Success"},
        {"has_only_text", {"Success"}, "success", ctx::none, std::nullopt},
        {"has_only_text", {"Success"}, " Success ", ctx::none, std::nullopt},
        {"has_only_text", {"نعم"}, "نعم", ctx::none, "نعم"},
        {"has_only_text", {"نعم"}, "نعم؟", ctx::none, std::nullopt},
        {"has_only_text", {""}, "", ctx::none, ""},
        // has_pattern: case-insensitive, ^ $ per line, the first match; digits of any script read as
        // ASCII and bidi marks dropped before matching.
        {"has_pattern", {R"(buy (\w+))"}, "Buy cheese please", ctx::none, "Buy cheese"},
        {"has_pattern", {R"(buy (\w+))"}, "Sell cheese please", ctx::none, std::nullopt},
        {"has_pattern", {R"(^\d{4}$)"}, "٢٠٢٦", ctx::none, "2026"},
        {"has_pattern", {R"(^[0-9]{4}$)"}, "۱۴۰۵", ctx::none, "1405"},
        {"has_pattern", {R"(^\d{4}$)"}, "\u200F٢٠٢٦", ctx::none, "2026"},
        {"has_pattern", {R"(^\d{4}$)"}, "20266", ctx::none, std::nullopt},
        {"has_pattern", {"(?-i)ABC"}, "abc", ctx::none, std::nullopt},
        {"has_pattern", {"(?-i)ABC"}, "xABCx", ctx::none, "ABC"},
        {"has_pattern", {"^yes$"}, "no\nYES", ctx::none, "YES"},
        {"has_pattern", {R"(  code-(\d+)  )"}, "my CODE-42.", ctx::none, "CODE-42"},
        {"has_pattern", {R"(رقم (\d+))"}, "رقمي؟ رقم ٧", ctx::none, "رقم 7"},
        {"has_pattern", {"(unclosed"}, "(unclosed", ctx::none, std::nullopt},
        // has_date: day first, Arabic-Indic and Persian digits, punctuation and words around; the
        // value is RapidPro's datetime, with the time of day of `now` unless one is written.
        {"has_date", {}, "25/12/2026", ctx::lagos, xmas},
        {"has_date", {}, "25-12-2026", ctx::lagos, xmas},
        {"has_date", {}, "25.12.26", ctx::lagos, xmas},
        {"has_date", {}, "2026-12-25", ctx::lagos, xmas},
        {"has_date", {}, "٢٥/١٢/٢٠٢٦", ctx::lagos, xmas},
        {"has_date", {}, "۲۵/۱۲/۲۰۲۶", ctx::lagos, xmas},
        {"has_date", {}, "\u200F٢٥\u200F/١٢/٢٠٢٦", ctx::lagos, xmas},
        {"has_date", {}, "  (25/12/2026).  ", ctx::lagos, xmas},
        {"has_date", {}, "on 25 12 2026 please", ctx::lagos, xmas},
        {"has_date", {}, "موعدي ٢٥-١٢-٢٠٢٦ إن شاء الله", ctx::lagos, xmas},
        {"has_date", {}, "25/12/2026 10:30", ctx::lagos, "2026-12-25T10:30:00.000000+01:00"},
        {"has_date", {}, "٢٥/١٢/٢٠٢٦ ٣ مساءً", ctx::lagos, "2026-12-25T15:00:00.000000+01:00"},
        {"has_date", {}, "5/6/2026", ctx::lagos, "2026-06-05T00:30:15.250000+01:00"},
        {"has_date", {}, "29/02/2028", ctx::lagos, "2028-02-29T00:30:15.250000+01:00"},
        {"has_date", {}, "1/1/85", ctx::lagos, "1985-01-01T00:30:15.250000+01:00"},
        {"has_date", {}, "12/25/2026", ctx::lagos, std::nullopt},
        {"has_date", {}, "31/02/2026", ctx::lagos, std::nullopt},
        {"has_date", {}, "29/02/2027", ctx::lagos, std::nullopt},
        {"has_date", {}, "25/12", ctx::lagos, std::nullopt},
        {"has_date", {}, "there is no date here, just a year 2026", ctx::lagos, std::nullopt},
        {"has_date", {}, "", ctx::lagos, std::nullopt},
        {"has_date", {}, "12/25/2026", ctx::month_first, "2026-12-25T23:30:15.250000+00:00"},
        {"has_date", {}, "25/12/2026", ctx::month_first, std::nullopt},
        {"has_date", {}, "2026-12-25", ctx::month_first, "2026-12-25T23:30:15.250000+00:00"},
        {"has_date", {}, "25/12/2026", ctx::none, "2026-12-25T00:00:00.000000+00:00"},
        // has_date_lt / _eq / _gt compare the dates only, in the deployment's timezone.
        {"has_date_eq", {"today"}, "25/12/2026", ctx::lagos, xmas},
        {"has_date_eq", {"today"}, "24/12/2026", ctx::lagos, std::nullopt},
        {"has_date_eq", {"Today"}, "2026-12-25", ctx::lagos, xmas},
        {"has_date_eq", {"today"}, "24/12/2026", ctx::amman, "2026-12-24T23:30:15.250000+00:00"},
        {"has_date_eq", {"tomorrow"}, "26/12/2026", ctx::lagos, "2026-12-26T00:30:15.250000+01:00"},
        {"has_date_eq", {"2026-12-25"}, "25/12/2026 18:00", ctx::lagos, "2026-12-25T18:00:00.000000+01:00"},
        {"has_date_eq", {"today"}, "25/12/2026", ctx::none, std::nullopt},
        {"has_date_lt", {"2026-12-25"}, "24.12.2026", ctx::lagos, "2026-12-24T00:30:15.250000+01:00"},
        {"has_date_lt", {"2026-12-25"}, "25.12.2026", ctx::lagos, std::nullopt},
        {"has_date_lt", {"today"}, "٢٤/١٢/٢٠٢٦", ctx::lagos, "2026-12-24T00:30:15.250000+01:00"},
        {"has_date_lt", {"not a date"}, "24.12.2026", ctx::lagos, std::nullopt},
        {"has_date_gt", {"2026-12-25"}, "1/1/2027", ctx::lagos, "2027-01-01T00:30:15.250000+01:00"},
        {"has_date_gt", {"2026-12-25"}, "25/12/2026", ctx::lagos, std::nullopt},
        {"has_date_gt", {"today"}, "۲۶/۱۲/۲۰۲۶", ctx::lagos, "2026-12-26T00:30:15.250000+01:00"},
        {"has_date_gt", {"today"}, "no idea", ctx::lagos, std::nullopt},
        // has_time: RapidPro's time value; an hour alone needs am/pm unless it is the whole answer.
        {"has_time", {}, "10:30", ctx::none, "10:30:00.000000"},
        {"has_time", {}, "10.30", ctx::none, "10:30:00.000000"},
        {"has_time", {}, "the time is 10:30:45", ctx::none, "10:30:45.000000"},
        {"has_time", {}, "10h30", ctx::none, "10:30:00.000000"},
        {"has_time", {}, "10am", ctx::none, "10:00:00.000000"},
        {"has_time", {}, "10 PM", ctx::none, "22:00:00.000000"},
        {"has_time", {}, "12am", ctx::none, "00:00:00.000000"},
        {"has_time", {}, "12pm", ctx::none, "12:00:00.000000"},
        {"has_time", {}, "at 7.15 p.m.", ctx::none, "19:15:00.000000"},
        {"has_time", {}, "٣ مساءً", ctx::none, "15:00:00.000000"},
        {"has_time", {}, "الساعة ٣ م", ctx::none, "15:00:00.000000"},
        {"has_time", {}, "١٠:٣٠ صباحاً", ctx::none, "10:30:00.000000"},
        {"has_time", {}, "۹:۴۵", ctx::none, "09:45:00.000000"},
        {"has_time", {}, "١٠ ليلاً", ctx::none, "22:00:00.000000"},
        {"has_time", {}, "٩ ص", ctx::none, "09:00:00.000000"},
        {"has_time", {}, " 10 ", ctx::none, "10:00:00.000000"},
        {"has_time", {}, "24:00", ctx::none, "00:00:00.000000"},
        {"has_time", {}, "just the number 25", ctx::none, std::nullopt},
        {"has_time", {}, "I have 3 kids", ctx::none, std::nullopt},
        {"has_time", {}, "٣ معي", ctx::none, std::nullopt},
        {"has_time", {}, "25:00", ctx::none, std::nullopt},
        {"has_time", {}, "10:75", ctx::none, std::nullopt},
        {"has_time", {}, "13pm", ctx::none, std::nullopt},
        {"has_time", {}, "", ctx::none, std::nullopt},
        // has_phone: the first valid number, in E.164, national numbers read in the default country
        // or the argument's.
        {"has_phone", {}, "0791234567", ctx::amman, "+962791234567"},
        {"has_phone", {}, "+962 79 123 4567", ctx::amman, "+962791234567"},
        {"has_phone", {}, "٠٧٩١٢٣٤٥٦٧", ctx::amman, "+962791234567"},
        {"has_phone", {}, "۰۷۹۱۲۳۴۵۶۷", ctx::amman, "+962791234567"},
        {"has_phone", {}, "رقمي ٠٧٩-١٢٣-٤٥٦٧ شكرا", ctx::amman, "+962791234567"},
        {"has_phone", {}, "my number is (079) 123 4567.", ctx::amman, "+962791234567"},
        {"has_phone", {}, "call 12345 or 0791234567", ctx::amman, "+962791234567"},
        {"has_phone", {}, "08031234567", ctx::lagos, "+2348031234567"},
        {"has_phone", {"NG"}, "08031234567", ctx::amman, "+2348031234567"},
        {"has_phone", {"us"}, "my number is 206 779 9294", ctx::amman, "+12067799294"},
        {"has_phone", {}, "12345", ctx::amman, std::nullopt},
        {"has_phone", {}, "born 25/12/2026", ctx::amman, std::nullopt},
        {"has_phone", {}, "call me", ctx::amman, std::nullopt},
        {"has_phone", {}, "0791234567", ctx::none, std::nullopt},
        {"has_phone", {}, "+962791234567", ctx::none, "+962791234567"},
        {"has_phone", {"XX"}, "+962791234567", ctx::none, std::nullopt},
        // has_email: the first address, as written.
        {"has_email", {}, "my email is foo1@bar.com, please respond", ctx::none, "foo1@bar.com"},
        {"has_email", {}, "my email is <foo@bar2.com>", ctx::none, "foo@bar2.com"},
        {"has_email", {}, "بريدي: ali.h@example.org.", ctx::none, "ali.h@example.org"},
        {"has_email", {}, "Foo.Bar@Example.COM", ctx::none, "Foo.Bar@Example.COM"},
        {"has_email", {}, "i'm not sharing my email", ctx::none, std::nullopt},
        {"has_email", {}, "foo@bar", ctx::none, std::nullopt},
        {"has_email", {}, "@bar.com", ctx::none, std::nullopt},
        // has_category: the operand is a result's category, compared without case.
        {"has_category", {"Success", "Failure"}, "Success", ctx::none, "Success"},
        {"has_category", {"success"}, "Success", ctx::none, "Success"},
        {"has_category", {"Failure"}, "Success", ctx::none, std::nullopt},
        {"has_category", {"نعم"}, " نعم ", ctx::none, "نعم"},
        {"has_category", {"Other"}, "", ctx::none, std::nullopt},
        // has_group: the contact is in the group named by uuid or name; the value is its name.
        {"has_group", {group_uuid, "Testers"}, "", ctx::lagos, "Testers"},
        {"has_group", {"B7CF0D83-F1C9-411C-96FD-C511A4CFA86D"}, "", ctx::lagos, group_uuid},
        {"has_group", {"volunteers"}, "", ctx::lagos, "Volunteers"},
        {"has_group", {"متطوعون"}, "", ctx::lagos, "متطوعون"},
        {"has_group", {"97fe7029-3a15-4005-b0c7-277b884fc1d5", "Staff"}, "", ctx::lagos, std::nullopt},
        {"has_group", {"Volunteers"}, "", ctx::none, std::nullopt},
        // has_error: the operand failed to evaluate; the value is why.
        {"has_error", {}, "", ctx::failed, "unknown variable @results.foo"},
        {"has_error", {}, "hello", ctx::none, std::nullopt},
        {"has_error", {}, "", ctx::lagos, std::nullopt},
    };
    for (const auto& c : cases) {
        std::string args;
        for (const auto& a : c.args) {
            args += (args.empty() ? "" : ", ") + a;
        }
        SCOPED_TRACE(c.test + "(\"" + c.input + "\", " + args + ") in " + name_of(c.context));
        EXPECT_EQ(run_test(c.test, c.input, c.args, make(c.context)), c.match);
    }
}

TEST(match_test, has_pattern_extracts_the_groups_as_extra) {
    const auto hit = match_test("has_pattern", "Buy cheese please", {R"(buy (\w+))"}, {});
    ASSERT_TRUE(hit.has_value());
    EXPECT_EQ(hit->value, "Buy cheese");
    EXPECT_EQ(hit->extra, (std::map<std::string, std::string>{{"0", "Buy cheese"}, {"1", "cheese"}}));

    // An unmatched group is empty; digits come out in ASCII.
    const auto code = match_test("has_pattern", "رمز ٤٢", {R"((\d+)|(x))"}, {});
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(code->value, "42");
    EXPECT_EQ(code->extra, (std::map<std::string, std::string>{{"0", "42"}, {"1", "42"}, {"2", ""}}));

    EXPECT_EQ(match_test("has_number", "٣", {}, {}), (test_match{"3", {}}));
    EXPECT_EQ(match_test("has_pattern", "Sell cheese", {R"(buy (\w+))"}, {}), std::nullopt);
}

TEST(run_test, a_pattern_that_backtracks_forever_gives_up) {
    const std::string input = std::string(40, 'a') + "!";
    EXPECT_EQ(run_test("has_pattern", input, {"^(a+)+$"}), std::nullopt);
}

struct arguments_case {
    std::string test;
    std::vector<std::string> args;
    flowgate::problems problems;
};

TEST(check_test_arguments, reports_counts_numbers_patterns_dates_and_countries_with_pointers) {
    const std::string date_message = R"(must be a date such as "2026-12-25", "today" or "tomorrow")";
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
        {"has_only_text", {}, {{"/args", "takes 1 argument"}}},
        {"has_only_text", {""}, {}},
        {"has_pattern", {"buy (\\w+)"}, {}},
        {"has_pattern", {"(unclosed"}, {{"/args/0", "must be a valid regular expression"}}},
        {"has_pattern", {"[a-"}, {{"/args/0", "must be a valid regular expression"}}},
        {"has_pattern", {"  "}, {{"/args/0", "must not be empty"}}},
        {"has_pattern", {"a", "b"}, {{"/args", "takes 1 argument"}}},
        {"has_date", {}, {}},
        {"has_date", {"2026-12-25"}, {{"/args", "takes no arguments"}}},
        {"has_date_lt", {"2026-12-25"}, {}},
        {"has_date_eq", {"today"}, {}},
        {"has_date_gt", {" Tomorrow "}, {}},
        {"has_date_lt", {"25/12/2026"}, {{"/args/0", date_message}}},
        {"has_date_eq", {"2026-02-30"}, {{"/args/0", date_message}}},
        {"has_date_gt", {"yesterday"}, {{"/args/0", date_message}}},
        {"has_date_gt", {}, {{"/args", "takes 1 argument"}}},
        {"has_time", {}, {}},
        {"has_time", {"10:30"}, {{"/args", "takes no arguments"}}},
        {"has_phone", {}, {}},
        {"has_phone", {"JO"}, {}},
        {"has_phone", {"ng"}, {}},
        {"has_phone", {"XX"}, {{"/args/0", "must be a country code such as \"JO\""}}},
        {"has_phone", {"Jordan"}, {{"/args/0", "must be a country code such as \"JO\""}}},
        {"has_phone", {"JO", "NG"}, {{"/args", "takes at most 1 argument"}}},
        {"has_email", {}, {}},
        {"has_email", {"x"}, {{"/args", "takes no arguments"}}},
        {"has_category", {"Success", "Failure"}, {}},
        {"has_category", {}, {{"/args", "takes at least 1 argument"}}},
        {"has_category", {"Success", " "}, {{"/args/1", "must not be empty"}}},
        {"has_group", {group_uuid}, {}},
        {"has_group", {group_uuid, "Testers"}, {}},
        {"has_group", {}, {{"/args", "takes 1 or 2 arguments"}}},
        {"has_group", {"a", "b", "c"}, {{"/args", "takes 1 or 2 arguments"}}},
        {"has_error", {}, {}},
        {"has_error", {"x"}, {{"/args", "takes no arguments"}}},
        {"has_dat", {}, {{"/test", "unknown test \"has_dat\""}}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.test + " with " + std::to_string(c.args.size()) + " argument(s)");
        EXPECT_EQ(check_test_arguments(c.test, c.args), c.problems);
    }
}

TEST(is_known_test, knows_rapidpro_tests_we_implement) {
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
        {"has_only_text", true},
        {"has_pattern", true},
        {"has_date", true},
        {"has_date_lt", true},
        {"has_date_eq", true},
        {"has_date_gt", true},
        {"has_time", true},
        {"has_phone", true},
        {"has_email", true},
        {"has_category", true},
        {"has_group", true},
        {"has_error", true},
        // Not (yet) ours: locations need an asset, intents a classifier; has_value is deprecated.
        {"has_state", false},
        {"has_district", false},
        {"has_ward", false},
        {"has_intent", false},
        {"has_value", false},
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
