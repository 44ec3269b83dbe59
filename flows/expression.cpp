#include "flows/expression.hpp"

#include <unicode/locid.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>

#include "common/types.hpp"

namespace flowgate::flows {

// Not in an anonymous namespace: expression::node (declared in the header) holds one.
namespace expression_detail {

struct value {
    enum class kind { text, number, boolean, error };
    kind k = kind::text;
    std::string text;
    double number = 0;
    bool boolean = false;

    static value of_text(std::string t) { return {kind::text, std::move(t), 0, false}; }
    static value of_number(double n) {
        if (!std::isfinite(n)) {
            return error();
        }
        return {kind::number, {}, n, false};
    }
    static value of_bool(bool b) { return {kind::boolean, {}, 0, b}; }
    static value error() { return {kind::error, {}, 0, false}; }
    bool is_error() const { return k == kind::error; }
};

}  // namespace expression_detail

using expression_detail::value;

namespace {

// ---- text and numbers ----------------------------------------------------------------------------

std::u32string decode(std::string_view s) {
    std::u32string out;
    const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
    const auto n = static_cast<std::int32_t>(std::min<std::size_t>(s.size(), INT32_MAX));
    std::int32_t i = 0;
    while (i < n) {
        UChar32 c = 0;
        U8_NEXT(p, i, n, c);
        out.push_back(c < 0 ? U'\uFFFD' : static_cast<char32_t>(c));
    }
    return out;
}

std::string encode(std::u32string_view s) {
    std::string out;
    for (const char32_t c : s) {
        std::uint8_t buf[4];
        std::int32_t len = 0;
        U8_APPEND_UNSAFE(buf, len, static_cast<UChar32>(c));
        out.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(len));
    }
    return out;
}

std::string format_number(double n) {
    if (n == 0) {
        return "0";  // also for -0
    }
    if (std::fabs(n) < 1e15 && n == std::trunc(n)) {
        return std::to_string(static_cast<long long>(n));
    }
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.15g", n);
    return buf;
}

std::string to_text(const value& v) {
    switch (v.k) {
        case value::kind::text:
            return v.text;
        case value::kind::number:
            return format_number(v.number);
        case value::kind::boolean:
            return v.boolean ? "true" : "false";
        case value::kind::error:
            return {};
    }
    return {};
}

// Arabic-Indic (٠-٩) and Eastern Arabic-Indic (۰-۹) digits count as digits: answers typed on
// Arabic keyboards are numbers too.
std::string ascii_digits(std::string_view s) {
    std::string out;
    for (const char32_t c : decode(s)) {
        if (c >= 0x0660 && c <= 0x0669) {
            out += static_cast<char>('0' + (c - 0x0660));
        } else if (c >= 0x06F0 && c <= 0x06F9) {
            out += static_cast<char>('0' + (c - 0x06F0));
        } else {
            out += encode(std::u32string_view(&c, 1));
        }
    }
    return out;
}

std::string_view trim_ascii(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
        s.remove_suffix(1);
    }
    return s;
}

std::optional<double> parse_number(std::string_view text) {
    const std::string ascii = ascii_digits(text);
    std::string_view s = trim_ascii(ascii);
    if (!s.empty() && s.front() == '+') {
        s.remove_prefix(1);
    }
    if (s.empty()) {
        return std::nullopt;
    }
    bool digit = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c >= '0' && c <= '9') {
            digit = true;
        } else if (!(c == '.' || (c == '-' && i == 0))) {
            return std::nullopt;  // no exponents, hex, "inf" or "nan": only what people write
        }
    }
    double d = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (!digit || ec != std::errc() || end != s.data() + s.size()) {
        return std::nullopt;
    }
    return d;
}

std::optional<double> to_number(const value& v) {
    if (v.k == value::kind::number) {
        return v.number;
    }
    if (v.k == value::kind::text) {
        return parse_number(v.text);
    }
    return std::nullopt;
}

std::optional<long long> to_integer(const value& v) {
    const auto n = to_number(v);
    if (!n || *n != std::trunc(*n) || std::fabs(*n) > 1e9) {
        return std::nullopt;
    }
    return static_cast<long long>(*n);
}

