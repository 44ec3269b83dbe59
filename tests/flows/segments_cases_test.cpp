// The SMS segment cases the dashboard's own counter is tested with too
// (tests/flows/data/segments_cases.json, tests/browser/segments.test.mjs): what staff see while
// typing a broadcast is what the server counts and bills.

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "flows/segments.hpp"

namespace flowgate::flows {
namespace {

using json = nlohmann::json;

// A case's text: the concatenation of its parts (the file's "about" says how they read).
std::string build_text(const json& parts) {
    const std::string digits = "1234567890";
    auto digit_run = [&digits](std::size_t from, std::size_t n) {
        std::string out;
        for (std::size_t i = from; i < from + n; ++i) {
            out += digits[i % digits.size()];
        }
        return out;
    };
    std::string out;
    for (const auto& p : parts) {
        if (p.is_string()) {
            out += p.get<std::string>();
        } else if (p.contains("digits")) {
            out += digit_run(0, p["digits"].get<std::size_t>());
        } else if (p.contains("tail")) {
            out += digit_run(1, p["tail"].get<std::size_t>());
        } else {
            for (std::size_t i = 0; i < p.at("times").get<std::size_t>(); ++i) {
                out += p.at("repeat").get<std::string>();
            }
        }
    }
    return out;
}

TEST(segments, shared_cases_with_the_dashboard) {
    std::ifstream in(FLOWGATE_SOURCE_DIR "/tests/flows/data/segments_cases.json");
    ASSERT_TRUE(in) << "tests/flows/data/segments_cases.json";
    const json doc = json::parse(in);
    ASSERT_GT(doc.at("cases").size(), 40u);
    for (const auto& c : doc.at("cases")) {
        SCOPED_TRACE(c.at("label").get<std::string>());
        const segment_info info = count_segments(build_text(c.at("text")));
        EXPECT_EQ(std::string(to_string(info.encoding)), c.at("encoding").get<std::string>());
        EXPECT_EQ(info.units, c.at("units").get<std::size_t>());
        EXPECT_EQ(info.segments, c.at("segments").get<std::size_t>());
    }
}

}  // namespace
}  // namespace flowgate::flows
