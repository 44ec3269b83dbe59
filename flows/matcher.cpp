#include "flows/matcher.hpp"

#include <phonenumbers/phonenumberutil.h>
#include <unicode/regex.h>
#include <unicode/timezone.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <unordered_map>

#include "flows/icu_text.hpp"
#include "flows/normalize.hpp"

namespace flowgate::flows {

namespace {

using args_t = std::vector<std::string>;
using test_fn = std::function<std::optional<std::string>(std::string_view input, const args_t& args)>;

// A contact's word as written and the normalised tokens it stands for.
struct word {
    std::string raw;
    std::vector<std::string> tokens;
};

// A text's words, and all their tokens in order, as the word tests read them.
struct worded {
    std::vector<word> words;
    std::vector<std::string> tokens;
};

// The words of the last text asked, per thread. A router tests one message against each of its
// cases in turn, and each word test split it and normalised every word again (an ICU round trip a
// word): a router of four has_any_word cases did it four times. A pure function's memo, as
// normalize's: it changes no answer. Valid until the thread's next call.
const worded& words_of(std::string_view text) {
    thread_local std::string last;
    thread_local std::optional<worded> memo;
    if (!memo || last != text) {
        std::string asked(text);  // first: `text` may view what the memo holds
        worded w;
        for (auto& raw : split_words(asked)) {
            auto tokens = tokenize(raw);
            if (!tokens.empty()) {
                w.tokens.insert(w.tokens.end(), tokens.begin(), tokens.end());
                w.words.push_back({std::move(raw), std::move(tokens)});
            }
        }
        last = std::move(asked);
        memo = std::move(w);
    }
    return *memo;
}

// The tokens of a test's arguments, per thread. They come from the flow, so the same few recur
// for every message, and each was normalised again each time. A pure function's memo, bounded
// (emptied when full). Valid until the thread's next call.
const std::vector<std::string>& tokens_of(const args_t& args) {
    constexpr std::size_t capacity = 1024;
    thread_local std::unordered_map<std::string, std::vector<std::string>> memo;
    std::string key;
    for (const auto& a : args) {
        key += std::to_string(a.size());
        key += ':';
        key += a;
    }
    if (const auto it = memo.find(key); it != memo.end()) {
        return it->second;
    }
    std::vector<std::string> out;
    for (const auto& a : args) {
        for (auto& t : tokenize(a)) {
            out.push_back(std::move(t));
        }
    }
    if (memo.size() >= capacity) {
        memo.clear();
    }
    return memo.emplace(std::move(key), std::move(out)).first->second;
}

bool contains(const std::vector<std::string>& list, const std::string& s) {
    return std::find(list.begin(), list.end(), s) != list.end();
}

std::string join(const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& p : parts) {
        if (!out.empty()) {
            out += ' ';
        }
        out += p;
    }
    return out;
}

// The raw words whose tokens are flagged in `hit` (indexes into the flattened token list).
std::string raw_words_hit(const std::vector<word>& words, const std::vector<bool>& hit) {
    std::vector<std::string> raws;
    std::size_t t = 0;
    for (const auto& w : words) {
        bool any = false;
        for (std::size_t k = 0; k < w.tokens.size(); ++k, ++t) {
            any = any || hit[t];
        }
        if (any) {
            raws.push_back(w.raw);
        }
    }
    return join(raws);
}

// Numbers in arguments are plain ASCII decimals: "-3", "2.5".
std::optional<double> parse_number_arg(std::string_view s) {
    while (!s.empty() && s.front() == ' ') {
        s.remove_prefix(1);
    }
    while (!s.empty() && s.back() == ' ') {
        s.remove_suffix(1);
    }
    std::size_t i = 0;
    if (i < s.size() && s[i] == '-') {
        ++i;
    }
    const std::size_t int_start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        ++i;
    }
    if (i == int_start) {
        return std::nullopt;
    }
    if (i < s.size() && s[i] == '.') {
        const std::size_t frac_start = ++i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
            ++i;
        }
        if (i == frac_start) {
            return std::nullopt;
        }
    }
    if (i != s.size()) {
        return std::nullopt;
    }
    double value = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc{} || ptr != s.data() + s.size()) {
        return std::nullopt;
    }
    return value;
}