bool truthy(const value& v) {
    switch (v.k) {
        case value::kind::boolean:
            return v.boolean;
        case value::kind::number:
            return v.number != 0;
        case value::kind::text:
            return !v.text.empty() && ascii_lower(v.text) != "false";
        case value::kind::error:
            return false;
    }
    return false;
}

// ---- text functions ------------------------------------------------------------------------------

enum class case_map { upper, lower, title };

std::string map_case(const std::string& s, case_map m) {
    icu::UnicodeString u =
        icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
    switch (m) {
        case case_map::upper:
            u.toUpper(icu::Locale::getRoot());
            break;
        case case_map::lower:
            u.toLower(icu::Locale::getRoot());
            break;
        case case_map::title:
            u.toTitle(nullptr, icu::Locale::getRoot());
            break;
    }
    std::string out;
    u.toUTF8String(out);
    return out;
}

bool is_apostrophe(char32_t c) { return c == U'\'' || c == U'\u2019'; }

// Words are runs of anything but white space and punctuation; an apostrophe between two letters
// belongs to its word ("don't").
bool is_word_char(const std::u32string& s, std::size_t i) {
    const auto c = static_cast<UChar32>(s[i]);
    if (is_apostrophe(s[i])) {
        return i > 0 && i + 1 < s.size() && u_isalpha(static_cast<UChar32>(s[i - 1])) &&
               u_isalpha(static_cast<UChar32>(s[i + 1]));
    }
    return !u_isUWhiteSpace(c) && !u_ispunct(c) && !u_iscntrl(c);
}

// [start, end) of every word; with delimiters, words are what lies between them.
std::vector<std::pair<std::size_t, std::size_t>> words(const std::u32string& s,
                                                       const std::optional<std::u32string>& delimiters = {}) {
    const auto in_word = [&](std::size_t i) {
        return delimiters ? delimiters->find(s[i]) == std::u32string::npos : is_word_char(s, i);
    };
    std::vector<std::pair<std::size_t, std::size_t>> out;
    std::size_t i = 0;
    while (i < s.size()) {
        if (!in_word(i)) {
            ++i;
            continue;
        }
        const std::size_t start = i;
        while (i < s.size() && in_word(i)) {
            ++i;
        }
        out.emplace_back(start, i);
    }
    return out;
}

std::optional<std::u32string> delimiters_arg(const std::vector<value>& a, std::size_t index) {
    if (a.size() <= index) {
        return std::nullopt;
    }
    return decode(to_text(a[index]));
}

value trim_impl(const std::vector<value>& a, bool left, bool right) {
    const std::u32string s = decode(to_text(a[0]));
    const std::u32string chars = a.size() > 1 ? decode(to_text(a[1])) : std::u32string();
    const auto strip = [&](char32_t c) {
        return a.size() > 1 ? chars.find(c) != std::u32string::npos
                            : u_isUWhiteSpace(static_cast<UChar32>(c)) != 0;
    };
    std::size_t b = 0;
    std::size_t e = s.size();
    while (left && b < e && strip(s[b])) {
        ++b;
    }
    while (right && e > b && strip(s[e - 1])) {
        --e;
    }
    return value::of_text(encode(std::u32string_view(s).substr(b, e - b)));
}

// ---- dates ---------------------------------------------------------------------------------------

// ISO dates ("2026-03-05", "2026-03-05T09:30:00Z": the date as written, the time ignored) and
// day-first dates ("5-3-2026", "05/03/2026", "5.3.2026"), as contact fields hold them.
bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }

std::optional<std::chrono::year_month_day> parse_date(std::string_view text) {
    const std::string ascii = ascii_digits(text);
    const std::string_view s = trim_ascii(ascii);
    std::size_t i = 0;
    const auto digits = [&](std::size_t min, std::size_t max) -> std::optional<int> {
        const std::size_t start = i;
        while (i < s.size() && i - start < max && s[i] >= '0' && s[i] <= '9') {
            ++i;
        }
        if (i - start < min) {
            return std::nullopt;
        }
        return std::stoi(std::string(s.substr(start, i - start)));
    };
    const auto separator = [&](std::string_view allowed) {
        if (i < s.size() && allowed.find(s[i]) != std::string_view::npos) {
            ++i;
            return true;
        }
        return false;
    };
    std::optional<int> y, m, d;
    const bool iso = s.size() >= 5 && s[4] == '-';
    if (iso) {
        y = digits(4, 4);
        if (!y || !separator("-") || !(m = digits(1, 2)) || !separator("-") || !(d = digits(1, 2))) {
            return std::nullopt;
        }
    } else {
        d = digits(1, 2);
        if (!d || !separator("-/.") || !(m = digits(1, 2)) || !separator("-/.") || !(y = digits(4, 4))) {
            return std::nullopt;
        }
    }
    // A time may follow ("2026-03-05T09:30:00Z", "05-03-2026 09:30"); it does not change the date.
    if (i != s.size() && !((s[i] == 'T' || s[i] == ' ') && i + 1 < s.size() && is_ascii_digit(s[i + 1]))) {
        return std::nullopt;
    }
    const std::chrono::year_month_day ymd{std::chrono::year{*y},
                                          std::chrono::month{static_cast<unsigned>(*m)},
                                          std::chrono::day{static_cast<unsigned>(*d)}};
    if (!ymd.ok()) {
        return std::nullopt;
    }
    return ymd;
}

constexpr const char* month_names[] = {"January",
                                       "February",
                                       "March",
                                       "April",
                                       "May",
                                       "June",
                                       "July",
                                       "August",
                                       "September",
                                       "October",
                                       "November",
                                       "December"};
constexpr const char* day_names[] = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};

// RapidPro's date format letters: YY YYYY, M MM MMM MMMM, D DD, EEE EEEE; other characters are
// copied. nullopt: a letter run that is not one of those.
std::optional<std::string> format_date_with(std::string_view format, const std::chrono::year_month_day& ymd) {
    const int year = static_cast<int>(ymd.year());
    const unsigned month = static_cast<unsigned>(ymd.month());
    const unsigned day = static_cast<unsigned>(ymd.day());
    const unsigned weekday = std::chrono::weekday{std::chrono::sys_days{ymd}}.c_encoding();
    std::string out;
    char buf[16];
    std::size_t i = 0;
    while (i < format.size()) {
        const char c = format[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
            out += c;
            ++i;
            continue;
        }
        std::size_t run = 0;
        while (i + run < format.size() && format[i + run] == c) {
            ++run;
        }
        i += run;
        if (c == 'Y' && run == 4) {
            std::snprintf(buf, sizeof buf, "%04d", year);
        } else if (c == 'Y' && run == 2) {
            std::snprintf(buf, sizeof buf, "%02d", year % 100);
        } else if (c == 'M' && run <= 2) {
            std::snprintf(buf, sizeof buf, run == 1 ? "%u" : "%02u", month);
        } else if (c == 'M' && run == 3) {
            std::snprintf(buf, sizeof buf, "%.3s", month_names[month - 1]);
        } else if (c == 'M' && run == 4) {
            std::snprintf(buf, sizeof buf, "%s", month_names[month - 1]);
        } else if (c == 'D' && run <= 2) {
            std::snprintf(buf, sizeof buf, run == 1 ? "%u" : "%02u", day);
        } else if (c == 'E' && run == 3) {
            std::snprintf(buf, sizeof buf, "%.3s", day_names[weekday]);
        } else if (c == 'E' && run == 4) {
            std::snprintf(buf, sizeof buf, "%s", day_names[weekday]);
        } else {
            return std::nullopt;
        }
        out += buf;
    }
    return out;
}

bool is_valid_date_format(std::string_view format) {
    return format_date_with(format, std::chrono::year{2000} / 1 / 1).has_value();
}

constexpr std::string_view default_date_format = "DD-MM-YYYY";

// ---- the function table --------------------------------------------------------------------------

