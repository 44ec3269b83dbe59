#include "flows/duration.hpp"

#include <cstdint>
#include <limits>

namespace flowgate::flows {

std::optional<std::chrono::seconds> parse_duration(std::string_view text) {
    if (text.size() < 2) {
        return std::nullopt;
    }
    std::int64_t unit = 0;
    switch (text.back()) {
        case 's':
            unit = 1;
            break;
        case 'm':
            unit = 60;
            break;
        case 'h':
            unit = 3600;
            break;
        case 'd':
            unit = 86400;
            break;
        default:
            return std::nullopt;
    }
    const std::string_view digits = text.substr(0, text.size() - 1);
    // Bound the seconds so that adding them to any realistic timestamp in milliseconds cannot overflow.
    constexpr std::int64_t max_seconds = std::numeric_limits<std::int64_t>::max() / 1000 / 4;
    std::int64_t n = 0;
    for (char c : digits) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        n = n * 10 + (c - '0');
        if (n > max_seconds / unit) {
            return std::nullopt;
        }
    }
    if (n == 0) {
        return std::nullopt;
    }
    return std::chrono::seconds{n * unit};
}

}  // namespace flowgate::flows