struct found_number {
    std::string text;  // as written, in ASCII digits: "3", "2.5"
    double value = 0;
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The first number in the text: normalisation has already turned Arabic-Indic and Persian digits
// into ASCII and trimmed a trailing full stop ("3."). The Arabic decimal separator ٫ counts as ".".
std::optional<found_number> first_number(std::string_view input) {
    const std::string text = normalize(input);
    static constexpr std::string_view arabic_decimal = "\xD9\xAB";  // U+066B
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (!is_digit(text[i])) {
            continue;
        }
        std::string written;
        // A minus sign counts only where it starts a word: "-5" but not "5-6"'s second number.
        if (i > 0 && text[i - 1] == '-' && (i == 1 || text[i - 2] == ' ')) {
            written += '-';
        }
        std::size_t j = i;
        while (j < text.size() && is_digit(text[j])) {
            written += text[j++];
        }
        std::size_t sep = 0;
        if (j < text.size() && text[j] == '.') {
            sep = 1;
        } else if (text.compare(j, arabic_decimal.size(), arabic_decimal) == 0) {
            sep = arabic_decimal.size();
        }
        if (sep != 0 && j + sep < text.size() && is_digit(text[j + sep])) {
            written += '.';
            j += sep;
            while (j < text.size() && is_digit(text[j])) {
                written += text[j++];
            }
        }
        double value = 0;
        const auto [ptr, ec] = std::from_chars(written.data(), written.data() + written.size(), value);
        if (ec != std::errc{}) {
            return std::nullopt;  // out of range: no sensible comparison
        }
        return found_number{written, value};
    }
    return std::nullopt;
}

// The text without surrounding whitespace and bidi marks, otherwise as written.
std::string trim_text(std::string_view text) {
    const icu::UnicodeString in =
        icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
    const auto blank = [](UChar32 c) {
        return u_isUWhiteSpace(c) || c == 0x200E || c == 0x200F || c == 0x061C ||
               (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069) || c == 0xFEFF;
    };
    int32_t start = 0;
    int32_t end = in.length();
    while (start < end && blank(in.char32At(start))) {
        start = in.moveIndex32(start, 1);
    }
    while (end > start && blank(in.char32At(in.moveIndex32(end, -1)))) {
        end = in.moveIndex32(end, -1);
    }
    std::string out;
    in.tempSubStringBetween(start, end).toUTF8String(out);
    return out;
}

std::optional<std::string> has_text(std::string_view input, const args_t&) {
    std::string trimmed = trim_text(input);
    if (trimmed.empty()) {
        return std::nullopt;
    }
    return trimmed;
}

std::optional<std::string> has_any_word(std::string_view input, const args_t& args) {
    const auto& wanted = tokens_of(args);
    const auto& [words, tokens] = words_of(input);
    std::vector<bool> hit(tokens.size());
    bool any = false;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        hit[i] = contains(wanted, tokens[i]);
        any = any || hit[i];
    }
    if (!any) {
        return std::nullopt;
    }
    return raw_words_hit(words, hit);
}

std::optional<std::string> has_all_words(std::string_view input, const args_t& args) {
    const auto& wanted = tokens_of(args);
    const auto& [words, tokens] = words_of(input);
    if (wanted.empty()) {
        return std::nullopt;
    }
    for (const auto& w : wanted) {
        if (!contains(tokens, w)) {
            return std::nullopt;
        }
    }
    std::vector<bool> hit(tokens.size());
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        hit[i] = contains(wanted, tokens[i]);
    }
    return raw_words_hit(words, hit);
}

std::optional<std::string> has_phrase(std::string_view input, const args_t& args) {
    const auto& phrase = tokens_of(args);
    const auto& [words, tokens] = words_of(input);
    if (phrase.empty()) {
        return std::string();
    }
    const auto it = std::search(tokens.begin(), tokens.end(), phrase.begin(), phrase.end());
    if (it == tokens.end()) {
        return std::nullopt;
    }
    std::vector<bool> hit(tokens.size());
    const auto start = static_cast<std::size_t>(it - tokens.begin());
    std::fill(hit.begin() + static_cast<std::ptrdiff_t>(start),
              hit.begin() + static_cast<std::ptrdiff_t>(start + phrase.size()),
              true);
    return raw_words_hit(words, hit);
}

std::optional<std::string> has_only_phrase(std::string_view input, const args_t& args) {
    const auto& [words, tokens] = words_of(input);
    if (tokens != tokens_of(args)) {
        return std::nullopt;
    }
    std::vector<std::string> raws;
    for (const auto& w : words) {
        raws.push_back(w.raw);
    }
    return join(raws);
}