using args = std::vector<value>;

struct function_spec {
    std::size_t min_args;
    std::size_t max_args;
    value (*call)(const args&);  // nullptr: evaluated lazily by the evaluator (if)
    bool sees_errors = false;    // false: an error argument makes the result an error
};

value fn_length(const args& a) { return value::of_number(static_cast<double>(decode(to_text(a[0])).size())); }

value fn_word(const args& a) {
    const std::u32string s = decode(to_text(a[0]));
    const auto n = to_integer(a[1]);
    if (!n) {
        return value::error();
    }
    const auto w = words(s, delimiters_arg(a, 2));
    const long long index = *n < 0 ? static_cast<long long>(w.size()) + *n : *n;
    if (index < 0 || index >= static_cast<long long>(w.size())) {
        return value::error();
    }
    const auto [b, e] = w[static_cast<std::size_t>(index)];
    return value::of_text(encode(std::u32string_view(s).substr(b, e - b)));
}

value fn_remove_first_word(const args& a) {
    const std::u32string s = decode(to_text(a[0]));
    const auto w = words(s);
    if (w.size() < 2) {
        return value::of_text("");
    }
    return value::of_text(encode(std::u32string_view(s).substr(w[1].first)));
}

value fn_text_slice(const args& a) {
    const std::u32string s = decode(to_text(a[0]));
    const auto size = static_cast<long long>(s.size());
    const auto start = to_integer(a[1]);
    const auto end = a.size() > 2 ? to_integer(a[2]) : std::optional<long long>(size);
    if (!start || !end) {
        return value::error();
    }
    const auto clamp = [&](long long i) { return std::clamp(i < 0 ? size + i : i, 0LL, size); };
    const long long b = clamp(*start);
    const long long e = clamp(*end);
    if (e <= b) {
        return value::of_text("");
    }
    return value::of_text(
        encode(std::u32string_view(s).substr(static_cast<std::size_t>(b), static_cast<std::size_t>(e - b))));
}

value fn_left_right(const args& a, bool left) {
    const std::u32string s = decode(to_text(a[0]));
    const auto n = to_integer(a[1]);
    if (!n || *n < 0) {
        return value::error();
    }
    const std::size_t count = std::min(s.size(), static_cast<std::size_t>(*n));
    return value::of_text(encode(left ? std::u32string_view(s).substr(0, count)
                                      : std::u32string_view(s).substr(s.size() - count)));
}

value fn_replace(const args& a) {
    std::string s = to_text(a[0]);
    const std::string needle = to_text(a[1]);
    const std::string with = to_text(a[2]);
    if (needle.empty()) {
        return value::of_text(s);
    }
    std::string out;
    std::size_t pos = 0;
    for (std::size_t found; (found = s.find(needle, pos)) != std::string::npos; pos = found + needle.size()) {
        out.append(s, pos, found - pos);
        out += with;
    }
    out.append(s, pos);
    return value::of_text(out);
}

value fn_round(const args& a) {
    const auto n = to_number(a[0]);
    const auto places = a.size() > 1 ? to_integer(a[1]) : std::optional<long long>(0);
    if (!n || !places) {
        return value::error();
    }
    const double scale = std::pow(10.0, static_cast<double>(std::clamp(*places, -15LL, 15LL)));
    return value::of_number(std::round(*n * scale) / scale);
}

value fn_format_date(const args& a) {
    const auto date = parse_date(to_text(a[0]));
    if (!date) {
        return value::error();
    }
    const std::string format = a.size() > 1 ? to_text(a[1]) : std::string(default_date_format);
    const auto out = format_date_with(format, *date);
    return out ? value::of_text(*out) : value::error();
}

