#include "flows/template.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace flowgate::flows {
namespace {

struct render_case {
    std::string label;
    std::string text;
    std::string expected;
};

TEST(render, substitutes_the_first_slice_of_rapidpro_variables) {
    contact_view contact{"c-uuid-1", "Rania", "ar", {{"district", "Marka"}, {"age", "31"}}};
    session run;
    run.results["city"] = {"City", "1", "Amman", " 1 ", "ask_city", {}};
    run.results["preferred_day"] = {"Preferred Day", "2", "Day", "2", "ask_day", {}};
    const template_context ctx{contact, run, "hello there"};

    const std::vector<render_case> cases = {
        {"plain text", "Thanks!", "Thanks!"},
        {"contact name", "Hi @contact.name", "Hi Rania"},
        {"contact alone is the name", "Hi @contact", "Hi Rania"},
        {"contact language and uuid", "@contact.language/@contact.uuid", "ar/c-uuid-1"},
        {"field through fields", "From @fields.district", "From Marka"},
        {"field through contact.fields", "Age @contact.fields.age", "Age 31"},
        {"missing field is empty", "[@fields.nothing]", "[]"},
        {"result is its value", "You chose @results.city", "You chose 1"},
        {"result value", "@results.city.value", "1"},
        {"result category", "See you in @results.city.category.", "See you in Amman."},
        {"result input", "[@results.city.input]", "[ 1 ]"},
        {"result keys are snake-cased names", "@results.Preferred_Day", "2"},
        {"missing result is empty", "[@results.age]", "[]"},
        {"missing result category is empty", "[@results.age.category]", "[]"},
        {"input", "You said: @input", "You said: hello there"},
        {"input text", "You said: @input.text", "You said: hello there"},
        {"@@ is a literal @", "mail info@@example.org", "mail info@example.org"},
        {"@@contact is not a variable", "@@contact.name", "@contact.name"},
        {"@ before a space is literal", "a @ b", "a @ b"},
        {"@ at the end is literal", "at @", "at @"},
        {"@ before a digit is literal", "@5pm", "@5pm"},
        {"unknown root without a dot is literal", "see you @home", "see you @home"},
        {"unknown root with a dot stays as written", "@foo.bar", "@foo.bar"},
        {"a final full stop ends the variable", "Bye @contact.name.", "Bye Rania."},
        {"Arabic around a variable",
         "\xD8\xB4\xD9\x83\xD8\xB1\xD8\xA7\xD9\x8B @contact.name",
         "\xD8\xB4\xD9\x83\xD8\xB1\xD8\xA7\xD9\x8B Rania"},
        {"two variables", "@contact.name: @results.city.category", "Rania: Amman"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        EXPECT_EQ(render(c.text, ctx), c.expected);
    }
}

struct check_case {
    std::string label;
    std::string text;
    std::vector<std::string> messages;
};

TEST(check_template, reports_unknown_variables) {
    const std::string hint = " (write @@ for a literal @)";
    const std::vector<check_case> cases = {
        {"plain text", "Thanks!", {}},
        {"every supported variable",
         "@contact @contact.name @contact.language @contact.uuid @contact.fields.age @fields.age @results.x "
         "@results.x.value @results.x.category @results.x.input @input @input.text",
         {}},
        {"literal @ forms", "a @ b, @@x.y, @5, see you @home", {}},
        {"unknown root with a property", "@foo.bar", {"unknown variable \"@foo.bar\"" + hint}},
        {"an e-mail address needs @@",
         "write to info@example.org",
         {"unknown variable \"@example.org\"" + hint}},
        {"unknown contact property", "@contact.phone", {"unknown variable \"@contact.phone\"" + hint}},
        {"contact.fields needs a name", "@contact.fields", {"unknown variable \"@contact.fields\"" + hint}},
        {"fields needs a name", "@fields", {"unknown variable \"@fields\"" + hint}},
        {"results needs a key", "@results", {"unknown variable \"@results\"" + hint}},
        {"unknown result property", "@results.city.name", {"unknown variable \"@results.city.name\"" + hint}},
        {"too deep", "@input.text.foo", {"unknown variable \"@input.text.foo\"" + hint}},
        {"expressions are not supported",
         "@(upper(contact.name))",
         {"expressions like \"@(...)\" are not supported" + hint}},
        {"every problem is reported",
         "@foo.bar and @contact.phone",
         {"unknown variable \"@foo.bar\"" + hint, "unknown variable \"@contact.phone\"" + hint}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        std::vector<std::string> messages;
        for (const auto& p : check_template(c.text)) {
            EXPECT_EQ(p.pointer, "");
            messages.push_back(p.message);
        }
        EXPECT_EQ(messages, c.messages);
    }
}

}  // namespace
}  // namespace flowgate::flows
