// Message templates (flows/template.hpp): check_template at load time, render for every message.
// Input: the contact's answer (@input) on the first line, the template after it. A contact's
// answer and name are the participant's own words, so they come from the input too.

#include "flows/template.hpp"

#include "fuzz/common.hpp"

using namespace flowgate;
using namespace flowgate::flows;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view rest = fuzz::as_text(data, size);
    const std::string_view input = fuzz::take_line(rest);
    const std::string_view text = rest;

    (void)check_template(text);

    contact_view contact{"c-uuid-1", std::string(input), "ar", {{"district", "Marka"}, {"age", "31"}}};
    session run;
    run.flow_id = "signup";
    run.started_at = from_millis(1780000000000);
    run.results["city"] = {"City", "1", "Amman", std::string(input), "ask_city", {}};
    workshop w;
    w.id = "w1";
    w.title = {{"en", "First aid"}, {"ar", "الإسعافات الأولية"}};
    w.place = {{"en", "Amman"}};
    w.starts_at = from_millis(1780000000000);
    w.timezone = "Asia/Amman";
    const template_context ctx{contact, run, input, "Signup", "ar", &w};

    std::optional<std::string> error;
    const std::string out = render(text, ctx, &error);
    if (handlers::is_valid_utf8(input) && handlers::is_valid_utf8(text)) {
        fuzz::require(handlers::is_valid_utf8(out), "a template renders UTF-8 from UTF-8");
    }
    return 0;
}