const std::map<std::string, function_spec, std::less<>>& function_table() {
    static const std::map<std::string, function_spec, std::less<>> table = {
        {"upper",
         {1, 1, [](const args& a) { return value::of_text(map_case(to_text(a[0]), case_map::upper)); }}},
        {"lower",
         {1, 1, [](const args& a) { return value::of_text(map_case(to_text(a[0]), case_map::lower)); }}},
        {"title",
         {1, 1, [](const args& a) { return value::of_text(map_case(to_text(a[0]), case_map::title)); }}},
        {"default",
         {2, 2, [](const args& a) { return a[0].is_error() || to_text(a[0]).empty() ? a[1] : a[0]; }, true}},
        {"if", {3, 3, nullptr}},
        {"and",
         {1,
          SIZE_MAX,
          [](const args& a) { return value::of_bool(std::all_of(a.begin(), a.end(), truthy)); }}},
        {"or",
         {1,
          SIZE_MAX,
          [](const args& a) { return value::of_bool(std::any_of(a.begin(), a.end(), truthy)); }}},
        {"not", {1, 1, [](const args& a) { return value::of_bool(!truthy(a[0])); }}},
        {"length", {1, 1, fn_length}},
        {"text_length", {1, 1, fn_length}},
        {"word", {2, 3, fn_word}},
        {"word_count",
         {1,
          2,
          [](const args& a) {
              return value::of_number(
                  static_cast<double>(words(decode(to_text(a[0])), delimiters_arg(a, 1)).size()));
          }}},
        {"remove_first_word", {1, 1, fn_remove_first_word}},
        {"left", {2, 2, [](const args& a) { return fn_left_right(a, true); }}},
        {"right", {2, 2, [](const args& a) { return fn_left_right(a, false); }}},
        {"text_slice", {2, 3, fn_text_slice}},
        {"trim", {1, 2, [](const args& a) { return trim_impl(a, true, true); }}},
        {"trim_left", {1, 2, [](const args& a) { return trim_impl(a, true, false); }}},
        {"trim_right", {1, 2, [](const args& a) { return trim_impl(a, false, true); }}},
        {"replace", {3, 3, fn_replace}},
        {"abs",
         {1,
          1,
          [](const args& a) {
              const auto n = to_number(a[0]);
              return n ? value::of_number(std::fabs(*n)) : value::error();
          }}},
        {"round", {1, 2, fn_round}},
        {"format_date", {1, 2, fn_format_date}},
    };
    return table;
}

std::string arguments_text(std::size_t n) {
    return std::to_string(n) + (n == 1 ? " argument" : " arguments");
}

// ---- lexer ---------------------------------------------------------------------------------------

enum class tok { number, text, name, lparen, rparen, comma, op, end, bad };

struct token {
    tok type;
    std::string text;  // names and operators as written; string literals unescaped; bad: the message
};

bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::vector<token> lex(std::string_view s) {
    std::vector<token> out;
    std::size_t i = 0;
    while (i < s.size()) {
        const char c = s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            ++i;
        } else if (is_name_start(c)) {
            // A dotted path is one token: contact.fields.age, results.1st_visit.category.
            const std::size_t start = i;
            while (i < s.size() && is_name_char(s[i])) {
                ++i;
            }
            while (i + 1 < s.size() && s[i] == '.' && is_name_char(s[i + 1])) {
                ++i;
                while (i < s.size() && is_name_char(s[i])) {
                    ++i;
                }
            }
            out.push_back({tok::name, std::string(s.substr(start, i - start))});
        } else if (is_digit(c)) {
            const std::size_t start = i;
            while (i < s.size() && is_digit(s[i])) {
                ++i;
            }
            if (i + 1 < s.size() && s[i] == '.' && is_digit(s[i + 1])) {
                ++i;
                while (i < s.size() && is_digit(s[i])) {
                    ++i;
                }
            }
            out.push_back({tok::number, std::string(s.substr(start, i - start))});
        } else if (c == '"') {
            std::string text;
            ++i;
            bool closed = false;
            while (i < s.size()) {
                if (s[i] == '"') {
                    closed = true;
                    ++i;
                    break;
                }
                if (s[i] == '\\' && i + 1 < s.size()) {
                    const char e = s[i + 1];
                    text += e == 'n' ? '\n' : e == 't' ? '\t' : e;
                    i += 2;
                    continue;
                }
                text += s[i++];
            }
            if (!closed) {
                out.push_back({tok::bad, "a text has no closing \""});
                return out;
            }
            out.push_back({tok::text, std::move(text)});
        } else if (c == '(') {
            out.push_back({tok::lparen, "("});
            ++i;
        } else if (c == ')') {
            out.push_back({tok::rparen, ")"});
            ++i;
        } else if (c == ',') {
            out.push_back({tok::comma, ","});
            ++i;
        } else if ((c == '!' || c == '<' || c == '>') && i + 1 < s.size() && s[i + 1] == '=') {
            out.push_back({tok::op, std::string(s.substr(i, 2))});
            i += 2;
        } else if (std::string_view("&+-*/^=<>").find(c) != std::string_view::npos) {
            out.push_back({tok::op, std::string(1, c)});
            ++i;
        } else {
            // One whole UTF-8 character, for the message.
            std::size_t len = 1;
            while (i + len < s.size() && (static_cast<unsigned char>(s[i + len]) & 0xC0) == 0x80) {
                ++len;
            }
            out.push_back({tok::bad, "unexpected \"" + std::string(s.substr(i, len)) + "\""});
            return out;
        }
    }
    out.push_back({tok::end, {}});
    return out;
}

}  // namespace