// Code point boundaries of a UTF-8 string (continuation bytes are 10xxxxxx).
std::vector<std::size_t> boundaries(std::string_view s) {
    std::vector<std::size_t> out;
    for (std::size_t i = 1; i <= s.size(); ++i) {
        if (i == s.size() || (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
            out.push_back(i);
        }
    }
    return out;
}

std::optional<std::string> has_beginning(std::string_view input, const args_t& args) {
    if (args.empty()) {
        return std::nullopt;
    }
    const std::string text = normalize(input);
    const std::string beginning = normalize(args[0]);
    if (beginning.empty() || text.compare(0, beginning.size(), beginning) != 0) {
        return std::nullopt;
    }
    // Report the contact's own spelling: the shortest prefix of the input that normalises to the
    // beginning. Give up once the prefixes have clearly grown past it.
    for (std::size_t end : boundaries(input)) {
        const std::string prefix = normalize(input.substr(0, end));
        if (prefix == beginning) {
            return trim_text(input.substr(0, end));
        }
        if (prefix.size() > beginning.size() + 16) {
            break;
        }
    }
    return beginning;
}

using number_check = std::function<bool(double value, const std::vector<double>& bounds)>;

test_fn number_test(number_check check) {
    return [check](std::string_view input, const args_t& args) -> std::optional<std::string> {
        std::vector<double> bounds;
        for (const auto& a : args) {
            const auto n = parse_number_arg(a);
            if (!n) {
                return std::nullopt;
            }
            bounds.push_back(*n);
        }
        const auto found = first_number(input);
        if (!found || !check(found->value, bounds)) {
            return std::nullopt;
        }
        return found->text;
    };
}

// ---------------------------------------------------------------------------------------------
// Tests that need more than the text: a regular expression, a clock, a country, the contact.

using context_fn =
    std::function<std::optional<test_match>(std::string_view, const args_t&, const test_context&)>;

context_fn plain(test_fn fn) {
    return
        [fn](std::string_view input, const args_t& args, const test_context&) -> std::optional<test_match> {
            auto value = fn(input, args);
            if (!value) {
                return std::nullopt;
            }
            return test_match{std::move(*value), {}};
        };
}

using icu_text::to_unicode;
using icu_text::to_utf8;

// The marks normalize() drops too (bidi marks, zero-width characters, the BOM).
bool is_invisible(UChar32 c) {
    return c == 0x200E || c == 0x200F || c == 0x061C || (c >= 0x202A && c <= 0x202E) ||
           (c >= 0x2066 && c <= 0x2069) || (c >= 0x200B && c <= 0x200D) || c == 0x2060 || c == 0xFEFF;
}

// The text as written without invisible marks; with `fold_digits`, every decimal digit (Arabic-Indic
// ٣, Persian ۳, ...) as ASCII.
icu::UnicodeString cleaned(std::string_view text, bool fold_digits) {
    const icu::UnicodeString in = to_unicode(text);
    icu::UnicodeString out;
    for (int32_t i = 0; i < in.length(); i = in.moveIndex32(i, 1)) {
        UChar32 c = in.char32At(i);
        if (is_invisible(c)) {
            continue;
        }
        if (fold_digits && u_charType(c) == U_DECIMAL_DIGIT_NUMBER) {
            c = U'0' + u_charDigitValue(c);
        }
        out.append(c);
    }
    return out;
}

std::string trim_ascii(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
        s.remove_suffix(1);
    }
    return std::string(s);
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
    return to_unicode(a).caseCompare(to_unicode(b), U_FOLD_CASE_DEFAULT) == 0;
}

// A contact's answer can be long and a flow author's pattern can backtrack badly: a match that runs
// past this many steps of ICU's engine (on the order of milliseconds) counts as no match.
constexpr int32_t regex_time_limit = 200;

std::unique_ptr<icu::RegexPattern> compile(const icu::UnicodeString& pattern, uint32_t flags) {
    UErrorCode status = U_ZERO_ERROR;
    UParseError parse_error;
    std::unique_ptr<icu::RegexPattern> out(icu::RegexPattern::compile(pattern, flags, parse_error, status));
    if (U_FAILURE(status)) {
        return nullptr;
    }
    return out;
}

// RapidPro compiles a has_pattern argument trimmed and case-insensitive, with ^ and $ at line
// boundaries; an inline (?-i) makes it case-sensitive again.
std::unique_ptr<icu::RegexPattern> compile_user_pattern(std::string_view pattern) {
    const std::string trimmed = trim_ascii(pattern);
    if (trimmed.empty()) {
        return nullptr;
    }
    return compile(to_unicode(trimmed), UREGEX_CASE_INSENSITIVE | UREGEX_MULTILINE);
}

// One of our own patterns, compiled once (a compiled RegexPattern is immutable and thread-safe).
std::unique_ptr<const icu::RegexPattern> builtin(const char16_t* pattern) {
    auto compiled = compile(icu::UnicodeString(pattern), 0);
    if (!compiled) {
        std::abort();  // a bug in one of the patterns below
    }
    return compiled;
}

// The capture groups of the first match of `pattern` in `text` at or after `from`; empty when none.
struct regex_hit {
    std::vector<icu::UnicodeString> groups;  // [0] the whole match; unmatched groups are empty
    int32_t start = 0;
    int32_t end = 0;
};

