#pragma once
// Message templates: @contact.name, @results.x, @input.text ... (docs/flows.md "Templates").

#include <string>
#include <string_view>

#include "common/types.hpp"
#include "flows/model.hpp"

namespace flowgate::flows {

struct template_context {
    const contact_view& contact;
    const session& run;
    std::string_view input;
};

// Problems in a template (unknown variable), found at load time; pointers are "" (the caller
// knows where the template is).
flowgate::problems check_template(std::string_view text);

std::string render(std::string_view text, const template_context& ctx);

}  // namespace flowgate::flows