// ---- the tree ------------------------------------------------------------------------------------

struct expression::node {
    enum class kind { literal, path, call, negate, binary };
    kind k = kind::literal;
    value literal;
    expression_path path;
    std::string name;  // function (lower case) or operator
    std::vector<std::unique_ptr<node>> args;
};

namespace {

using node_ptr = std::unique_ptr<expression::node>;
using node_kind = expression::node::kind;

constexpr int max_depth = 50;
// Evaluation recurses once per node; a cap keeps "1+1+1+..." from exhausting a thread's stack.
constexpr std::size_t max_nodes = 500;

class parser {
   public:
    parser(std::vector<token> tokens, std::vector<std::string>& problems, std::vector<expression_path>& paths)
        : tokens_(std::move(tokens)), problems_(problems), paths_(paths) {}

    node_ptr parse_all() {
        if (peek().type == tok::end) {
            syntax_error("an empty expression");
            return nullptr;
        }
        node_ptr root = binary_level(0);
        if (root && peek().type != tok::end) {
            unexpected("an operator or the end");
        }
        return failed_ ? nullptr : std::move(root);
    }

   private:
    // Lowest first; every level is left-associative ("11 = 11 = 11" is "(11 = 11) = 11").
    static constexpr std::string_view levels[][4] = {
        {"=", "!="}, {"<", "<=", ">", ">="}, {"&"}, {"+", "-"}, {"*", "/"}, {"^"}};
    static constexpr int level_count = 6;

    const token& peek() const { return tokens_[pos_]; }

    node_ptr new_node() {
        if (++nodes_ > max_nodes) {
            syntax_error("the expression is too long");
            return nullptr;
        }
        return std::make_unique<expression::node>();
    }
    token next() { return tokens_[pos_ < tokens_.size() - 1 ? pos_++ : pos_]; }

    void syntax_error(const std::string& message) {
        if (!failed_) {
            problems_.push_back("syntax error: " + message);
        }
        failed_ = true;
    }

    void unexpected(const std::string& wanted) {
        const token& t = peek();
        if (t.type == tok::bad) {
            syntax_error(t.text);
        } else if (t.type == tok::end) {
            syntax_error("expected " + wanted + " at the end");
        } else {
            syntax_error("expected " + wanted + " before \"" + t.text + "\"");
        }
    }

    bool is_operator_of(int level) const {
        if (peek().type != tok::op) {
            return false;
        }
        for (const auto op : levels[level]) {
            if (!op.empty() && op == peek().text) {
                return true;
            }
        }
        return false;
    }