std::optional<regex_hit> find_first(const icu::RegexPattern& pattern,
                                    const icu::UnicodeString& text,
                                    int32_t from = 0) {
    UErrorCode status = U_ZERO_ERROR;
    std::unique_ptr<icu::RegexMatcher> m(pattern.matcher(text, status));
    if (U_FAILURE(status)) {
        return std::nullopt;
    }
    m->setTimeLimit(regex_time_limit, status);
    if (!m->find(from, status) || U_FAILURE(status)) {
        return std::nullopt;
    }
    regex_hit hit;
    hit.start = m->start(status);
    hit.end = m->end(status);
    for (int32_t g = 0; g <= m->groupCount(); ++g) {
        hit.groups.push_back(m->start(g, status) < 0 ? icu::UnicodeString() : m->group(g, status));
    }
    if (U_FAILURE(status)) {
        return std::nullopt;
    }
    return hit;
}

// All matches, in order (for scanning candidates until one is valid).
std::vector<regex_hit> find_all(const icu::RegexPattern& pattern, const icu::UnicodeString& text) {
    std::vector<regex_hit> out;
    int32_t from = 0;
    while (from <= text.length()) {
        auto hit = find_first(pattern, text, from);
        if (!hit) {
            break;
        }
        from = hit->end > hit->start ? hit->end : hit->end + 1;
        out.push_back(std::move(*hit));
    }
    return out;
}

int to_int(const icu::UnicodeString& digits) {
    int value = 0;
    for (int32_t i = 0; i < digits.length(); ++i) {
        value = value * 10 + (digits[i] - u'0');
    }
    return value;
}

std::optional<test_match> has_only_text(std::string_view input, const args_t& args, const test_context&) {
    if (input != args[0]) {
        return std::nullopt;
    }
    return test_match{std::string(input), {}};
}

std::optional<test_match> has_pattern(std::string_view input, const args_t& args, const test_context&) {
    const auto pattern = compile_user_pattern(args[0]);
    if (!pattern) {
        return std::nullopt;
    }
    const auto hit = find_first(*pattern, cleaned(input, true));
    if (!hit) {
        return std::nullopt;
    }
    test_match out{to_utf8(hit->groups[0]), {}};
    for (std::size_t g = 0; g < hit->groups.size(); ++g) {
        out.extra[std::to_string(g)] = to_utf8(hit->groups[g]);
    }
    return out;
}

// --- dates and times

using std::chrono::days;
using std::chrono::milliseconds;
using std::chrono::sys_days;
using std::chrono::year_month_day;

constexpr std::int64_t ms_per_day = 24LL * 60 * 60 * 1000;

struct time_of_day {
    int hour = 0;
    int minute = 0;
    int second = 0;
    int millis = 0;
};

std::optional<year_month_day> make_date(int y, int m, int d) {
    if (m < 1 || m > 12 || d < 1 || d > 31) {
        return std::nullopt;
    }
    const year_month_day ymd{std::chrono::year{y},
                             std::chrono::month{static_cast<unsigned>(m)},
                             std::chrono::day{static_cast<unsigned>(d)}};
    if (!ymd.ok()) {
        return std::nullopt;
    }
    return ymd;
}

std::unique_ptr<icu::TimeZone> zone_of(const test_context& ctx) {
    std::unique_ptr<icu::TimeZone> tz(icu::TimeZone::createTimeZone(to_unicode(ctx.timezone)));
    if (*tz == icu::TimeZone::getUnknown()) {
        tz.reset(icu::TimeZone::getGMT()->clone());
    }
    return tz;
}

// Milliseconds to add to UTC to get the wall clock; `local` says `ms` is already wall-clock time.
std::int64_t utc_offset(const icu::TimeZone& tz, std::int64_t ms, bool local) {
    UErrorCode status = U_ZERO_ERROR;
    int32_t raw = 0;
    int32_t dst = 0;
    tz.getOffset(static_cast<UDate>(ms), local, raw, dst, status);
    return U_FAILURE(status) ? 0 : static_cast<std::int64_t>(raw) + dst;
}

// The wall-clock date and time of `now` where the deployment is.
struct local_now {
    year_month_day date;
    time_of_day time;
};

std::optional<local_now> local_time(const test_context& ctx) {
    if (!ctx.now) {
        return std::nullopt;
    }
    const auto tz = zone_of(ctx);
    const std::int64_t utc = to_millis(*ctx.now);
    const std::int64_t wall = utc + utc_offset(*tz, utc, false);
    std::int64_t day = wall / ms_per_day;
    std::int64_t in_day = wall % ms_per_day;
    if (in_day < 0) {
        in_day += ms_per_day;
        --day;
    }
    local_now out{year_month_day{sys_days{days{day}}}, {}};
    out.time.hour = static_cast<int>(in_day / 3'600'000);
    out.time.minute = static_cast<int>(in_day / 60'000 % 60);
    out.time.second = static_cast<int>(in_day / 1000 % 60);
    out.time.millis = static_cast<int>(in_day % 1000);
    return out;
}

std::string two(int v) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%02d", v);
    return buf;
}

