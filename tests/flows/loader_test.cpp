#include "flows/loader.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/print.hpp"

namespace flowgate::flows {
namespace {

using nlohmann::json;

// A valid flow; each problem case below breaks one thing in a copy of it.
const char* const valid_flow = R"({
  "id": "workshop-signup",
  "name": "Workshop sign-up",
  "language": "en",
  "nodes": [
    {"id": "welcome", "send": ["Welcome @contact.name", {"en": "Reply STOP to stop", "ar": "أرسل STOP للإيقاف"}],
     "next": "ask_city"},
    {"id": "ask_city",
     "ask": {"en": "Which city? 1 Amman, 2 Irbid", "ar": "أي مدينة؟ ١ عمان ٢ إربد"},
     "result": "City",
     "cases": [
       {"test": "has_any_word", "args": ["amman", "عمان", 1], "category": "Amman", "next": "route_lang"},
       {"test": "has_number_eq", "args": [2], "category": "Irbid", "next": "route_lang"},
       {"test": "has_any_word", "args": ["irbid", "إربد"], "category": "Irbid", "next": "route_lang"},
       {"test": "has_number_between", "args": [2.5, "10"], "category": "Far"}
     ],
     "other": "ask_city",
     "timeout": "24h",
     "on_timeout": "remind"},
    {"id": "remind", "send": "Still there? Reply 1 or 2", "next": "ask_city"},
    {"id": "route_lang", "branch": "@contact.language",
     "cases": [{"test": "has_phrase", "args": ["ar"], "category": "Arabic", "next": "thanks_ar"}],
     "other": "thanks"},
    {"id": "thanks", "send": "Thanks @contact.name, see you in @results.city.category"},
    {"id": "thanks_ar", "send": {"en": "Thanks", "ar": "شكرا"}}
  ]
})";

TEST(load_flow, builds_the_model) {
    const load_result r = load_flow(json::parse(valid_flow));
    ASSERT_TRUE(r.problems.empty()) << r.problems[0].pointer << ": " << r.problems[0].message;
    ASSERT_TRUE(r.loaded);
    const flow& f = *r.loaded;
    EXPECT_EQ(f.id, "workshop-signup");
    EXPECT_EQ(f.name, "Workshop sign-up");
    EXPECT_EQ(f.language, "en");
    ASSERT_EQ(f.nodes.size(), 6u);

    const node& welcome = f.nodes[0];
    EXPECT_FALSE(welcome.router);
    ASSERT_EQ(welcome.actions.size(), 2u);
    EXPECT_EQ(std::get<send_action>(welcome.actions[0]).text, (lang_text{{"en", "Welcome @contact.name"}}));
    EXPECT_EQ(std::get<send_action>(welcome.actions[1]).text.at("ar"), "أرسل STOP للإيقاف");
    ASSERT_EQ(welcome.exits.size(), 1u);
    EXPECT_EQ(welcome.exits[0].destination, 1u);

    const node& ask = f.nodes[1];
    ASSERT_EQ(ask.actions.size(), 1u);
    EXPECT_EQ(std::get<send_action>(ask.actions[0]).text.at("ar"), "أي مدينة؟ ١ عمان ٢ إربد");
    ASSERT_TRUE(ask.router);
    const router& r1 = *ask.router;
    EXPECT_EQ(r1.operand, "@input.text");
    EXPECT_EQ(r1.result_name, "City");
    ASSERT_TRUE(r1.wait);
    EXPECT_EQ(r1.wait->timeout, std::chrono::hours(24));
    ASSERT_EQ(r1.cases.size(), 4u);
    EXPECT_EQ(r1.cases[0].arguments, (std::vector<std::string>{"amman", "عمان", "1"}));
    EXPECT_EQ(r1.cases[1].arguments, (std::vector<std::string>{"2"}));
    EXPECT_EQ(r1.cases[3].arguments, (std::vector<std::string>{"2.5", "10"}));
    // Amman, Irbid (shared by two cases), Far, Other, No Response: one exit each.
    ASSERT_EQ(r1.categories.size(), 5u);
    EXPECT_EQ(r1.cases[1].category, r1.cases[2].category);
    const std::vector<std::string> names = {"Amman", "Irbid", "Far", "Other", "No Response"};
    const std::vector<std::optional<std::size_t>> dests = {3u, 3u, std::nullopt, 1u, 2u};
    ASSERT_EQ(ask.exits.size(), 5u);
    for (std::size_t i = 0; i < names.size(); ++i) {
        SCOPED_TRACE(names[i]);
        EXPECT_EQ(r1.categories[i].name, names[i]);
        EXPECT_EQ(ask.exits[r1.categories[i].exit].destination, dests[i]);
    }
    EXPECT_EQ(r1.default_category, 3u);
    EXPECT_EQ(r1.wait->timeout_category, 4u);

    const node& branch = f.nodes[3];
    ASSERT_TRUE(branch.router);
    EXPECT_FALSE(branch.router->wait);
    EXPECT_EQ(branch.router->operand, "@contact.language");
    EXPECT_TRUE(branch.actions.empty());

    const node& thanks = f.nodes[4];
    ASSERT_EQ(thanks.exits.size(), 1u);
    EXPECT_FALSE(thanks.exits[0].destination);
}