    node_ptr binary_level(int level) {
        if (level == level_count) {
            return unary();
        }
        node_ptr left = binary_level(level + 1);
        while (left && is_operator_of(level)) {
            auto n = new_node();
            if (!n) {
                return nullptr;
            }
            n->k = node_kind::binary;
            n->name = next().text;
            n->args.push_back(std::move(left));
            node_ptr right = binary_level(level + 1);
            if (!right) {
                return nullptr;
            }
            n->args.push_back(std::move(right));
            left = std::move(n);
        }
        return left;
    }

    node_ptr unary() {
        if (peek().type == tok::op && peek().text == "-") {
            next();
            if (++depth_ > max_depth) {
                syntax_error("nested too deeply");
                return nullptr;
            }
            node_ptr operand = unary();
            --depth_;
            if (!operand) {
                return nullptr;
            }
            auto n = new_node();
            if (!n) {
                return nullptr;
            }
            n->k = node_kind::negate;
            n->args.push_back(std::move(operand));
            return n;
        }
        return primary();
    }

    node_ptr primary() {
        const token t = peek();
        auto n = new_node();
        if (!n) {
            return nullptr;
        }
        switch (t.type) {
            case tok::number:
                next();
                n->literal = value::of_number(*parse_number(t.text));
                return n;
            case tok::text:
                next();
                n->literal = value::of_text(t.text);
                return n;
            case tok::lparen: {
                next();
                if (++depth_ > max_depth) {
                    syntax_error("nested too deeply");
                    return nullptr;
                }
                node_ptr inner = binary_level(0);
                --depth_;
                if (!inner) {
                    return nullptr;
                }
                if (peek().type != tok::rparen) {
                    unexpected("\")\"");
                    return nullptr;
                }
                next();
                return inner;
            }
            case tok::name:
                next();
                if (peek().type == tok::lparen) {
                    return call(t.text);
                }
                if (const std::string lower = ascii_lower(t.text); lower == "true" || lower == "false") {
                    n->literal = value::of_bool(lower == "true");
                    return n;
                } else if (lower == "null") {
                    n->literal = value::of_text("");
                    return n;
                }
                n->k = node_kind::path;
                for (std::size_t start = 0;;) {
                    const std::size_t dot = t.text.find('.', start);
                    n->path.push_back(t.text.substr(start, dot - start));
                    if (dot == std::string::npos) {
                        break;
                    }
                    start = dot + 1;
                }
                paths_.push_back(n->path);
                return n;
            default:
                unexpected("a value");
                return nullptr;
        }
    }

    node_ptr call(const std::string& written) {
        next();  // "("
        if (++depth_ > max_depth) {
            syntax_error("nested too deeply");
            return nullptr;
        }
        auto n = new_node();
        if (!n) {
            return nullptr;
        }
        n->k = node_kind::call;
        n->name = ascii_lower(written);
        if (peek().type != tok::rparen) {
            for (;;) {
                node_ptr arg = binary_level(0);
                if (!arg) {
                    return nullptr;
                }
                n->args.push_back(std::move(arg));
                if (peek().type == tok::comma) {
                    next();
                    continue;
                }
                if (peek().type != tok::rparen) {
                    unexpected("\",\" or \")\"");
                    return nullptr;
                }
                break;
            }
        }
        next();  // ")"
        --depth_;
        const auto& table = function_table();
        const auto it = table.find(n->name);
        if (it == table.end()) {
            problems_.push_back("unknown function \"" + written + "\"");
        } else if (n->args.size() < it->second.min_args || n->args.size() > it->second.max_args) {
            const function_spec& f = it->second;
            const std::string wanted = f.max_args == SIZE_MAX ? "at least " + arguments_text(f.min_args)
                                       : f.min_args == f.max_args
                                           ? arguments_text(f.min_args)
                                           : std::to_string(f.min_args) + " to " + arguments_text(f.max_args);
            problems_.push_back("function \"" + n->name + "\" takes " + wanted + ", not " +
                                std::to_string(n->args.size()));
        } else if (n->name == "format_date" && n->args.size() == 2 && n->args[1]->k == node_kind::literal &&
                   !is_valid_date_format(to_text(n->args[1]->literal))) {
            problems_.push_back("invalid date format \"" + to_text(n->args[1]->literal) +
                                "\" (use YYYY, YY, MMMM, MMM, MM, M, DD, D, EEEE, EEE)");
        }
        return n;
    }

