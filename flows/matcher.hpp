#pragma once
// Router tests with RapidPro's names and semantics: what matches, and the value extracted.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/types.hpp"

namespace flowgate::flows {

// What some tests need besides the operand and the arguments. Everything is passed in: the tests
// read no clock and no globals. A default-constructed context is the one the 3-argument run_test
// uses: no clock (so "today"/"tomorrow" never match), UTC, day-first dates, no default country
// (only numbers written with "+" are phones), no groups, no operand error.
struct test_context {
    // The instant the answer is judged at: resolves "today"/"tomorrow" and fills the time of day
    // of a date written without one, as RapidPro does.
    std::optional<timestamp> now;
    std::string timezone = "UTC";  // IANA name, e.g. "Asia/Amman": what "today" means, and offsets
    std::string default_country;   // ISO 3166 alpha-2 for has_phone, e.g. "JO"
    bool day_first = true;         // "05/06/2026" is 5 June (DD-MM-YYYY); false: MM-DD-YYYY
    // The contact's groups, each a group uuid or name; nullptr: the contact is in none.
    const std::vector<std::string>* groups = nullptr;
    // Set when the operand failed to evaluate (the message says why); has_error matches on it.
    std::optional<std::string> operand_error;
};

// A passing test: `value` is what the result saves (RapidPro's `.match`); `extra` carries
// has_pattern's groups keyed "0" (the whole match), "1", ... (RapidPro's `.extra`).
struct test_match {
    std::string value;
    std::map<std::string, std::string> extra;

    friend bool operator==(const test_match&, const test_match&) = default;
};

bool is_known_test(std::string_view type);

// Problems with a test's arguments (count, numbers that are not numbers, regular expressions that
// do not compile, dates that are not dates, unknown countries), pointers relative to the case,
// e.g. {"/args/1", "must be a number"}.
flowgate::problems check_test_arguments(std::string_view type, const std::vector<std::string>& args);

// The extracted value when `input` passes the test, nullopt otherwise (also for an unknown test or
// a wrong argument count).
std::optional<std::string> run_test(std::string_view type,
                                    std::string_view input,
                                    const std::vector<std::string>& args,
                                    const test_context& context);

// The same with a default test_context.
std::optional<std::string> run_test(std::string_view type,
                                    std::string_view input,
                                    const std::vector<std::string>& args);

// run_test with the extras (has_pattern's groups).
std::optional<test_match> match_test(std::string_view type,
                                     std::string_view input,
                                     const std::vector<std::string>& args,
                                     const test_context& context);

}  // namespace flowgate::flows