TEST(load_flow, name_defaults_to_id) {
    const auto r =
        load_flow(json::parse(R"({"id": "x", "language": "ar", "nodes": [{"id": "a", "send": "hi"}]})"));
    ASSERT_TRUE(r.loaded);
    EXPECT_EQ(r.loaded->name, "x");
    EXPECT_EQ(std::get<send_action>(r.loaded->nodes[0].actions[0]).text, (lang_text{{"ar", "hi"}}));
}

struct problem_case {
    std::string label;
    std::string patch;  // RFC 6902 JSON patch applied to valid_flow
    flowgate::problems expected;
};

TEST(load_flow, reports_every_problem_with_a_pointer) {
    const std::vector<problem_case> cases = {
        {"not an object",
         R"([{"op": "replace", "path": "", "value": []}])",
         {{"", "must be a JSON object (a flow)"}}},
        {"unknown top-level key",
         R"([{"op": "add", "path": "/nodez", "value": []}])",
         {{"/nodez", "unknown key \"nodez\""}}},
        {"missing id", R"([{"op": "remove", "path": "/id"}])", {{"/id", "is required"}}},
        {"bad id",
         R"([{"op": "replace", "path": "/id", "value": "Sign Up"}])",
         {{"/id", "must use only a-z, 0-9, \"_\" and \"-\""}}},
        {"id not a string",
         R"([{"op": "replace", "path": "/id", "value": 3}])",
         {{"/id", "must be a string"}}},
        {"empty name",
         R"([{"op": "replace", "path": "/name", "value": ""}])",
         {{"/name", "must not be empty"}}},
        {"missing language", R"([{"op": "remove", "path": "/language"}])", {{"/language", "is required"}}},
        {"bad language",
         R"([{"op": "replace", "path": "/language", "value": "English"}])",
         {{"/language", "must be a language code such as \"en\" or \"ar\""}}},
        {"no nodes",
         R"([{"op": "replace", "path": "/nodes", "value": []}])",
         {{"/nodes", "must be a non-empty array of nodes"}}},
        {"missing nodes", R"([{"op": "remove", "path": "/nodes"}])", {{"/nodes", "is required"}}},
        {"unknown node key (a typo)",
         R"([{"op": "add", "path": "/nodes/2/nxet", "value": "ask_city"}])",
         {{"/nodes/2/nxet", "unknown key \"nxet\""}}},
        {"unknown case key",
         R"([{"op": "add", "path": "/nodes/1/cases/0/arg", "value": []}])",
         {{"/nodes/1/cases/0/arg", "unknown key \"arg\""}}},
        {"duplicate node id",
         R"([{"op": "replace", "path": "/nodes/5/id", "value": "thanks"}])",
         {{"/nodes/5/id", "the id \"thanks\" is already used by /nodes/4"},
          {"/nodes/3/cases/0/next", "no node has the id \"thanks_ar\""}}},
        {"bad node id",
         R"([{"op": "replace", "path": "/nodes/5/id", "value": "thanks ar"},
                            {"op": "replace", "path": "/nodes/3/cases/0/next", "value": "thanks ar"}])",
         {{"/nodes/5/id", "must use only A-Z, a-z, 0-9, \"_\" and \"-\""}}},
        {"node without id",
         R"([{"op": "remove", "path": "/nodes/2/id"}])",
         {{"/nodes/1/on_timeout", "no node has the id \"remind\""}, {"/nodes/2/id", "is required"}}},
        {"unknown next",
         R"([{"op": "replace", "path": "/nodes/0/next", "value": "ask_town"}])",
         {{"/nodes/0/next", "no node has the id \"ask_town\""}}},
        {"unknown case next",
         R"([{"op": "replace", "path": "/nodes/1/cases/0/next", "value": "nowhere"}])",
         {{"/nodes/1/cases/0/next", "no node has the id \"nowhere\""}}},
        {"unknown other",
         R"([{"op": "replace", "path": "/nodes/1/other", "value": "x"}])",
         {{"/nodes/1/other", "no node has the id \"x\""}}},
        {"unknown on_timeout",
         R"([{"op": "replace", "path": "/nodes/1/on_timeout", "value": "x"}])",
         {{"/nodes/1/on_timeout", "no node has the id \"x\""}}},
        {"same category, different next",
         R"([{"op": "replace", "path": "/nodes/1/cases/2/next", "value": "thanks"}])",
         {{"/nodes/1/cases/2/next",
           "the category \"Irbid\" already goes to \"route_lang\" in /nodes/1/cases/1; cases with the same "
           "category "
           "must have the same next"}}},
        {"same category, one without next",
         R"([{"op": "remove", "path": "/nodes/1/cases/2/next"}])",
         {{"/nodes/1/cases/2",
           "the category \"Irbid\" already goes to \"route_lang\" in /nodes/1/cases/1; cases with the same "
           "category "
           "must have the same next"}}},
        {"unknown test",
         R"([{"op": "replace", "path": "/nodes/1/cases/1/test", "value": "has_nmber_eq"}])",
         {{"/nodes/1/cases/1/test", "unknown test \"has_nmber_eq\""}}},
        {"missing test and category",
         R"([{"op": "remove", "path": "/nodes/1/cases/3/test"}, {"op": "remove", "path": "/nodes/1/cases/3/category"}])",
         {{"/nodes/1/cases/3/test", "is required"}, {"/nodes/1/cases/3/category", "is required"}}},
        {"bad number argument",
         R"([{"op": "replace", "path": "/nodes/1/cases/3/args/1", "value": "ten"}])",
         {{"/nodes/1/cases/3/args/1", "must be a number"}}},
        {"wrong argument count",
         R"([{"op": "replace", "path": "/nodes/1/cases/1/args", "value": [1, 2]}])",
         {{"/nodes/1/cases/1/args", "takes 1 argument"}}},
        {"argument of the wrong type",
         R"([{"op": "replace", "path": "/nodes/1/cases/0/args/1", "value": true}])",
         {{"/nodes/1/cases/0/args/1", "must be a string or a number"}}},
        {"args not an array",
         R"([{"op": "replace", "path": "/nodes/1/cases/0/args", "value": "amman"}])",
         {{"/nodes/1/cases/0/args", "must be an array of strings or numbers"}}},
        {"reserved category name",
         R"([{"op": "replace", "path": "/nodes/1/cases/3/category", "value": "Other"}])",
         {{"/nodes/1/cases/3/category",
           "\"Other\" is the name of a built-in category; choose another name"}}},
        {"cases not an array",
         R"([{"op": "replace", "path": "/nodes/3/cases", "value": {}}])",
         {{"/nodes/3/cases", "must be an array of cases"}}},
        {"unknown template variable",
         R"([{"op": "replace", "path": "/nodes/4/send", "value": "Bye @contact.nmae"}])",
         {{"/nodes/4/send", "unknown variable \"@contact.nmae\" (write @@ for a literal @)"}}},
        {"template problem in a translation",
         R"([{"op": "replace", "path": "/nodes/1/ask/ar", "value": "@foo.bar"}])",
         {{"/nodes/1/ask/ar", "unknown variable \"@foo.bar\" (write @@ for a literal @)"}}},
        {"template problem in a send array",
         R"([{"op": "replace", "path": "/nodes/0/send/1/en", "value": "mail info@example.org"}])",
         {{"/nodes/0/send/1/en", "unknown variable \"@example.org\" (write @@ for a literal @)"}}},
        {"template problem in a branch",
         R"([{"op": "replace", "path": "/nodes/3/branch", "value": "@contact.lang"}])",
         {{"/nodes/3/branch", "unknown variable \"@contact.lang\" (write @@ for a literal @)"}}},
        {"text without the base language",
         R"([{"op": "remove", "path": "/nodes/1/ask/en"}])",
         {{"/nodes/1/ask", "must have a text in the flow's language \"en\""}}},
        {"text with a bad language",
         R"([{"op": "add", "path": "/nodes/5/send/arabic", "value": "x"}])",
         {{"/nodes/5/send/arabic", "\"arabic\" is not a language code such as \"en\" or \"ar\""}}},
        {"text of the wrong type",
         R"([{"op": "replace", "path": "/nodes/4/send", "value": 5}])",
         {{"/nodes/4/send", "must be a text or an object of texts by language"}}},
        {"empty text",
         R"([{"op": "replace", "path": "/nodes/4/send", "value": ""}])",
         {{"/nodes/4/send", "must not be empty"}}},
        {"empty send array",
         R"([{"op": "replace", "path": "/nodes/0/send", "value": []}])",
         {{"/nodes/0/send", "must not be empty"}}},
        {"ask and branch together",
         R"([{"op": "add", "path": "/nodes/1/branch", "value": "@contact.name"}])",
         {{"/nodes/1/branch", "a node has \"ask\" or \"branch\", not both"}}},
        {"next on an ask node",
         R"([{"op": "add", "path": "/nodes/1/next", "value": "thanks"}])",
         {{"/nodes/1/next",
           "is only for a node without \"ask\" or \"branch\" (use the cases' \"next\" and \"other\")"}}},
        {"cases, other and result on a send node",
         R"([{"op": "add", "path": "/nodes/4/cases", "value": []}, {"op": "add", "path": "/nodes/4/other", "value": "x"},
             {"op": "add", "path": "/nodes/4/result", "value": "R"}])",
         {{"/nodes/4/cases", "is only for a node with \"ask\" or \"branch\""},
          {"/nodes/4/other", "is only for a node with \"ask\" or \"branch\""},
          {"/nodes/4/result", "is only for a node with \"ask\" or \"branch\""}}},
        {"a node that does nothing",
         R"([{"op": "remove", "path": "/nodes/4/send"}])",
         {{"/nodes/4",
           "a node needs \"send\", \"ask\", \"branch\", \"workshop\" or \"set_name\"/\"set_fields\""}}},
        {"contact changes with a bad field key, a non-text value and an unknown variable",
         R"([{"op": "add", "path": "/nodes/4/set_fields", "value": {"Home City": "x", "age": 3, "city": "@results.nope.x"}},
             {"op": "add", "path": "/nodes/4/set_name", "value": "@contact.nam.x"}])",
         {{"/nodes/4/set_name", "unknown variable \"@contact.nam.x\" (write @@ for a literal @)"},
          {"/nodes/4/set_fields/Home City", "a field key uses only a-z, 0-9 and \"_\""},
          {"/nodes/4/set_fields/age", "must be a string (a template)"},
          {"/nodes/4/set_fields/city", "unknown variable \"@results.nope.x\" (write @@ for a literal @)"}}},
        {"timeout on a branch",
         R"([{"op": "add", "path": "/nodes/3/timeout", "value": "1h"}])",
         {{"/nodes/3/timeout", "is only for a node with \"ask\""}}},
        {"bad duration",
         R"([{"op": "replace", "path": "/nodes/1/timeout", "value": "1 day"}])",
         {{"/nodes/1/timeout", "must be a duration such as \"30m\", \"24h\" or \"3d\""}}},
        {"timeout without on_timeout",
         R"([{"op": "remove", "path": "/nodes/1/on_timeout"}])",
         {{"/nodes/1/on_timeout", "is required with \"timeout\""}}},
        {"on_timeout without timeout",
         R"([{"op": "remove", "path": "/nodes/1/timeout"}])",
         {{"/nodes/1/on_timeout", "needs \"timeout\""}}},
        {"result without a letter",
         R"([{"op": "replace", "path": "/nodes/1/result", "value": "?!"}])",
         {{"/nodes/1/result", "must be a name with a letter or digit"}}},
        {"a node that is not an object",
         R"([{"op": "replace", "path": "/nodes/5", "value": "thanks_ar"}])",
         {{"/nodes/3/cases/0/next", "no node has the id \"thanks_ar\""},
          {"/nodes/5", "must be an object (a node)"}}},
        {"keys with / and ~ are escaped in pointers",
         R"([{"op": "add", "path": "/a~1b~0c", "value": 1}])",
         {{"/a~1b~0c", "unknown key \"a/b~c\""}}},
        {"several problems at once",
         R"([{"op": "replace", "path": "/id", "value": "Bad Id"}, {"op": "replace", "path": "/nodes/0/next", "value": "nope"},
             {"op": "replace", "path": "/nodes/1/cases/1/args/0", "value": "two"}])",
         {{"/id", "must use only a-z, 0-9, \"_\" and \"-\""},
          {"/nodes/0/next", "no node has the id \"nope\""},
          {"/nodes/1/cases/1/args/0", "must be a number"}}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const json doc = json::parse(valid_flow).patch(json::parse(c.patch));
        const load_result r = load_flow(doc);
        EXPECT_EQ(r.problems, c.expected);
        EXPECT_FALSE(r.loaded);
    }
}

}  // namespace
}  // namespace flowgate::flows