    std::vector<token> tokens_;
    std::size_t pos_ = 0;
    int depth_ = 0;
    std::size_t nodes_ = 0;
    bool failed_ = false;
    std::vector<std::string>& problems_;
    std::vector<expression_path>& paths_;
};

value evaluate_node(const expression::node& n, const expression_resolver& resolve) {
    switch (n.k) {
        case node_kind::literal:
            return n.literal;
        case node_kind::path: {
            auto v = resolve(n.path);
            return v ? value::of_text(std::move(*v)) : value::error();
        }
        case node_kind::negate: {
            const auto x = to_number(evaluate_node(*n.args[0], resolve));
            return x ? value::of_number(-*x) : value::error();
        }
        case node_kind::call: {
            const auto it = function_table().find(n.name);
            if (it == function_table().end()) {
                return value::error();
            }
            if (n.name == "if") {
                const value cond = evaluate_node(*n.args[0], resolve);
                if (cond.is_error()) {
                    return cond;
                }
                return evaluate_node(*n.args[truthy(cond) ? 1 : 2], resolve);
            }
            args a;
            for (const auto& arg : n.args) {
                a.push_back(evaluate_node(*arg, resolve));
                if (a.back().is_error() && !it->second.sees_errors) {
                    return value::error();
                }
            }
            return it->second.call(a);
        }
        case node_kind::binary:
            break;
    }
    const value a = evaluate_node(*n.args[0], resolve);
    const value b = evaluate_node(*n.args[1], resolve);
    if (a.is_error() || b.is_error()) {
        return value::error();
    }
    const std::string& op = n.name;
    if (op == "&") {
        return value::of_text(to_text(a) + to_text(b));
    }
    const auto x = to_number(a);
    const auto y = to_number(b);
    if (op == "=" || op == "!=") {
        // Numbers compare as numbers ("1.0" = 1), anything else as text, case-sensitively.
        const bool equal = x && y ? *x == *y : to_text(a) == to_text(b);
        return value::of_bool(op == "=" ? equal : !equal);
    }
    if (!x || !y) {
        return value::error();
    }
    if (op == "<") {
        return value::of_bool(*x < *y);
    }
    if (op == "<=") {
        return value::of_bool(*x <= *y);
    }
    if (op == ">") {
        return value::of_bool(*x > *y);
    }
    if (op == ">=") {
        return value::of_bool(*x >= *y);
    }
    if (op == "+") {
        return value::of_number(*x + *y);
    }
    if (op == "-") {
        return value::of_number(*x - *y);
    }
    if (op == "*") {
        return value::of_number(*x * *y);
    }
    if (op == "/") {
        return *y == 0 ? value::error() : value::of_number(*x / *y);
    }
    return value::of_number(std::pow(*x, *y));  // "^"
}

}  // namespace

expression::expression() = default;
expression::expression(expression&&) noexcept = default;
expression& expression::operator=(expression&&) noexcept = default;
expression::~expression() = default;

expression expression::parse(std::string_view source) {
    expression e;
    parser p(lex(source), e.problems_, e.paths_);
    e.root_ = p.parse_all();
    return e;
}

std::optional<std::string> expression::evaluate(const expression_resolver& resolve) const {
    if (!root_ || !problems_.empty()) {
        return std::nullopt;
    }
    const value v = evaluate_node(*root_, resolve);
    if (v.is_error()) {
        return std::nullopt;
    }
    return to_text(v);
}

std::size_t expression_end(std::string_view text) {
    int depth = 1;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '"') {
            for (++i; i < text.size() && text[i] != '"'; ++i) {
                if (text[i] == '\\') {
                    ++i;
                }
            }
            if (i >= text.size()) {
                return std::string_view::npos;
            }
        } else if (c == '(') {
            ++depth;
        } else if (c == ')' && --depth == 0) {
            return i;
        }
    }
    return std::string_view::npos;
}

}  // namespace flowgate::flows
