#include "flows/expression.hpp"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace flowgate::flows {
namespace {

const std::map<std::string, std::string> variables = {
    {"contact.name", "rania al-khatib"},
    {"fields.age", "31"},
    {"fields.age_ar", "\xD9\xA3\xD9\xA1"},  // ٣١
    {"fields.empty", ""},
    {"fields.birthday", "1990-03-05"},
    {"fields.joined", "5/3/2026"},
    {"fields.stamp", "2026-11-29T03:22:04.000Z"},
    {"fields.ar", "أهلا وسهلا في عمان"},
    {"input.text", "  Join Amman, please!  "},
};

std::optional<std::string> lookup(const expression_path& path) {
    std::string key;
    for (const auto& part : path) {
        key += (key.empty() ? "" : ".") + part;
    }
    const auto it = variables.find(key);
    if (it == variables.end()) {
        return std::nullopt;
    }
    return it->second;
}

struct eval_case {
    std::string source;
    std::optional<std::string> expected;  // nullopt: a runtime error
};

void run_eval_cases(const std::vector<eval_case>& cases) {
    for (const auto& c : cases) {
        SCOPED_TRACE(c.source);
        const expression e = expression::parse(c.source);
        EXPECT_EQ(e.problems(), std::vector<std::string>{});
        EXPECT_EQ(e.evaluate(lookup), c.expected);
    }
}

const std::optional<std::string> error = std::nullopt;

TEST(expression, literals_and_operators) {
    run_eval_cases({
        {R"("hi")", "hi"},
        {R"("say \"hi\"")", "say \"hi\""},
        {"42", "42"},
        {"1.50", "1.5"},
        {"1 + 2 * 3", "7"},
        {"(1 + 2) * 3", "9"},
        {"10 / 4", "2.5"},
        {"7 - 10", "-3"},
        {"2 ^ 10", "1024"},
        {"-fields.age", "-31"},
        {"0.1 + 0.2", "0.3"},
        {"1 / 0", error},
        {"fields.age + 1", "32"},
        {"fields.age_ar + 1", "32"},
        {R"(1 + "x")", error},
        {R"("a" & "b" & 1)", "ab1"},
        {R"x(contact.name & " (" & fields.age & ")")x", "rania al-khatib (31)"},
        {"1 + 2 & 3", "33"},
        {"fields.age = 31", "true"},
        {R"(fields.age = "31.0")", "true"},
        {R"("abc" = "ABC")", "false"},
        {R"("abc" != "ABC")", "true"},
        {"fields.age >= 18", "true"},
        {"fields.age < 18", "false"},
        {"2 <= 2", "true"},
        {"3 > 2", "true"},
        {R"("abc" < 1)", error},
        {"11 = 11 = 11", "false"},
        {"true", "true"},
        {"FALSE", "false"},
        {R"(null & "x")", "x"},
        {"fields.unknown", error},
    });
}

