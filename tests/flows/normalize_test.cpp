#include "flows/normalize.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace flowgate::flows {
namespace {

struct normalize_case {
    std::string label;
    std::string input;
    std::string expected;
};

TEST(normalize, folds_what_basic_phone_users_type) {
    const std::vector<normalize_case> cases = {
        {"ASCII digit stays", "3", "3"},
        {"Arabic-Indic digit", "\xD9\xA3", "3"},  // ٣
        {"Persian digit", "\xDB\xB3", "3"},       // ۳
        {"trailing full stop", "3.", "3"},
        {"surrounding spaces", " 3 ", "3"},
        {"tabs and newlines", "\t3\n", "3"},
        {"Arabic-Indic number", "\xD9\xA1\xD9\xA2", "12"},  // ١٢
        {"upper case", "AMMAN", "amman"},
        {"title case", "Amman", "amman"},
        {"circumflex", "Amm\xC3\xA2n", "amman"},  // Ammân
        {"combining accent", "Amma\xCC\x82n", "amman"},
        {"French accents", "\xC3\x89t\xC3\xA9", "ete"},  // Été
        {"German sharp s folds to ss",
         "Stra\xC3\x9F"
         "e",
         "strasse"},
        {"shadda removed",
         "\xD8\xB9\xD9\x85\xD9\x91\xD8\xA7\xD9\x86",
         "\xD8\xB9\xD9\x85\xD8\xA7\xD9\x86"},  // عمّان → عمان
        {"fatha and kasra removed",
         "\xD9\x85\xD9\x8E\xD8\xB1\xD9\x92\xD8\xAD\xD9\x8E\xD8\xA8\xD9\x8B\xD8\xA7",
         "\xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7"},  // مَرْحَبًا → مرحبا
        {"superscript alef removed",
         "\xD9\x87\xD9\xB0\xD8\xB0\xD8\xA7",
         "\xD9\x87\xD8\xB0\xD8\xA7"},  // هٰذا → هذا
        {"tatweel removed",
         "\xD8\xB9\xD9\x80\xD9\x80\xD9\x85\xD8\xA7\xD9\x86",
         "\xD8\xB9\xD9\x85\xD8\xA7\xD9\x86"},
        {"alef with hamza above",
         "\xD8\xA3\xD8\xAD\xD9\x85\xD8\xAF",
         "\xD8\xA7\xD8\xAD\xD9\x85\xD8\xAF"},  // أحمد
        {"alef with hamza below",
         "\xD8\xA5\xD8\xB1\xD8\xA8\xD8\xAF",
         "\xD8\xA7\xD8\xB1\xD8\xA8\xD8\xAF"},                                         // إربد
        {"alef with madda", "\xD8\xA2\xD9\x85\xD9\x86", "\xD8\xA7\xD9\x85\xD9\x86"},  // آمن
        {"ta marbuta reads as ha",
         "\xD9\x85\xD8\xAF\xD8\xB1\xD8\xB3\xD8\xA9",
         "\xD9\x85\xD8\xAF\xD8\xB1\xD8\xB3\xD9\x87"},  // مدرسة → مدرسه
        {"alef maqsura reads as ya", "\xD8\xB9\xD9\x84\xD9\x89", "\xD8\xB9\xD9\x84\xD9\x8A"},  // على → علي
        {"Persian yeh reads as Arabic ya", "\xD8\xB9\xD9\x84\xDB\x8C", "\xD8\xB9\xD9\x84\xD9\x8A"},
        {"RLM removed", "\xE2\x80\x8F\xD9\xA3", "3"},
        {"LRM and ALM removed",
         "\xE2\x80\x8E"
         "3\xD8\x9C",
         "3"},
        {"embedding and isolate marks removed",
         "\xE2\x80\xAB"
         "a\xE2\x80\xAC\xE2\x81\xA7"
         "b\xE2\x81\xA9",
         "ab"},
        {"runs of whitespace collapse", "  see   you\t\tthere  ", "see you there"},
        {"NBSP is whitespace",
         "a\xC2\xA0"
         "b",
         "a b"},
        {"leading and trailing punctuation trimmed", "\xC2\xBFsi?!", "si"},
        {"Arabic question mark trimmed",
         "\xD9\x86\xD8\xB9\xD9\x85\xD8\x9F",
         "\xD9\x86\xD8\xB9\xD9\x85"},                                              // نعم؟
        {"Arabic comma trimmed", "\xD8\x8C\xD9\x84\xD8\xA7", "\xD9\x84\xD8\xA7"},  // ،لا
        {"inner punctuation kept", "2.5", "2.5"},
        {"inner punctuation kept between words", "yes, please", "yes, please"},
        {"punctuation only becomes empty", "...", ""},
        {"empty stays empty", "", ""},
        {"fullwidth digits", "\xEF\xBC\x93", "3"},
        {"emoji kept", "\xF0\x9F\x91\x8D", "\xF0\x9F\x91\x8D"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        EXPECT_EQ(normalize(c.input), c.expected);
    }
}

// Pairs that must match each other once normalised (DESIGN.md §5's forgiving matching).
TEST(normalize, spellings_that_must_compare_equal) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"\xD8\xB9\xD9\x85\xD9\x91\xD8\xA7\xD9\x86", "\xD8\xB9\xD9\x85\xD8\xA7\xD9\x86"},  // عمّان / عمان
        {"\xD8\xA3\xD8\xAD\xD9\x85\xD8\xAF", "\xD8\xA7\xD8\xAD\xD9\x85\xD8\xAF"},  // أحمد / احمد
        {"\xD9\x85\xD8\xAF\xD8\xB1\xD8\xB3\xD8\xA9",
         "\xD9\x85\xD8\xAF\xD8\xB1\xD8\xB3\xD9\x87"},              // مدرسة / مدرسه
        {"\xD8\xB9\xD9\x84\xD9\x89", "\xD8\xB9\xD9\x84\xD9\x8A"},  // على / علي
        {"AMMAN", "amman"},
        {"Amm\xC3\xA2n", "amman"},
        {"\xD9\xA3", "3"},
        {"\xDB\xB3", "3"},
        {"3.", "3"},
        {" 3 ", "3"},
    };
    for (const auto& [a, b] : cases) {
        SCOPED_TRACE(a + " / " + b);
        EXPECT_EQ(normalize(a), normalize(b));
    }
    EXPECT_NE(normalize("amman"), normalize("irbid"));
}