// RapidPro's time value: "15:04:05.000000".
std::string format_time(const time_of_day& t) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%06d", t.hour, t.minute, t.second, t.millis * 1000);
    return buf;
}

// RapidPro's datetime value: "2006-01-02T15:04:05.000000-07:00", in the deployment's timezone.
std::string format_datetime(const year_month_day& d, const time_of_day& t, const test_context& ctx) {
    const std::int64_t wall = sys_days{d}.time_since_epoch().count() * ms_per_day + t.hour * 3'600'000LL +
                              t.minute * 60'000LL + t.second * 1000LL + t.millis;
    const std::int64_t offset_minutes = utc_offset(*zone_of(ctx), wall, true) / 60'000;
    const std::int64_t abs_offset = offset_minutes < 0 ? -offset_minutes : offset_minutes;
    char buf[16];
    std::snprintf(buf,
                  sizeof buf,
                  "%04d-%02u-%02u",
                  static_cast<int>(d.year()),
                  static_cast<unsigned>(d.month()),
                  static_cast<unsigned>(d.day()));
    return std::string(buf) + "T" + format_time(t) + (offset_minutes < 0 ? "-" : "+") +
           two(static_cast<int>(abs_offset / 60)) + ":" + two(static_cast<int>(abs_offset % 60));
}

// Times people write: "10:30", "10.30", "10:30:45", "10h30", "10am", "10 p.m.", "٣ مساءً" (digits and
// case already folded, harakat removed by normalize()). Hour-only needs a marker.
const icu::RegexPattern& time_pattern() {
    static const auto p = builtin(
        u"(?<![0-9:.])([0-9]{1,2})(?:[:.h]([0-9]{2})(?:[:.]([0-9]{2}))?)?(?![0-9])"
        u"(?:\\s*(a\\.?m\\.?|p\\.?m\\.?|\u0635\u0628\u0627\u062D\u0627|\u0635\u0628\u0627\u062D|"
        u"\u0635|\u0645\u0633\u0627\u0621\u0627|\u0645\u0633\u0627\u0621|\u0644\u064A\u0644\u0627|"
        u"\u0645)(?![\\p{L}\\p{N}]))?");
    return *p;
}

bool is_am(const icu::UnicodeString& marker) {
    return marker.startsWith(u"a") || marker.startsWith(u"\u0635");
}

// The first valid time in `text` (normalised). A bare hour counts only when `bare_hour_ok` and it
// is all there is ("10", "٣").
std::optional<time_of_day> find_time(const icu::UnicodeString& text, bool bare_hour_ok) {
    for (const auto& hit : find_all(time_pattern(), text)) {
        const bool has_minutes = !hit.groups[2].isEmpty();
        const icu::UnicodeString& marker = hit.groups[4];
        if (!has_minutes && marker.isEmpty() &&
            !(bare_hour_ok && hit.start == 0 && hit.end == text.length())) {
            continue;
        }
        time_of_day t{to_int(hit.groups[1]),
                      has_minutes ? to_int(hit.groups[2]) : 0,
                      hit.groups[3].isEmpty() ? 0 : to_int(hit.groups[3]),
                      0};
        if (t.minute > 59 || t.second > 59) {
            continue;
        }
        if (!marker.isEmpty()) {
            if (t.hour < 1 || t.hour > 12) {
                continue;
            }
            if (is_am(marker)) {
                t.hour = t.hour == 12 ? 0 : t.hour;
            } else if (t.hour < 12) {
                t.hour += 12;
            }
        } else if (t.hour == 24 && t.minute == 0 && t.second == 0) {
            t.hour = 0;  // 24:00 is midnight
        } else if (t.hour > 23) {
            continue;
        }
        return t;
    }
    return std::nullopt;
}

std::optional<test_match> has_time(std::string_view input, const args_t&, const test_context&) {
    const auto t = find_time(to_unicode(normalize(input)), true);
    if (!t) {
        return std::nullopt;
    }
    return test_match{format_time(*t), {}};
}

// Separators between day, month and year: - . / \ _ space, and the Arabic date separator ؍.
const icu::RegexPattern& iso_date_pattern() {
    static const auto p =
        builtin(u"(?<![0-9])([0-9]{4})[-./\\\\\u060D]([0-9]{1,2})[-./\\\\\u060D]([0-9]{1,2})(?![0-9])");
    return *p;
}

