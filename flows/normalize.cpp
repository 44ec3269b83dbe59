#include "flows/normalize.hpp"

#include <utility>

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <array>
#include <optional>
#include <string>

#include "common/types.hpp"
#include "flows/icu_text.hpp"

namespace flowgate::flows {

namespace {

// Invisible characters phones and keyboards insert: bidi marks (providers.md §9.5), zero-width
// spaces and joiners, the BOM. They would make "٣" and "\u200F٣" differ.
bool is_invisible(UChar32 c) {
    return c == 0x200E || c == 0x200F || c == 0x061C || (c >= 0x202A && c <= 0x202E) ||
           (c >= 0x2066 && c <= 0x2069) || (c >= 0x200B && c <= 0x200D) || c == 0x2060 || c == 0xFEFF;
}

// Tatweel only stretches a word; harakat and the superscript alef are optional vowel signs. NFKD
// plus the removal of nonspacing marks drops the latter too; listing them keeps that explicit.
bool is_arabic_decoration(UChar32 c) { return c == 0x0640 || (c >= 0x064B && c <= 0x065F) || c == 0x0670; }

// Letters that people type interchangeably: ta marbuta/ha, alef maqsura/ya, and the Persian forms
// of ya and kaf that Persian keyboards produce. أ إ آ reach ا through NFKD (alef + a hamza or
// madda mark, which is removed).
UChar32 unify_arabic_variant(UChar32 c) {
    switch (c) {
        case 0x0629:  // ة
            return 0x0647;
        case 0x0649:  // ى
            return 0x064A;
        case 0x06CC:  // ی
            return 0x064A;
        case 0x06A9:  // ک
            return 0x0643;
        case 0x0671:  // ٱ
            return 0x0627;
        default:
            return c;
    }
}

bool is_space(UChar32 c) { return u_isUWhiteSpace(c) != 0; }

bool is_separator(UChar32 c) {
    if (is_space(c) || u_ispunct(c)) {
        return true;
    }
    const auto type = u_charType(c);
    // Math, currency and modifier symbols separate words ("yes+no"); other symbols (emoji) stay.
    return type == U_MATH_SYMBOL || type == U_CURRENCY_SYMBOL || type == U_MODIFIER_SYMBOL;
}

using icu_text::to_unicode;
using icu_text::to_utf8;

icu::UnicodeString fold(const icu::UnicodeString& in) {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* nfkd = icu::Normalizer2::getNFKDInstance(status);
    const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(status);
    if (U_FAILURE(status)) {
        return in;
    }
    icu::UnicodeString folded(in);
    folded.foldCase();
    const icu::UnicodeString decomposed = nfkd->normalize(folded, status);
    if (U_FAILURE(status)) {
        return in;
    }
    icu::UnicodeString out;
    for (int32_t i = 0; i < decomposed.length(); i = decomposed.moveIndex32(i, 1)) {
        UChar32 c = decomposed.char32At(i);
        if (is_invisible(c) || is_arabic_decoration(c) || u_charType(c) == U_NON_SPACING_MARK) {
            continue;
        }
        if (u_charType(c) == U_DECIMAL_DIGIT_NUMBER) {
            // Arabic-Indic, Persian and every other decimal digit read as ASCII.
            c = U'0' + u_charDigitValue(c);
        }
        out.append(unify_arabic_variant(c));
    }
    icu::UnicodeString composed = nfc->normalize(out, status);
    return U_FAILURE(status) ? out : composed;
}

}  // namespace

namespace {

std::string icu_normalize(std::string_view text) {
    const icu::UnicodeString folded = fold(to_unicode(text));
    icu::UnicodeString out;
    bool pending_space = false;
    for (int32_t i = 0; i < folded.length(); i = folded.moveIndex32(i, 1)) {
        const UChar32 c = folded.char32At(i);
        if (is_space(c)) {
            pending_space = true;
            continue;
        }
        if (pending_space && !out.isEmpty()) {
            out.append(u' ');
        }
        pending_space = false;
        out.append(c);
    }
    // Trim punctuation at both ends ("3.", "¿si?"); the spaces were trimmed above.
    int32_t start = 0;
    int32_t end = out.length();
    while (start < end) {
        const UChar32 c = out.char32At(start);
        if (!u_ispunct(c) && !is_space(c)) {
            break;
        }
        start = out.moveIndex32(start, 1);
    }
    while (end > start) {
        const int32_t prev = out.moveIndex32(end, -1);
        const UChar32 c = out.char32At(prev);
        if (!u_ispunct(c) && !is_space(c)) {
            break;
        }
        end = prev;
    }
    return to_utf8(out.tempSubStringBetween(start, end));
}

// Most texts are ASCII: English answers, digits, keywords. For them every step above is plain:
// folding lower-cases A-Z, and no ASCII character decomposes, is a mark, an invisible one, a digit
// of another script or an Arabic variant. What ICU says of each ASCII character (whitespace,
// punctuation, a separator) is asked of ICU once, so the shortcut answers exactly as ICU would;
// normalize_test compares the two on every string of up to two characters and on random ones.
struct ascii_classes {
    std::array<bool, 128> space{};
    std::array<bool, 128> punct{};
    std::array<bool, 128> separator{};
};

const ascii_classes& ascii() {
    static const ascii_classes classes = [] {
        ascii_classes c;
        for (UChar32 ch = 0; ch < 128; ++ch) {
            const auto i = static_cast<std::size_t>(ch);
            c.space[i] = is_space(ch);
            c.punct[i] = u_ispunct(ch) != 0;
            c.separator[i] = is_separator(ch);
        }
        return c;
    }();
    return classes;
}

bool is_ascii(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

std::size_t at(char c) { return static_cast<unsigned char>(c); }

std::string normalize_ascii(std::string_view text) {
    const auto& cls = ascii();
    std::string out;
    out.reserve(text.size());
    bool pending_space = false;
    for (const char c : text) {
        if (cls.space[at(c)]) {
            pending_space = true;
            continue;
        }
        if (pending_space && !out.empty()) {
            out += ' ';
        }
        pending_space = false;
        out += ascii_lower(c);
    }
    std::size_t start = 0;
    std::size_t end = out.size();
    while (start < end && (cls.punct[at(out[start])] || cls.space[at(out[start])])) {
        ++start;
    }
    while (end > start && (cls.punct[at(out[end - 1])] || cls.space[at(out[end - 1])])) {
        --end;
    }
    return out.substr(start, end - start);
}

// `text` (ASCII) cut at its separators, dropping the empty pieces.
std::vector<std::string> split_ascii(std::string_view text) {
    const auto& cls = ascii();
    std::vector<std::string> pieces;
    std::size_t from = 0;
    for (std::size_t i = 0; i <= text.size(); ++i) {
        if (i == text.size() || cls.separator[at(text[i])]) {
            if (i > from) {
                pieces.emplace_back(text.substr(from, i - from));
            }
            from = i + 1;
        }
    }
    return pieces;
}

std::string normalize_uncached(std::string_view text) {
    return is_ascii(text) ? normalize_ascii(text) : icu_normalize(text);
}

}  // namespace

std::string normalize(std::string_view text) {
    // One message is normalised several times while it is handled (its first word for a trigger,
    // the standing keywords, the answer's test), each an ICU round trip: each thread remembers the
    // last. A pure function's memo: it changes no answer.
    thread_local std::optional<std::pair<std::string, std::string>> last;
    if (!last || last->first != text) {
        std::string normal = normalize_uncached(text);
        last.emplace(std::string(text), std::move(normal));
    }
    return last->second;
}

namespace {

std::vector<std::string> icu_tokens(const std::string& normal) {
    const icu::UnicodeString norm = to_unicode(normal);
    std::vector<std::string> tokens;
    icu::UnicodeString current;
    for (int32_t i = 0; i < norm.length(); i = norm.moveIndex32(i, 1)) {
        const UChar32 c = norm.char32At(i);
        if (is_separator(c)) {
            if (!current.isEmpty()) {
                tokens.push_back(to_utf8(current));
                current.remove();
            }
        } else {
            current.append(c);
        }
    }
    if (!current.isEmpty()) {
        tokens.push_back(to_utf8(current));
    }
    return tokens;
}

std::vector<std::string> icu_words(std::string_view text) {
    const icu::UnicodeString in = to_unicode(text);
    std::vector<std::string> words;
    icu::UnicodeString current;
    for (int32_t i = 0; i < in.length(); i = in.moveIndex32(i, 1)) {
        const UChar32 c = in.char32At(i);
        if (is_invisible(c)) {
            continue;
        }
        if (is_separator(c)) {
            if (!current.isEmpty()) {
                words.push_back(to_utf8(current));
                current.remove();
            }
        } else {
            current.append(c);
        }
    }
    if (!current.isEmpty()) {
        words.push_back(to_utf8(current));
    }
    return words;
}

}  // namespace

std::vector<std::string> tokenize(std::string_view text) {
    const std::string normal = normalize(text);
    return is_ascii(normal) ? split_ascii(normal) : icu_tokens(normal);
}

std::vector<std::string> split_words(std::string_view text) {
    return is_ascii(text) ? split_ascii(text) : icu_words(text);
}

namespace detail {

std::string normalize_by_icu(std::string_view text) { return icu_normalize(text); }

std::vector<std::string> tokenize_by_icu(std::string_view text) { return icu_tokens(icu_normalize(text)); }

std::vector<std::string> split_words_by_icu(std::string_view text) { return icu_words(text); }

}  // namespace detail

}  // namespace flowgate::flows