TEST(normalize, answers_each_text_as_itself_whatever_came_before) {
    // Each thread remembers its last answer: asking for texts in any order, on two threads at
    // once, gives each its own answer, the same as on a thread that never asked before.
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"AMMAN", "amman"},
        {"Amman.", "amman"},
        {"AMMAN", "amman"},
        {"\xD9\xA3", "3"},
        {"", ""},
        {" 3 ", "3"},
        {"3", "3"},
        {"\xD9\xA3", "3"},
        {"Irbid", "irbid"},
        {"Irbid", "irbid"},
    };
    const auto ask_all = [&cases] {
        for (int round = 0; round < 50; ++round) {
            for (const auto& [input, expected] : cases) {
                if (normalize(input) != expected) {
                    return false;
                }
            }
        }
        return true;
    };
    bool other_thread = false;
    std::thread t([&] { other_thread = ask_all(); });
    const bool this_thread = ask_all();
    t.join();
    EXPECT_TRUE(this_thread);
    EXPECT_TRUE(other_thread);
}

struct tokenize_case {
    std::string label;
    std::string input;
    std::vector<std::string> tokens;
};

// Bytes as C escapes, for a failure's message.
std::string escaped(const std::string& s) {
    std::string out;
    for (const char c : s) {
        const auto b = static_cast<unsigned char>(c);
        if (b >= 0x20 && b < 0x7f && c != '\\') {
            out += c;
        } else {
            char hex[8];
            std::snprintf(hex, sizeof hex, "\\x%02x", b);
            out += hex;
        }
    }
    return out;
}

