#pragma once
// GSM 03.38 / UCS-2 encoding choice and segment counting for SMS (reference/providers.md §9).

#include <cstddef>
#include <string_view>

namespace flowgate::flows {

enum class sms_encoding { gsm7, ucs2 };
const char* to_string(sms_encoding e);  // "GSM-7" | "UCS-2"

struct segment_info {
    sms_encoding encoding = sms_encoding::gsm7;
    std::size_t units = 0;     // septets (GSM-7, escapes count 2) or UTF-16 code units (UCS-2)
    std::size_t segments = 0;  // 0 for the empty text
};

// `text` is UTF-8; invalid UTF-8 counts each bad byte as one U+FFFD (UCS-2).
segment_info count_segments(std::string_view text);

}  // namespace flowgate::flows