TEST(expression, functions) {
    run_eval_cases({
        {"upper(contact.name)", "RANIA AL-KHATIB"},
        {R"(UPPER("x"))", "X"},
        {R"(lower("ÀBC"))", "àbc"},
        {"title(contact.name)", "Rania Al-Khatib"},
        {R"(title("HELLO WORLD"))", "Hello World"},
        {"upper(fields.ar)", "أهلا وسهلا في عمان"},
        {R"(default(fields.empty, "friend"))", "friend"},
        {R"(default(contact.name, "friend"))", "rania al-khatib"},
        {R"(default(format_date("soon"), "?"))", "?"},
        {"default(1 / 0, 0)", "0"},
        {R"(if(fields.age >= 18, "adult", "minor"))", "adult"},
        {R"(if(fields.empty, "yes", "no"))", "no"},
        {R"(if("false", 1, 2))", "2"},
        {R"(if(true, "ok", 1 / 0))", "ok"},
        {"if(1 / 0, 1, 2)", error},
        {R"(and(true, 1, "x"))", "true"},
        {R"(and(true, ""))", "false"},
        {R"(or(false, 0, "x"))", "true"},
        {R"(not(""))", "true"},
        {R"(length("سلام"))", "4"},
        {"length(fields.ar)", "18"},
        {R"(text_length(""))", "0"},
        {"word(input.text, 0)", "Join"},
        {"word(input.text, 1)", "Amman"},
        {"word(input.text, -1)", "please"},
        {"word(input.text, 3)", error},
        {R"(word(input.text, "x"))", error},
        {"word(fields.ar, 3)", "عمان"},
        {R"(word("don't stop", 0))", "don't"},
        {R"(word("a.b c,d", 1, ","))", "d"},
        {R"(word("a.b c,d", 0, " "))", "a.b"},
        {R"(word_count("a.b c,d", " "))", "2"},
        {"word_count(input.text)", "3"},
        {"word_count(fields.ar)", "4"},
        {"remove_first_word(input.text)", "Amman, please!  "},
        {R"(left("abcdef", 2))", "ab"},
        {R"(right("abcdef", 2))", "ef"},
        {"left(fields.ar, 4)", "أهلا"},
        {R"(right("ab", 5))", "ab"},
        {R"(left("ab", -1))", error},
        {R"(text_slice("hello", 1, 3))", "el"},
        {R"(text_slice("hello", -2))", "lo"},
        {"trim(input.text)", "Join Amman, please!"},
        {R"(trim("*=abc=*", "*="))", "abc"},
        {R"(trim_left("  a  "))", "a  "},
        {R"(trim_right("  a  "))", "  a"},
        {R"(replace("a-b-c", "-", " "))", "a b c"},
        {"abs(-3.5)", "3.5"},
        {"round(2.5)", "3"},
        {"round(1234.5678, 2)", "1234.57"},
    });
}

TEST(expression, format_date) {
    run_eval_cases({
        {"format_date(fields.birthday)", "05-03-1990"},
        {R"(format_date(fields.birthday, "D MMMM YYYY"))", "5 March 1990"},
        {R"(format_date(fields.birthday, "EEEE D MMM YY"))", "Monday 5 Mar 90"},
        {R"(format_date(fields.birthday, "EEE M/D"))", "Mon 3/5"},
        {R"(format_date(fields.joined, "YYYY-MM-DD"))", "2026-03-05"},
        {R"(format_date(fields.stamp, "DD/MM/YYYY"))", "29/11/2026"},
        {R"(format_date("٠٥-٠٣-١٩٩٠", "D/M/YYYY"))", "5/3/1990"},
        {R"(format_date(fields.birthday, "D MMMM، YYYY"))", "5 March، 1990"},
        {R"(format_date("2026-02-30"))", error},
        {R"(format_date("tomorrow"))", error},
        {R"(format_date("2026-03-05 later"))", error},
        {"format_date(fields.birthday, contact.name)", error},  // not a format: a runtime error
    });
}

TEST(expression, nesting) {
    run_eval_cases({
        {"upper(word(title(input.text), 1))", "AMMAN"},
        {R"(if(word_count(input.text) > 2, upper(left(contact.name, 1)) & right(contact.name, 6), "?"))",
         "Rkhatib"},
        {R"(default(word(fields.empty, 0), title(word(contact.name, 0))))", "Rania"},
        {"((((1))))", "1"},
        {"1" +
             [] {
                 std::string s;
                 for (int i = 0; i < 200; ++i) {
                     s += " + 1";
                 }
                 return s;
             }(),
         "201"},
    });
}

struct problem_case {
    std::string source;
    std::vector<std::string> problems;
};

TEST(expression, load_time_problems) {
    const std::string formats = " (use YYYY, YY, MMMM, MMM, MM, M, DD, D, EEEE, EEE)";
    const std::vector<problem_case> cases = {
        {"", {"syntax error: an empty expression"}},
        {"1 +", {"syntax error: expected a value at the end"}},
        {"1 + * 2", {"syntax error: expected a value before \"*\""}},
        {"1 == 1", {"syntax error: expected a value before \"=\""}},
        {"1 2", {"syntax error: expected an operator or the end before \"2\""}},
        {R"(upper("x")", {"syntax error: expected \",\" or \")\" at the end"}},
        {R"("abc)", {"syntax error: a text has no closing \""}},
        {"1 # 2", {"syntax error: unexpected \"#\""}},
        {"contact.", {"syntax error: unexpected \".\""}},
        {"uper(contact.name)", {"unknown function \"uper\""}},
        {"contact.name(1)", {"unknown function \"contact.name\""}},
        {"upper()", {"function \"upper\" takes 1 argument, not 0"}},
        {"upper(1, 2)", {"function \"upper\" takes 1 argument, not 2"}},
        {"word(input.text)", {"function \"word\" takes 2 to 3 arguments, not 1"}},
        {R"(text_slice("a"))", {"function \"text_slice\" takes 2 to 3 arguments, not 1"}},
        {"and()", {"function \"and\" takes at least 1 argument, not 0"}},
        {R"(format_date(fields.birthday, "YYYYYYY"))", {"invalid date format \"YYYYYYY\"" + formats}},
        {R"(format_date(fields.birthday, "DD-MM-YYYY hh:mm"))",
         {"invalid date format \"DD-MM-YYYY hh:mm\"" + formats}},
        {"uper(1) & lowr(2)", {"unknown function \"uper\"", "unknown function \"lowr\""}},
        {std::string(60, '(') + "1" + std::string(60, ')'), {"syntax error: nested too deeply"}},
        {std::string(60, '-') + "1", {"syntax error: nested too deeply"}},
        {"1" +
             [] {
                 std::string s;
                 for (int i = 0; i < 300; ++i) {
                     s += " + 1";
                 }
                 return s;
             }(),
         {"syntax error: the expression is too long"}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.source);
        const expression e = expression::parse(c.source);
        EXPECT_EQ(e.problems(), c.problems);
        EXPECT_EQ(e.evaluate(lookup), std::nullopt);  // an expression with problems never renders
    }
}

TEST(expression, lists_the_variables_it_reads) {
    const expression e =
        expression::parse("upper(contact.name) & fields.x & results.city.category & \"a.b\"");
    const std::vector<expression_path> expected = {
        {"contact", "name"}, {"fields", "x"}, {"results", "city", "category"}};
    EXPECT_EQ(e.paths(), expected);
}

TEST(expression_end, finds_the_closing_parenthesis) {
    EXPECT_EQ(expression_end("upper(x)) rest"), 8u);
    EXPECT_EQ(expression_end(R"x("a)b" & ")") rest)x"), 11u);
    EXPECT_EQ(expression_end(R"x("a\")" & x) rest)x"), 10u);
    EXPECT_EQ(expression_end("upper(x"), std::string_view::npos);
    EXPECT_EQ(expression_end(R"x("unclosed ) text)x"), std::string_view::npos);
}

}  // namespace
}  // namespace flowgate::flows
