#pragma once
// application/x-www-form-urlencoded and URL query decoding/encoding. Keeps repeated keys and keys
// with empty values, in order (Twilio signs every parameter).

#include <utility>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flowgate::handlers {

using form_fields = std::vector<std::pair<std::string, std::string>>;

// A hexadecimal digit's value (either case), or -1.
int hex_value(char c);

// Decodes `a=1&b=x+y%20z`: '+' is a space, %XX a byte. Returns nullopt on a malformed escape.
std::optional<form_fields> decode_form(std::string_view text);
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

// The first value of `key`, or nullptr.
const std::string* find_field(const form_fields& fields, std::string_view key);

// Percent-encodes everything but unreserved characters (RFC 3986).
std::string percent_encode(std::string_view text);
std::string encode_form(const form_fields& fields);

}  // namespace flowgate::handlers
