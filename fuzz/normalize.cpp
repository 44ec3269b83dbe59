// Text normalisation (flows/normalize.hpp): every answer a participant sends. Input: the text.

#include "flows/normalize.hpp"

#include "fuzz/common.hpp"

using namespace flowgate;
using namespace flowgate::flows;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = fuzz::as_text(data, size);
    const bool utf8 = handlers::is_valid_utf8(text);

    const std::string normal = normalize(text);
    const std::vector<std::string> tokens = tokenize(text);
    const std::vector<std::string> words = split_words(text);
    for (const auto& t : tokens) {
        fuzz::require(!t.empty(), "no empty token");
    }
    // ASCII text (and text whose normal form is ASCII) takes a shortcut past ICU: the same answers.
    fuzz::require(normal == detail::normalize_by_icu(text), "normalize's ASCII shortcut answers as ICU does");
    fuzz::require(tokens == detail::tokenize_by_icu(text), "tokenize's ASCII shortcut answers as ICU does");
    fuzz::require(words == detail::split_words_by_icu(text),
                  "split_words' ASCII shortcut answers as ICU does");
    if (utf8) {
        fuzz::require(handlers::is_valid_utf8(normal), "normalize gives UTF-8 from UTF-8");
        for (const auto& t : tokens) {
            fuzz::require(handlers::is_valid_utf8(t), "tokens are UTF-8");
        }
        for (const auto& w : words) {
            fuzz::require(handlers::is_valid_utf8(w), "words are UTF-8");
        }
    }
    return 0;
}
