// Phone numbers and URNs (handlers/urn.hpp), as participants, providers and staff write them.
// Input: the default country on the first line, the number or URN after it.

#include "handlers/urn.hpp"

#include "fuzz/common.hpp"

using namespace flowgate;
using namespace flowgate::handlers;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view rest = fuzz::as_text(data, size);
    const std::string_view country = fuzz::take_line(rest);
    const std::string_view text = rest;
    (void)is_known_region(country);

    if (const auto phone = normalize_phone(text, country)) {
        fuzz::require(phone->size() > 1 && phone->front() == '+', "E.164 starts with +");
        for (std::size_t i = 1; i < phone->size(); ++i) {
            fuzz::require((*phone)[i] >= '0' && (*phone)[i] <= '9', "E.164 is digits");
        }
        fuzz::require(normalize_phone(*phone, country) == phone, "normalize_phone is idempotent");
        fuzz::require(normalize_phone(*phone, "") == phone, "E.164 needs no default country");
    }
    if (const auto urn = parse_urn(text, country)) {
        fuzz::require(is_valid_utf8(*urn), "a URN is UTF-8");
        fuzz::require(parse_urn(*urn, country) == urn, "parse_urn is idempotent");
        fuzz::require(phone_region(*urn) == phone_region_by_parse(*urn),
                      "phone_region says what a parse says");
        if (const auto other = same_number_urn(*urn)) {
            fuzz::require(same_number_urn(*other) == urn, "same_number_urn goes both ways");
        }
        const std::string masked = mask_urn(*urn);
        fuzz::require(is_valid_utf8(masked), "a masked URN is UTF-8");
    }
    fuzz::require(phone_region(text) == phone_region_by_parse(text), "phone_region says what a parse says");
    (void)same_number_urn(text);
    (void)urn_path(text);
    if (is_valid_utf8(text)) {
        fuzz::require(is_valid_utf8(mask_urn(text)), "a masked URN is UTF-8");
    }
    return 0;
}
