// Router tests (flows/matcher.hpp) against a participant's answer. Input:
//   test type             (first line, e.g. has_any_word)
//   timezone country      (second line, e.g. "Asia/Amman JO"; either may be empty)
//   argument lines        (one argument a line, up to an empty line)
//
//   the answer            (the rest, as it is)

#include "flows/matcher.hpp"

#include "fuzz/common.hpp"

using namespace flowgate;
using namespace flowgate::flows;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view rest = fuzz::as_text(data, size);
    const std::string type(fuzz::take_line(rest));
    const std::string_view where = fuzz::take_line(rest);
    std::vector<std::string> args;
    for (const std::string_view line : fuzz::take_block(rest)) {
        args.emplace_back(line);
    }
    const std::string_view input = rest;

    const std::vector<std::string> groups = {"Volunteers", "0b9c1e2a-3f4d-4e5f-8a6b-7c8d9e0f1a2b"};
    test_context ctx;
    ctx.now = from_millis(1780000000000);
    const auto space = where.find(' ');
    ctx.timezone = std::string(where.substr(0, space));
    ctx.default_country = space == std::string_view::npos ? "" : std::string(where.substr(space + 1));
    ctx.day_first = input.size() % 2 == 0;
    ctx.groups = &groups;
    if (type == "has_error") {
        ctx.operand_error = "failed";
    }

    (void)is_known_test(type);
    // The loader refuses a flow whose arguments have problems, but the engine must not crash on
    // any arguments either (a localized argument, a flow from an older version).
    (void)check_test_arguments(type, args);
    const auto match = match_test(type, input, args, ctx);
    if (match && handlers::is_valid_utf8(input)) {
        bool args_utf8 = true;
        for (const auto& a : args) {
            args_utf8 = args_utf8 && handlers::is_valid_utf8(a);
        }
        if (args_utf8) {
            fuzz::require(handlers::is_valid_utf8(match->value), "a match is UTF-8 from UTF-8");
        }
    }
    return 0;
}
