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