const icu::RegexPattern& short_date_pattern() {
    static const auto p = builtin(
        u"(?<![0-9])([0-9]{1,2})[-./\\\\_ \u060D]([0-9]{1,2})[-./\\\\_ \u060D]([0-9]{4}|[0-9]{2})(?![0-9])");
    return *p;
}

struct found_date {
    year_month_day date;
    int32_t start = 0;
    int32_t end = 0;  // where the rest of the text (perhaps a time) begins
};

// Two-digit years: 20YY up to 20 years ahead of this year, else 19YY ("85" is 1985).
int full_year(int two_digit, const std::optional<local_now>& now) {
    const int this_year = now ? static_cast<int>(now->date.year()) : 2000;
    const int pivot = (this_year % 100) + 20;
    return two_digit <= pivot ? 2000 + two_digit : 1900 + two_digit;
}

// The first date in `text` (normalised): year-first "2026-12-25" always; otherwise day-first
// "25/12/2026" or, with day_first false, month-first "12/25/2026".
std::optional<found_date> find_date(const icu::UnicodeString& text,
                                    const test_context& ctx,
                                    const std::optional<local_now>& now) {
    std::optional<found_date> best;
    for (const auto& hit : find_all(iso_date_pattern(), text)) {
        if (auto d = make_date(to_int(hit.groups[1]), to_int(hit.groups[2]), to_int(hit.groups[3]))) {
            best = found_date{*d, hit.start, hit.end};
            break;
        }
    }
    for (const auto& hit : find_all(short_date_pattern(), text)) {
        if (best && hit.start >= best->start) {
            break;
        }
        const int first = to_int(hit.groups[1]);
        const int second = to_int(hit.groups[2]);
        int year = to_int(hit.groups[3]);
        if (hit.groups[3].length() == 2) {
            year = full_year(year, now);
        }
        const auto d = ctx.day_first ? make_date(year, second, first) : make_date(year, first, second);
        if (d) {
            best = found_date{*d, hit.start, hit.end};
            break;
        }
    }
    return best;
}

// A date argument: "2026-12-25", "today" or "tomorrow" (the latter two need `now`).
std::optional<year_month_day> date_argument(std::string_view arg, const std::optional<local_now>& now) {
    const std::string a = trim_ascii(arg);
    if (equal_ignoring_case(a, "today") || equal_ignoring_case(a, "tomorrow")) {
        if (!now) {
            return std::nullopt;
        }
        return year_month_day{sys_days{now->date} + days{equal_ignoring_case(a, "today") ? 0 : 1}};
    }
    if (a.size() != 10 || a[4] != '-' || a[7] != '-') {
        return std::nullopt;
    }
    for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
        if (!is_digit(a[i])) {
            return std::nullopt;
        }
    }
    return make_date(std::stoi(a.substr(0, 4)), std::stoi(a.substr(5, 2)), std::stoi(a.substr(8, 2)));
}

using date_check = std::function<bool(const year_month_day& value, const year_month_day& bound)>;

context_fn date_test(date_check check) {
    return [check](std::string_view input,
                   const args_t& args,
                   const test_context& ctx) -> std::optional<test_match> {
        const auto now = local_time(ctx);
        std::optional<year_month_day> bound;
        if (!args.empty()) {
            bound = date_argument(args[0], now);
            if (!bound) {
                return std::nullopt;
            }
        }
        const icu::UnicodeString text = to_unicode(normalize(input));
        const auto found = find_date(text, ctx, now);
        if (!found || (bound && !check(found->date, *bound))) {
            return std::nullopt;
        }
        // As RapidPro: a time written after the date is kept, otherwise the time of day is now's.
        auto time = find_time(text.tempSubString(found->end), false);
        if (!time) {
            time = now ? now->time : time_of_day{};
        }
        return test_match{format_datetime(found->date, *time, ctx), {}};
    };
}

// --- phones, emails, categories, groups, errors

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

std::string region_of(std::string_view country) {
    std::string out = trim_ascii(country);
    for (char& c : out) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return out;
}

bool known_region(const std::string& region) {
    return region.size() == 2 && PhoneNumberUtil::GetInstance()->GetCountryCodeForRegion(region) != 0;
}

// Runs of what a phone number is written with; each is tried until one is a valid number.
const icu::RegexPattern& phone_candidate_pattern() {
    static const auto p = builtin(u"\\+?[0-9(][0-9 .\\-()]{4,}");
    return *p;
}

