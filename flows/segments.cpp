#include "flows/segments.hpp"

#include <cstdint>
#include <vector>

namespace flowgate::flows {

const char* to_string(sms_encoding e) { return e == sms_encoding::gsm7 ? "GSM-7" : "UCS-2"; }

namespace {

constexpr char32_t replacement = 0xFFFD;

// Strict UTF-8 (no overlongs, no surrogates, ≤ U+10FFFF); every byte that does not start a valid
// sequence becomes one U+FFFD, as the header promises.
std::vector<char32_t> decode_utf8(std::string_view s) {
    std::vector<char32_t> out;
    out.reserve(s.size());
    std::size_t i = 0;
    while (i < s.size()) {
        const auto b0 = static_cast<unsigned char>(s[i]);
        std::size_t len = 0;
        char32_t cp = 0;
        char32_t min = 0;
        if (b0 < 0x80) {
            out.push_back(b0);
            ++i;
            continue;
        } else if ((b0 & 0xE0) == 0xC0) {
            len = 2;
            cp = b0 & 0x1F;
            min = 0x80;
        } else if ((b0 & 0xF0) == 0xE0) {
            len = 3;
            cp = b0 & 0x0F;
            min = 0x800;
        } else if ((b0 & 0xF8) == 0xF0) {
            len = 4;
            cp = b0 & 0x07;
            min = 0x10000;
        }
        bool ok = len != 0 && i + len <= s.size();
        for (std::size_t k = 1; ok && k < len; ++k) {
            const auto b = static_cast<unsigned char>(s[i + k]);
            ok = (b & 0xC0) == 0x80;
            cp = (cp << 6) | (b & 0x3F);
        }
        ok = ok && cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
        if (ok) {
            out.push_back(cp);
            i += len;
        } else {
            out.push_back(replacement);
            ++i;
        }
    }
    return out;
}

// Septets a character costs in GSM 03.38 (providers.md §9.1, §9.2): 1 in the basic table, 2 via
// the escape to the extension table, 0 when it is not in GSM-7 at all.
int gsm7_septets(char32_t c) {
    if ((c >= U'A' && c <= U'Z') || (c >= U'a' && c <= U'z') || (c >= U'0' && c <= U'9')) {
        return 1;
    }
    static constexpr std::u32string_view basic =
        U"@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà";
    static constexpr std::u32string_view extension = U"\f^{}\\[~]|€";
    if (basic.find(c) != std::u32string_view::npos) {
        return 1;
    }
    if (extension.find(c) != std::u32string_view::npos) {
        return 2;
    }
    return 0;
}

// Greedy packing: a character whose units do not fit in what is left of a part starts the next
// part, so an escape pair or a surrogate pair is never split.
std::size_t count_parts(const std::vector<int>& costs,
                        std::size_t total,
                        std::size_t single,
                        std::size_t part) {
    if (total == 0) {
        return 0;
    }
    if (total <= single) {
        return 1;
    }
    std::size_t parts = 1;
    std::size_t used = 0;
    for (int cost : costs) {
        const auto c = static_cast<std::size_t>(cost);
        if (used + c > part) {
            ++parts;
            used = 0;
        }
        used += c;
    }
    return parts;
}

}  // namespace

segment_info count_segments(std::string_view text) {
    const std::vector<char32_t> chars = decode_utf8(text);
    std::vector<int> costs;
    costs.reserve(chars.size());
    std::size_t septets = 0;
    bool gsm = true;
    for (char32_t c : chars) {
        const int n = gsm7_septets(c);
        if (n == 0) {
            gsm = false;
            break;
        }
        costs.push_back(n);
        septets += static_cast<std::size_t>(n);
    }
    if (gsm) {
        return {sms_encoding::gsm7, septets, count_parts(costs, septets, 160, 153)};
    }
    costs.clear();
    std::size_t units = 0;
    for (char32_t c : chars) {
        const int n = c > 0xFFFF ? 2 : 1;
        costs.push_back(n);
        units += static_cast<std::size_t>(n);
    }
    return {sms_encoding::ucs2, units, count_parts(costs, units, 70, 67)};
}

}  // namespace flowgate::flows
