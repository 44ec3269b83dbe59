// The form and URL decoders (handlers/form.hpp): every query string and form body goes through
// them. Checks that what decodes encodes back to the same fields, and that percent_encode and
// percent_decode are inverses.

#include "handlers/form.hpp"

#include "fuzz/common.hpp"

using namespace flowgate;
using namespace flowgate::handlers;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = fuzz::as_text(data, size);
    if (const auto fields = decode_form(text)) {
        const std::string encoded = encode_form(*fields);
        const auto again = decode_form(encoded);
        fuzz::require(again.has_value(), "an encoded form decodes");
        // Empty pairs ("a=1&&b=2") are dropped, but a field with an empty key and value stays.
        fuzz::require(*again == *fields, "decode(encode(fields)) == fields");
        for (const auto& [key, value] : *fields) {
            fuzz::require(find_field(*fields, key) != nullptr, "every decoded key is found");
        }
    }
    for (const bool plus : {false, true}) {
        (void)percent_decode(text, plus);
        const auto back = percent_decode(percent_encode(text), plus);
        fuzz::require(back.has_value() && *back == text, "percent_decode(percent_encode(x)) == x");
    }
    return 0;
}