std::optional<test_match> has_phone(std::string_view input, const args_t& args, const test_context& ctx) {
    std::string region = region_of(args.empty() ? std::string_view(ctx.default_country) : args[0]);
    if (!args.empty() && !known_region(region)) {
        return std::nullopt;
    }
    if (!known_region(region)) {
        region = "ZZ";  // no default country: only numbers written with +
    }
    const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
    for (const auto& hit : find_all(phone_candidate_pattern(), cleaned(input, true))) {
        const std::string candidate = trim_ascii(to_utf8(hit.groups[0]));
        if (candidate.size() > 64) {
            continue;
        }
        PhoneNumber parsed;
        if (util.Parse(candidate, region, &parsed) != PhoneNumberUtil::NO_PARSING_ERROR ||
            !util.IsValidNumber(parsed)) {
            continue;
        }
        std::string e164;
        util.Format(parsed, PhoneNumberUtil::E164, &e164);
        return test_match{e164, {}};
    }
    return std::nullopt;
}

// name@domain.tld with letters and digits of any script; the address is returned as written.
const icu::RegexPattern& email_pattern() {
    static const auto p = builtin(
        u"[\\p{L}\\p{N}][\\p{L}\\p{N}._%+\\-]*@[\\p{L}\\p{N}](?:[\\p{L}\\p{N}\\-]*[\\p{L}\\p{N}])?"
        u"(?:\\.[\\p{L}\\p{N}](?:[\\p{L}\\p{N}\\-]*[\\p{L}\\p{N}])?)+");
    return *p;
}

std::optional<test_match> has_email(std::string_view input, const args_t&, const test_context&) {
    const auto hit = find_first(email_pattern(), cleaned(input, false));
    if (!hit) {
        return std::nullopt;
    }
    return test_match{to_utf8(hit->groups[0]), {}};
}

std::optional<test_match> has_category(std::string_view input, const args_t& args, const test_context&) {
    const std::string category = trim_text(input);
    if (category.empty()) {
        return std::nullopt;
    }
    for (const auto& a : args) {
        if (equal_ignoring_case(category, trim_text(a))) {
            return test_match{category, {}};
        }
    }
    return std::nullopt;
}

std::optional<test_match> has_group(std::string_view, const args_t& args, const test_context& ctx) {
    if (ctx.groups == nullptr) {
        return std::nullopt;
    }
    for (const auto& group : *ctx.groups) {
        for (const auto& a : args) {
            if (!trim_text(a).empty() && equal_ignoring_case(trim_text(group), trim_text(a))) {
                // RapidPro's match is the group, which reads as its name.
                return test_match{args.size() == 2 ? trim_text(args[1]) : trim_text(group), {}};
            }
        }
    }
    return std::nullopt;
}

std::optional<test_match> has_error(std::string_view, const args_t&, const test_context& ctx) {
    if (!ctx.operand_error) {
        return std::nullopt;
    }
    return test_match{*ctx.operand_error, {}};
}

enum class arg_kind { words, number, any, text, pattern, date, country };

struct test_spec {
    std::string_view name;
    std::size_t min_args;
    std::size_t max_args;
    arg_kind kind;
    context_fn run;
};

constexpr std::size_t any_count = std::numeric_limits<std::size_t>::max();

bool always(const year_month_day&, const year_month_day&) { return true; }

// The router tests this engine knows. A new test is one more line here.
const std::vector<test_spec>& tests() {
    static const std::vector<test_spec> table = {
        {"has_text", 0, 0, arg_kind::words, plain(has_text)},
        {"has_only_text", 1, 1, arg_kind::any, has_only_text},
        {"has_any_word", 1, any_count, arg_kind::words, plain(has_any_word)},
        {"has_all_words", 1, any_count, arg_kind::words, plain(has_all_words)},
        {"has_phrase", 1, 1, arg_kind::words, plain(has_phrase)},
        {"has_only_phrase", 1, 1, arg_kind::words, plain(has_only_phrase)},
        {"has_beginning", 1, 1, arg_kind::words, plain(has_beginning)},
        {"has_pattern", 1, 1, arg_kind::pattern, has_pattern},
        {"has_number", 0, 0, arg_kind::number, plain(number_test([](double, const auto&) { return true; }))},
        {"has_number_between", 2, 2, arg_kind::number, plain(number_test([](double v, const auto& b) {
             return v >= b[0] && v <= b[1];
         }))},
        {"has_number_lt", 1, 1, arg_kind::number, plain(number_test([](double v, const auto& b) {
             return v < b[0];
         }))},
        {"has_number_lte", 1, 1, arg_kind::number, plain(number_test([](double v, const auto& b) {
             return v <= b[0];
         }))},
        {"has_number_eq", 1, 1, arg_kind::number, plain(number_test([](double v, const auto& b) {
             return v == b[0];
         }))},
        {"has_number_gte", 1, 1, arg_kind::number, plain(number_test([](double v, const auto& b) {
             return v >= b[0];
         }))},
        {"has_number_gt", 1, 1, arg_kind::number, plain(number_test([](double v, const auto& b) {
             return v > b[0];
         }))},
        {"has_date", 0, 0, arg_kind::date, date_test(always)},
        {"has_date_lt", 1, 1, arg_kind::date, date_test([](const auto& v, const auto& b) { return v < b; })},
        {"has_date_eq", 1, 1, arg_kind::date, date_test([](const auto& v, const auto& b) { return v == b; })},
        {"has_date_gt", 1, 1, arg_kind::date, date_test([](const auto& v, const auto& b) { return v > b; })},
        {"has_time", 0, 0, arg_kind::any, has_time},
        {"has_phone", 0, 1, arg_kind::country, has_phone},
        {"has_email", 0, 0, arg_kind::any, has_email},
        {"has_category", 1, any_count, arg_kind::text, has_category},
        {"has_group", 1, 2, arg_kind::text, has_group},
        {"has_error", 0, 0, arg_kind::any, has_error},
    };
    return table;
}

