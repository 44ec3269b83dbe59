#include "flows/duration.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace flowgate::flows {
namespace {

struct duration_case {
    std::string text;
    std::optional<long long> seconds;  // nullopt: refused
};

TEST(duration, parses_positive_counts_of_s_m_h_d) {
    const std::vector<duration_case> cases = {
        {"30s", 30},
        {"1s", 1},
        {"90m", 90 * 60},
        {"24h", 24 * 3600},
        {"3d", 3 * 86400},
        {"25h", 25 * 3600},
        {"007m", 7 * 60},
        {"", std::nullopt},
        {"s", std::nullopt},
        {"30", std::nullopt},
        {"0s", std::nullopt},
        {"0d", std::nullopt},
        {"-5m", std::nullopt},
        {"+5m", std::nullopt},
        {"1w", std::nullopt},
        {"1.5h", std::nullopt},
        {" 3d", std::nullopt},
        {"3d ", std::nullopt},
        {"3 d", std::nullopt},
        {"3D", std::nullopt},
        {"1h30m", std::nullopt},
        {"٣d", std::nullopt},
        {"99999999999999999999d", std::nullopt},
        {"9999999999999999d", std::nullopt},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE("\"" + c.text + "\"");
        const auto d = parse_duration(c.text);
        ASSERT_EQ(d.has_value(), c.seconds.has_value());
        if (d) {
            EXPECT_EQ(d->count(), *c.seconds);
        }
    }
}

}  // namespace
}  // namespace flowgate::flows