namespace flowgate::flows {
namespace {

struct warning_case {
    const char* label;
    std::string doc;
    std::vector<std::string> expected;  // "pointer: message"
};

TEST(load_flow, warns_about_long_texts_and_surveys_that_do_not_say_how_to_stop) {
    const std::string arabic_150 = [] {
        std::string s;
        for (int i = 0; i < 150; ++i) {
            s += "ب";
        }
        return s;
    }();
    const std::string ascii_400(400, 'a');
    const std::vector<warning_case> cases = {
        {"short texts, no warning",
         R"({"id": "a", "language": "en", "nodes": [{"id": "n", "send": {"en": "Hi", "ar": "مرحبا"}}]})",
         {}},
        {"an Arabic text of three UCS-2 segments",
         R"({"id": "a", "language": "en", "nodes": [{"id": "n", "send": {"en": "Hi", "ar": ")" + arabic_150 +
             R"("}}]})",
         {"/nodes/0/send/ar: is 3 SMS segments long (UCS-2); keep a message to 2 segments"}},
        {"a GSM-7 question of three segments",
         R"({"id": "a", "language": "en", "nodes": [{"id": "n", "ask": ")" + ascii_400 +
             R"(", "cases": [{"test": "has_text", "category": "Any"}]}]})",
         {"/nodes/0/ask: is 3 SMS segments long (GSM-7); keep a message to 2 segments"}},
        {"a survey whose first message names STOP in one language only",
         R"({"id": "s", "language": "en", "kind": "survey",
             "nodes": [{"id": "n", "send": {"en": "Hi! Reply STOP to opt out", "ar": "مرحبا"}}]})",
         {"/nodes/0/send/ar: a survey's first message should say how to opt out, e.g. \"Reply STOP to get no "
          "more messages\""}},
        {"an Arabic stop word counts",
         R"({"id": "s", "language": "ar", "kind": "survey", "nodes": [{"id": "n", "send": "لإيقاف الرسائل أرسلوا توقف"}]})",
         {}},
        {"a conversation need not name STOP",
         R"({"id": "s", "language": "en", "kind": "conversation", "nodes": [{"id": "n", "send": "Hi"}]})",
         {}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const load_result r = load_flow(json::parse(c.doc));
        EXPECT_TRUE(r.problems.empty()) << (r.problems.empty() ? "" : r.problems[0].message);
        std::vector<std::string> got;
        for (const auto& w : r.warnings) {
            got.push_back(w.pointer + ": " + w.message);
        }
        EXPECT_EQ(got, c.expected);
    }
    const load_result bad = load_flow(json::parse(
        R"({"id": "s", "language": "en", "kind": "quiz", "nodes": [{"id": "n", "send": "Hi"}]})"));
    ASSERT_EQ(bad.problems.size(), 1u);
    EXPECT_EQ(bad.problems[0].pointer, "/kind");
}

}  // namespace
}  // namespace flowgate::flows
