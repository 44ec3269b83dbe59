#pragma once
// Message templates: @contact.name, @results.x, @input.text, @workshop.title ... and @(expressions) such as
// @(upper(contact.name)) (docs/flows.md "Templates"; the expression language is flows/expression.hpp).

#include <optional>
#include <string>
#include <string_view>

#include "common/types.hpp"
#include "flows/model.hpp"

namespace flowgate::flows {

struct template_context {
    const contact_view& contact;
    const session& run;
    std::string_view input;
    std::string_view flow_name = {};            // @run.flow, @run.flow.name; empty: the flow id stands in
    std::string_view language = {};             // the text's language: @workshop.title and dates follow it
    const flows::workshop* workshop = nullptr;  // the run's workshop (@workshop.*); null: none
};

// Problems in a template (unknown variable or function, wrong argument count, syntax error in an
// @(...) expression), found at load time; pointers are "" (the caller knows where the template
// is). A template without problems renders without surprises: only runtime failures such as
// format_date of a non-date render as nothing.
flowgate::problems check_template(std::string_view text);

// Never throws. An @(expression) that fails to evaluate (format_date of a non-date, 1/0) renders
// as nothing; with `error`, the first such failure is also reported there (has_error reads it).
std::string render(std::string_view text,
                   const template_context& ctx,
                   std::optional<std::string>* error = nullptr);

}  // namespace flowgate::flows
