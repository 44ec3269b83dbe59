#pragma once
// Router tests with RapidPro's names and semantics: what matches, and the value extracted.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/types.hpp"

namespace flowgate::flows {

bool is_known_test(std::string_view type);

// Problems with a test's arguments (count, numbers that are not numbers), pointers relative to the
// case, e.g. {"/args/1", "must be a number"}.
flowgate::problems check_test_arguments(std::string_view type, const std::vector<std::string>& args);

// The extracted value when `input` passes the test, nullopt otherwise.
std::optional<std::string> run_test(std::string_view type,
                                    std::string_view input,
                                    const std::vector<std::string>& args);

}  // namespace flowgate::flows
