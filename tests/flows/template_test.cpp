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
        {"an e-mail address stays as written", "mail info@example.org", "mail info@example.org"},
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
         "@results.x.value @results.x.category @results.x.category_localized @results.x.input @input "
         "@input.text "
         "@run.flow @run.flow.name @run.flow.uuid @run.flow.id @run.created_on",
         {}},
        {"run needs a property", "@run", {"unknown variable \"@run\"" + hint}},
        {"unknown run property", "@run.status", {"unknown variable \"@run.status\"" + hint}},
        {"literal @ forms", "a @ b, @@x.y, @5, see you @home", {}},
        {"unknown root with a property", "@foo.bar", {"unknown variable \"@foo.bar\"" + hint}},
        {"an e-mail address needs @@",
         "write to info@example.org",
         {"unknown variable \"@example.org\"" + hint}},
        {"an e-mail address with @@", "write to info@@example.org", {}},
        {"unknown contact property", "@contact.phone", {"unknown variable \"@contact.phone\"" + hint}},
        {"contact.fields needs a name", "@contact.fields", {"unknown variable \"@contact.fields\"" + hint}},
        {"fields needs a name", "@fields", {"unknown variable \"@fields\"" + hint}},
        {"results needs a key", "@results", {"unknown variable \"@results\"" + hint}},
        {"unknown result property", "@results.city.name", {"unknown variable \"@results.city.name\"" + hint}},
        {"too deep", "@input.text.foo", {"unknown variable \"@input.text.foo\"" + hint}},
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

TEST(render, evaluates_expressions_and_run_variables) {
    contact_view contact{"c-uuid-1", "rania", "ar", {{"district", "marka"}, {"birthday", "1990-03-05"}}};
    session run;
    run.flow_id = "workshop-signup";
    run.started_at = from_millis(1772703000000);  // 2026-03-05T09:30:00Z
    run.results["city"] = {"City", "1", "Amman", " 1 ", "ask_city", {}};
    const template_context ctx{contact, run, "join amman", "Workshop sign-up"};
    const template_context without_name{contact, run, "join amman"};

    const std::vector<render_case> cases = {
        {"function", "Hi @(upper(contact.name))!", "Hi RANIA!"},
        {"expression then a full stop", "Hi @(title(contact.name)).", "Hi Rania."},
        {"two expressions and a variable",
         "@(title(fields.district)), @results.city.category: @(word(input.text, 1))",
         "Marka, Amman: amman"},
        {"Arabic choice",
         "@(if(results.city.category = \"Amman\", \"نراكم في عمان\", \"نراكم قريبا\"))",
         "نراكم في عمان"},
        {"Arabic around an expression", "مرحبا @(title(contact.name))!", "مرحبا Rania!"},
        {"date", "Born @(format_date(fields.birthday, \"D MMMM YYYY\")).", "Born 5 March 1990."},
        {"a runtime error renders as nothing", "[@(format_date(contact.name))]", "[]"},
        {"division by zero renders as nothing", "[@(1 / 0)]", "[]"},
        {"a missing field is empty in expressions too", "[@(fields.nothing)]", "[]"},
        {"default fills a missing field", "Hi @(default(fields.nickname, contact.name))", "Hi rania"},
        {"a parenthesis inside a text", "@(\"a)b\" & \")\") after", "a)b) after"},
        {"an unclosed expression stays as written", "x @(upper(contact.name) y", "x @(upper(contact.name) y"},
        {"@@( is a literal", "@@(x)", "@(x)"},
        {"flow name", "@run.flow / @run.flow.name", "Workshop sign-up / Workshop sign-up"},
        {"flow id", "@run.flow.uuid @run.flow.id", "workshop-signup workshop-signup"},
        {"run start", "@run.created_on", "2026-03-05T09:30:00.000Z"},
        {"run start as a date", "@(format_date(run.created_on, \"EEEE D MMM\"))", "Thursday 5 Mar"},
        {"results in expressions", "@(results.city.value + 1) @(results.city.category_localized)", "2 Amman"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        EXPECT_EQ(render(c.text, ctx), c.expected);
    }
    EXPECT_EQ(render("@run.flow", without_name), "workshop-signup");
    EXPECT_EQ(render("@(upper(run.flow.name))", without_name), "WORKSHOP-SIGNUP");
    session unstarted;
    EXPECT_EQ(render("[@run.created_on]", {contact, unstarted, ""}), "[]");
}

TEST(check_template, reports_problems_in_expressions) {
    const std::string hint = " (write @@ for a literal @)";
    const std::vector<check_case> cases = {
        {"valid expressions",
         "@(upper(contact.name)) @(if(results.city.category = \"Amman\", \"a\", \"b\")) "
         "@(format_date(fields.birthday, \"D MMMM YYYY\")) @(run.flow & run.created_on)",
         {}},
        {"unknown function", "@(uper(contact.name))", {"@(uper(contact.name)): unknown function \"uper\""}},
        {"unknown variable",
         "Hi @(upper(contact.phone))",
         {"@(upper(contact.phone)): unknown variable \"contact.phone\""}},
        {"unknown root", "@(foo & 1)", {"@(foo & 1): unknown variable \"foo\""}},
        {"a field needs a name", "@(fields)", {"@(fields): unknown variable \"fields\""}},
        {"wrong argument count", "@(upper())", {"@(upper()): function \"upper\" takes 1 argument, not 0"}},
        {"syntax error", "@(1 +)", {"@(1 +): syntax error: expected a value at the end"}},
        {"empty expression", "@()", {"@(): syntax error: an empty expression"}},
        {"invalid date format",
         "@(format_date(fields.birthday, \"YYYYY\"))",
         {"@(format_date(fields.birthday, \"YYYYY\")): invalid date format \"YYYYY\" (use YYYY, YY, MMMM, "
          "MMM, "
          "MM, M, DD, D, EEEE, EEE)"}},
        {"unclosed", "Hi @(upper(contact.name)", {"\"@(upper(contact.name)\" has no closing \")\"" + hint}},
        {"variables, then functions",
         "@(uper(contact.phone))",
         {"@(uper(contact.phone)): unknown variable \"contact.phone\"",
          "@(uper(contact.phone)): unknown function \"uper\""}},
        {"long expressions are cut in messages",
         "@(upper(\"" + std::string(80, 'x') + "\") & nope)",
         {"@(upper(\"" + std::string(51, 'x') + "...: unknown variable \"nope\""}},
        {"every expression is checked",
         "@(uper(1)) and @contact.phone and @(lowr(2))",
         {"@(uper(1)): unknown function \"uper\"",
          "unknown variable \"@contact.phone\"" + hint,
          "@(lowr(2)): unknown function \"lowr\""}},
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
