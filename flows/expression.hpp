#pragma once
// The expression language inside RapidPro-style "@(...)" templates (docs/flows.md "Templates"):
// literals, variable paths, function calls and the operators & + - * / ^ = != < <= > >=.
// Pure: no clock, no locale, no I/O. Parsing finds every load-time problem (syntax, unknown
// functions, argument counts); the caller checks the variable paths against its own context.

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flowgate::flows {

// A dotted variable path as written, e.g. {"results", "city", "category"}.
using expression_path = std::vector<std::string>;

// Looks a variable up at run time; nullopt: no such variable (an error, like a failed function).
using expression_resolver = std::function<std::optional<std::string>(const expression_path&)>;

class expression {
   public:
    struct node;

    // Parses the text between "@(" and its closing ")". Never throws; problems() lists what is wrong.
    static expression parse(std::string_view source);

    expression(expression&&) noexcept;
    expression& operator=(expression&&) noexcept;
    ~expression();

    // Syntax errors, unknown functions, wrong argument counts, invalid literal date formats.
    const std::vector<std::string>& problems() const { return problems_; }
    // Every variable path the expression reads, in order of appearance.
    const std::vector<expression_path>& paths() const { return paths_; }

    // The value as text; nullopt when evaluation fails (format_date of a non-date, 1/0, an error
    // that no default() catches, or an expression with problems). Never throws.
    std::optional<std::string> evaluate(const expression_resolver& resolve) const;

   private:
    expression();

    std::unique_ptr<node> root_;
    std::vector<std::string> problems_;
    std::vector<expression_path> paths_;
};

// Given text just after "@(", the index of the ")" that closes it (string literals and nested
// parentheses are skipped); npos if there is none.
std::size_t expression_end(std::string_view text);

}  // namespace flowgate::flows
