#include "flows/matcher.hpp"

#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <limits>
#include <set>

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

std::vector<word> words_of(std::string_view text) {
    std::vector<word> out;
    for (auto& raw : split_words(text)) {
        auto tokens = tokenize(raw);
        if (!tokens.empty()) {
            out.push_back({std::move(raw), std::move(tokens)});
        }
    }
    return out;
}

std::vector<std::string> tokens_of(const args_t& args) {
    std::vector<std::string> out;
    for (const auto& a : args) {
        for (auto& t : tokenize(a)) {
            out.push_back(std::move(t));
        }
    }
    return out;
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

std::vector<std::string> flatten(const std::vector<word>& words) {
    std::vector<std::string> out;
    for (const auto& w : words) {
        out.insert(out.end(), w.tokens.begin(), w.tokens.end());
    }
    return out;
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
    const auto wanted_list = tokens_of(args);
    const std::set<std::string> wanted(wanted_list.begin(), wanted_list.end());
    const auto words = words_of(input);
    const auto tokens = flatten(words);
    std::vector<bool> hit(tokens.size());
    bool any = false;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        hit[i] = wanted.count(tokens[i]) != 0;
        any = any || hit[i];
    }
    if (!any) {
        return std::nullopt;
    }
    return raw_words_hit(words, hit);
}

std::optional<std::string> has_all_words(std::string_view input, const args_t& args) {
    const auto wanted = tokens_of(args);
    const auto words = words_of(input);
    const auto tokens = flatten(words);
    if (wanted.empty()) {
        return std::nullopt;
    }
    for (const auto& w : wanted) {
        if (std::find(tokens.begin(), tokens.end(), w) == tokens.end()) {
            return std::nullopt;
        }
    }
    const std::set<std::string> wanted_set(wanted.begin(), wanted.end());
    std::vector<bool> hit(tokens.size());
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        hit[i] = wanted_set.count(tokens[i]) != 0;
    }
    return raw_words_hit(words, hit);
}

std::optional<std::string> has_phrase(std::string_view input, const args_t& args) {
    const auto phrase = tokens_of(args);
    const auto words = words_of(input);
    const auto tokens = flatten(words);
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
    const auto words = words_of(input);
    if (flatten(words) != tokens_of(args)) {
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

enum class arg_kind { words, number };

struct test_spec {
    std::string_view name;
    std::size_t min_args;
    std::size_t max_args;
    arg_kind kind;
    test_fn run;
};

constexpr std::size_t any_count = std::numeric_limits<std::size_t>::max();

// The router tests this engine knows. A new test is one more line here.
const std::vector<test_spec>& tests() {
    static const std::vector<test_spec> table = {
        {"has_text", 0, 0, arg_kind::words, has_text},
        {"has_any_word", 1, any_count, arg_kind::words, has_any_word},
        {"has_all_words", 1, any_count, arg_kind::words, has_all_words},
        {"has_phrase", 1, 1, arg_kind::words, has_phrase},
        {"has_only_phrase", 1, 1, arg_kind::words, has_only_phrase},
        {"has_beginning", 1, 1, arg_kind::words, has_beginning},
        {"has_number", 0, 0, arg_kind::number, number_test([](double, const auto&) { return true; })},
        {"has_number_between", 2, 2, arg_kind::number, number_test([](double v, const auto& b) {
             return v >= b[0] && v <= b[1];
         })},
        {"has_number_lt", 1, 1, arg_kind::number, number_test([](double v, const auto& b) {
             return v < b[0];
         })},
        {"has_number_lte", 1, 1, arg_kind::number, number_test([](double v, const auto& b) {
             return v <= b[0];
         })},
        {"has_number_eq", 1, 1, arg_kind::number, number_test([](double v, const auto& b) {
             return v == b[0];
         })},
        {"has_number_gte", 1, 1, arg_kind::number, number_test([](double v, const auto& b) {
             return v >= b[0];
         })},
        {"has_number_gt", 1, 1, arg_kind::number, number_test([](double v, const auto& b) {
             return v > b[0];
         })},
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

std::string count_message(const test_spec& t) {
    if (t.max_args == any_count) {
        return "takes at least " + std::to_string(t.min_args) +
               (t.min_args == 1 ? " argument" : " arguments");
    }
    if (t.min_args == 0 && t.max_args == 0) {
        return "takes no arguments";
    }
    return "takes " + std::to_string(t.max_args) + (t.max_args == 1 ? " argument" : " arguments");
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
    std::vector<std::optional<double>> numbers;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string pointer = "/args/" + std::to_string(i);
        if (t->kind == arg_kind::number) {
            numbers.push_back(parse_number_arg(args[i]));
            if (!numbers.back()) {
                out.push_back({pointer, "must be a number"});
            }
        } else if (tokenize(args[i]).empty()) {
            // An argument that normalises to nothing could never match anything.
            out.push_back({pointer, "must contain a word"});
        }
    }
    if (type == "has_number_between" && numbers.size() == 2 && numbers[0] && numbers[1] &&
        *numbers[1] < *numbers[0]) {
        out.push_back({"/args/1", "must not be less than the minimum"});
    }
    return out;
}

std::optional<std::string> run_test(std::string_view type,
                                    std::string_view input,
                                    const std::vector<std::string>& args) {
    const test_spec* t = find_test(type);
    if (t == nullptr || args.size() < t->min_args || args.size() > t->max_args) {
        return std::nullopt;
    }
    return t->run(input, args);
}

}  // namespace flowgate::flows
