#pragma once
// URNs name a contact's address on a channel, as RapidPro writes them: "tel:+962790000000",
// "telegram:123456", "whatsapp:962790000000", "ext:anything".

#include <optional>
#include <string>
#include <string_view>

namespace flowgate::handlers {

// A phone number as a participant or provider writes it ("0791234567", "+962 79 123 4567",
// "٠٧٩١٢٣٤٥٦٧") → E.164 ("+962791234567"), using libphonenumber with `default_country` (ISO 3166
// alpha-2) for national numbers. nullopt when it is not a possible number.
std::optional<std::string> normalize_phone(std::string_view number, std::string_view default_country);

// Whether libphonenumber knows the ISO 3166 alpha-2 region ("JO", "LB", "NG").
bool is_known_region(std::string_view region);

// The ISO 3166 alpha-2 region of a phone URN's number ("tel:+962791234567" → "JO",
// "whatsapp:2348031234567" → "NG"); nullopt for other URNs and numbers libphonenumber cannot place.
std::optional<std::string> phone_region(std::string_view urn);
// The same by a full libphonenumber parse, which phone_region skips for numbers whose calling code
// belongs to one region only; the tests and the urn fuzz target hold the two to the same answer.
std::optional<std::string> phone_region_by_parse(std::string_view urn);

// "tel:..." (normalised as above), "ext:...", "telegram:...", "whatsapp:...", "facebook:...", or a
// bare phone number (→ tel:). nullopt when invalid.
std::optional<std::string> parse_urn(std::string_view text, std::string_view default_country);

// The same phone number under the other scheme: "whatsapp:962791234567" ⇄ "tel:+962791234567".
// One person writing by SMS and on WhatsApp is one contact with two URNs. nullopt for other URNs.
std::optional<std::string> same_number_urn(std::string_view urn);

// The part after the scheme: "tel:+962790000000" → "+962790000000".
std::string_view urn_path(std::string_view urn);

// For logs: the scheme and the last two characters only ("tel:…56").
std::string mask_urn(std::string_view urn);

}  // namespace flowgate::handlers
