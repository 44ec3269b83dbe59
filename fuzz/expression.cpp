// The @(...) expression language (flows/expression.hpp). Input: a value for every variable on the
// first line (what a participant wrote), the expression after it.

#include "flows/expression.hpp"

#include "fuzz/common.hpp"

using namespace flowgate;
using namespace flowgate::flows;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view rest = fuzz::as_text(data, size);
    const std::string_view value = fuzz::take_line(rest);
    const std::string_view source = rest;

    const std::size_t end = expression_end(source);
    fuzz::require(end == std::string_view::npos || (end < source.size() && source[end] == ')'),
                  "expression_end points at a )");

    const expression e = expression::parse(source);
    const auto resolve = [&](const expression_path& path) -> std::optional<std::string> {
        if (path.empty() || path.front() == "missing") {
            return std::nullopt;
        }
        if (path.front() == "date") {
            return std::string("2026-03-05T09:30:00.000Z");
        }
        return std::string(value);
    };
    const auto out = e.evaluate(resolve);
    if (!e.problems().empty()) {
        fuzz::require(!out.has_value(), "an expression with problems evaluates to nothing");
    }
    if (out && handlers::is_valid_utf8(value) && handlers::is_valid_utf8(source)) {
        fuzz::require(handlers::is_valid_utf8(*out), "an expression gives UTF-8 from UTF-8");
    }
    return 0;
}
