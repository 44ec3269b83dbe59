#pragma once
// UTF-8 ⇄ ICU conversions shared by the flows/ sources that use ICU (internal to flows/).

#include <unicode/unistr.h>

#include <string>
#include <string_view>

namespace flowgate::flows::icu_text {

inline icu::UnicodeString to_unicode(std::string_view text) {
    return icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
}

inline std::string to_utf8(const icu::UnicodeString& s) {
    std::string out;
    s.toUTF8String(out);
    return out;
}

}  // namespace flowgate::flows::icu_text
