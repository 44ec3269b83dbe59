#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace flowgate::flows {

// "30s", "90m", "24h", "3d" → seconds; anything else (empty, negative, no unit, overflow) → nullopt.
std::optional<std::chrono::seconds> parse_duration(std::string_view text);

}  // namespace flowgate::flows