const test_spec* find_test(std::string_view type) {
    for (const auto& t : tests()) {
        if (t.name == type) {
            return &t;
        }
    }
    return nullptr;
}

std::string arguments(std::size_t n) { return std::to_string(n) + (n == 1 ? " argument" : " arguments"); }

std::string count_message(const test_spec& t) {
    if (t.max_args == any_count) {
        return "takes at least " + arguments(t.min_args);
    }
    if (t.max_args == 0) {
        return "takes no arguments";
    }
    if (t.min_args == t.max_args) {
        return "takes " + arguments(t.max_args);
    }
    if (t.min_args == 0) {
        return "takes at most " + arguments(t.max_args);
    }
    const char* joint = t.max_args == t.min_args + 1 ? " or " : " to ";
    return "takes " + std::to_string(t.min_args) + joint + arguments(t.max_args);
}

// The problem with one argument of a test, if any.
std::optional<std::string> argument_problem(arg_kind kind, const std::string& arg) {
    switch (kind) {
        case arg_kind::words:
            // An argument that normalises to nothing could never match anything.
            return tokenize(arg).empty() ? std::optional<std::string>("must contain a word") : std::nullopt;
        case arg_kind::number:
            return parse_number_arg(arg) ? std::nullopt : std::optional<std::string>("must be a number");
        case arg_kind::any:
            return std::nullopt;
        case arg_kind::text:
            return trim_text(arg).empty() ? std::optional<std::string>("must not be empty") : std::nullopt;
        case arg_kind::pattern:
            if (trim_ascii(arg).empty()) {
                return "must not be empty";
            }
            return compile_user_pattern(arg)
                       ? std::nullopt
                       : std::optional<std::string>("must be a valid regular expression");
        case arg_kind::date: {
            // "today" and "tomorrow" are checked with a clock; any day will do here.
            const local_now someday{year_month_day{sys_days{days{0}}}, {}};
            return date_argument(arg, someday)
                       ? std::nullopt
                       : std::optional<std::string>(
                             R"(must be a date such as "2026-12-25", "today" or "tomorrow")");
        }
        case arg_kind::country:
            return known_region(region_of(arg))
                       ? std::nullopt
                       : std::optional<std::string>(R"(must be a country code such as "JO")");
    }
    return std::nullopt;
}

}  // namespace

bool is_known_test(std::string_view type) { return find_test(type) != nullptr; }

flowgate::problems check_test_arguments(std::string_view type, const std::vector<std::string>& args) {
    const test_spec* t = find_test(type);
    if (t == nullptr) {
        return {{"/test", "unknown test \"" + std::string(type) + "\""}};
    }
    if (args.size() < t->min_args || args.size() > t->max_args) {
        return {{"/args", count_message(*t)}};
    }
    flowgate::problems out;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (auto message = argument_problem(t->kind, args[i])) {
            out.push_back({"/args/" + std::to_string(i), std::move(*message)});
        }
    }
    if (type == "has_number_between" && out.empty() &&
        *parse_number_arg(args[1]) < *parse_number_arg(args[0])) {
        out.push_back({"/args/1", "must not be less than the minimum"});
    }
    return out;
}

std::optional<test_match> match_test(std::string_view type,
                                     std::string_view input,
                                     const std::vector<std::string>& args,
                                     const test_context& context) {
    const test_spec* t = find_test(type);
    if (t == nullptr || args.size() < t->min_args || args.size() > t->max_args) {
        return std::nullopt;
    }
    return t->run(input, args, context);
}

std::optional<std::string> run_test(std::string_view type,
                                    std::string_view input,
                                    const std::vector<std::string>& args,
                                    const test_context& context) {
    auto match = match_test(type, input, args, context);
    if (!match) {
        return std::nullopt;
    }
    return std::move(match->value);
}

std::optional<std::string> run_test(std::string_view type,
                                    std::string_view input,
                                    const std::vector<std::string>& args) {
    return run_test(type, input, args, test_context{});
}

}  // namespace flowgate::flows