// ASCII text takes a shortcut past ICU. It must answer exactly as ICU does: on every string of
// up to two ASCII characters (control characters, NUL and DEL included), and on random longer ones.
TEST(normalize, ascii_shortcut_answers_as_icu_does) {
    std::vector<std::string> texts = {""};
    for (int a = 0; a < 128; ++a) {
        texts.emplace_back(1, static_cast<char>(a));
        for (int b = 0; b < 128; ++b) {
            texts.push_back({static_cast<char>(a), static_cast<char>(b)});
        }
    }
    std::mt19937 random(20261130);
    const std::string common = "aZ09 \t\n\r.,;:!?-+*/=<>()[]{}'\"@#$%^&_~`|\\\x01\x1c\x7f";
    for (int i = 0; i < 20000; ++i) {
        std::string t;
        const auto length = random() % 24;
        for (std::size_t k = 0; k < length; ++k) {
            t += i % 2 == 0 ? common[random() % common.size()] : static_cast<char>(random() % 128);
        }
        texts.push_back(std::move(t));
    }
    for (const auto& t : texts) {
        ASSERT_EQ(normalize(t), detail::normalize_by_icu(t)) << "\"" << escaped(t) << "\"";
        ASSERT_EQ(tokenize(t), detail::tokenize_by_icu(t)) << "\"" << escaped(t) << "\"";
        ASSERT_EQ(split_words(t), detail::split_words_by_icu(t)) << "\"" << escaped(t) << "\"";
    }
}

TEST(tokenize, splits_on_whitespace_and_punctuation_after_normalising) {
    const std::vector<tokenize_case> cases = {
        {"words", "Hello World", {"hello", "world"}},
        {"punctuation separates", "yes,no;maybe.ok", {"yes", "no", "maybe", "ok"}},
        {"Arabic comma and semicolon separate",
         "\xD9\x86\xD8\xB9\xD9\x85\xD8\x8C\xD9\x84\xD8\xA7\xD8\x9B"
         "1",
         {"\xD9\x86\xD8\xB9\xD9\x85", "\xD9\x84\xD8\xA7", "1"}},
        {"Arabic question mark separates",
         "\xD9\x86\xD8\xB9\xD9\x85\xD8\x9F\xD9\x84\xD8\xA7",
         {"\xD9\x86\xD8\xB9\xD9\x85", "\xD9\x84\xD8\xA7"}},
        {"digits are read as ASCII", "\xD9\xA1 \xDB\xB2", {"1", "2"}},
        {"a decimal splits into its digits", "2.5", {"2", "5"}},
        {"symbols separate", "yes+no", {"yes", "no"}},
        {"hyphen separates", "sign-up", {"sign", "up"}},
        {"only punctuation", "?!", {}},
        {"empty", "", {}},
        {"bidi marks inside a word vanish", "JO\xE2\x80\x8FIN", {"join"}},
        {"keyword with trailing text", "Join please!", {"join", "please"}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        EXPECT_EQ(tokenize(c.input), c.tokens);
    }
}

TEST(split_words, keeps_the_contacts_spelling) {
    const std::vector<tokenize_case> cases = {
        {"case kept", "I live in Amman.", {"I", "live", "in", "Amman"}},
        {"marks kept, bidi dropped",
         "\xE2\x80\x8F\xD8\xB9\xD9\x85\xD9\x91\xD8\xA7\xD9\x86",
         {"\xD8\xB9\xD9\x85\xD9\x91\xD8\xA7\xD9\x86"}},
        {"Arabic comma separates", "\xD9\xA1\xD8\x8C\xD9\xA2", {"\xD9\xA1", "\xD9\xA2"}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        EXPECT_EQ(split_words(c.input), c.tokens);
    }
}

}  // namespace
}  // namespace flowgate::flows
