#pragma once
// Text normalisation for matching what basic-phone users type (docs/flows.md "How answers match").

#include <string>
#include <string_view>
#include <vector>

namespace flowgate::flows {

// Case-folded, diacritics removed, Arabic-Indic (U+0660–0669) and Persian (U+06F0–06F9) digits as
// ASCII, Arabic letter variants unified (أ إ آ → ا, ة → ه, ى → ي), tatweel, harakat and bidi marks
// removed, runs of whitespace collapsed, surrounding spaces and punctuation trimmed.
std::string normalize(std::string_view text);

// normalize(), then split on whitespace and punctuation.
std::vector<std::string> tokenize(std::string_view text);

// The words of `text` as the contact wrote them (invisible marks dropped, no folding), split where
// tokenize() splits; tokenize(word) of each gives its normalised tokens. Router tests use it to
// report matches in the contact's own spelling, as RapidPro does.
std::vector<std::string> split_words(std::string_view text);

namespace detail {
// The three above without their shortcut for ASCII text, always through ICU: for the tests that
// check the shortcut gives the same answers.
std::string normalize_by_icu(std::string_view text);
std::vector<std::string> tokenize_by_icu(std::string_view text);
std::vector<std::string> split_words_by_icu(std::string_view text);
}  // namespace detail

}  // namespace flowgate::flows
