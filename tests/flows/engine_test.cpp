#include "flows/engine.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "flows/loader.hpp"
#include "flows/segments.hpp"
#include "tests/flows/transcript.hpp"

namespace flowgate::flows {

// Readable failures instead of bytes.
[[maybe_unused]] static void PrintTo(const session& s, std::ostream* os) { *os << to_json(s).dump(); }
[[maybe_unused]] static void PrintTo(const result_value& r, std::ostream* os) {
    *os << r.name << "=" << r.value << " (" << r.category << ") input=" << r.input << " node=" << r.node_id
        << " at=" << to_millis(r.created_at);
}

namespace {

using nlohmann::json;
using namespace playback;

// Small flows written for these transcripts; each shows one part of the engine's behaviour.
const char* const signup_flow = R"({
  "id": "signup", "language": "en",
  "nodes": [
    {"id": "welcome", "send": {"en": "Welcome!", "ar": "أهلا!"}, "next": "ask_city"},
    {"id": "ask_city", "ask": {"en": "City? 1 Amman 2 Irbid 3 Zarqa", "ar": "المدينة؟ ١ عمان ٢ إربد ٣ الزرقاء"},
     "result": "City",
     "cases": [
       {"test": "has_any_word", "args": ["amman", "عمان", 1], "category": "Amman", "next": "ask_day"},
       {"test": "has_any_word", "args": ["irbid", "إربد", 2], "category": "Irbid", "next": "ask_day"},
       {"test": "has_any_word", "args": ["zarqa", "الزرقاء", 3], "category": "Zarqa", "next": "ask_day"}
     ],
     "other": "city_hint", "timeout": "1h", "on_timeout": "remind"},
    {"id": "city_hint", "send": "Please reply 1, 2 or 3", "next": "ask_city"},
    {"id": "remind", "send": "Still there?", "next": "ask_city"},
    {"id": "ask_day", "ask": {"en": "Day? 1-3", "ar": "اليوم؟ ١-٣"}, "result": "Day",
     "cases": [{"test": "has_number_between", "args": [1, 3], "category": "Valid", "next": "done"}],
     "other": "ask_day"},
    {"id": "done", "send": {"en": "See you in @results.city.category on day @results.day, @contact.name",
                            "ar": "نراك في @results.city.category يوم @results.day"}}
  ]
})";

// Its first node asks: the trigger message is not taken as the answer.
const char* const quiz_flow = R"({
  "id": "quiz", "language": "en",
  "nodes": [
    {"id": "rate", "ask": "Rate us 1 to 5", "result": "Rating",
     "cases": [{"test": "has_number_between", "args": [1, 5], "category": "Rated", "next": "thanks"}],
     "other": "rate_again"},
    {"id": "rate_again", "ask": "Please send a number from 1 to 5", "result": "Rating",
     "cases": [{"test": "has_number_between", "args": [1, 5], "category": "Rated", "next": "thanks"}]},
    {"id": "thanks", "send": "Thanks, you gave @results.rating"}
  ]
})";

const char* const loop_flow = R"({
  "id": "loop", "language": "en",
  "nodes": [
    {"id": "a", "branch": "@input", "other": "b"},
    {"id": "b", "send": "tick", "next": "a"}
  ]
})";

const char* const lang_flow = R"({
  "id": "lang", "language": "en",
  "nodes": [
    {"id": "hello", "send": [{"en": "Hello", "ar": "مرحبا", "fr": "Bonjour"}, "English only"], "next": "route"},
    {"id": "route", "branch": "@contact.language",
     "cases": [{"test": "has_phrase", "args": ["ar"], "category": "Arabic", "next": "arabic"}],
     "other": "other"},
    {"id": "arabic", "send": {"en": "Arabic speaker", "ar": "تتحدث العربية"}},
    {"id": "other", "send": "Other speaker"}
  ]
})";

const char* const salam_flow = R"({
  "id": "salam", "language": "ar",
  "nodes": [{"id": "hi", "send": [{"ar": "سلام", "en": "Peace"}, "عربي فقط"]}]
})";

flow load(const char* text) {
    auto r = load_flow(json::parse(text));
    EXPECT_TRUE(r.problems.empty()) << r.problems.front().pointer << ": " << r.problems.front().message;
    return std::move(*r.loaded);
}

flow_set test_flows() {
    flow_set set;
    for (const char* f : {signup_flow, quiz_flow, loop_flow, lang_flow, salam_flow}) {
        set.add(load(f));
    }
    return set;
}

std::vector<keyword_trigger> test_triggers() {
    return {
        {{"JOIN", "انضم"}, "signup", keyword_trigger::match::first_word},
        {{"survey"}, "quiz", keyword_trigger::match::first_word},
        {{"LOOP"}, "loop", keyword_trigger::match::first_word},
        {{"INFO"}, "lang", keyword_trigger::match::only_word},
        {{"SALAM"}, "salam", keyword_trigger::match::only_word},
    };
}

struct transcript {
    std::string label;
    std::string language;  // the contact's
    std::vector<step> steps;
    std::optional<session> initial = std::nullopt;
};

std::vector<std::string> ticks(int n) {
    std::vector<std::string> out = {"start loop"};
    for (int i = 0; i < n; ++i) {
        out.push_back("send tick");
    }
    out.push_back("end loop failed");
    return out;
}

TEST(engine, transcripts) {
    const std::string city_q = "send City? 1 Amman 2 Irbid 3 Zarqa";
    const std::vector<std::string> joined = {"start signup", "send Welcome!", city_q};
    session stale;
    stale.flow_id = "removed-flow";
    stale.node_id = "ask";

    const std::vector<transcript> cases = {
        {"sign-up in English words",
         "",
         {msg("JOIN", 0, joined, true),
          msg("Amman", 1, {"save city=Amman (Amman)", "send Day? 1-3"}, true),
          msg("2",
              2,
              {"save day=2 (Valid)", "send See you in Amman on day 2, Rania", "end signup completed"},
              false)}},
        {"Arabic-Indic digit answers",
         "",
         {msg("join", 0, joined, true),
          msg("\xD9\xA3", 1, {"save city=\xD9\xA3 (Zarqa)", "send Day? 1-3"}, true),
          msg("\xD9\xA1",
              2,
              {"save day=1 (Valid)", "send See you in Zarqa on day 1, Rania", "end signup completed"},
              false)}},
        {"Persian digit, spaces and a full stop",
         "",
         {msg("JOIN", 0, joined, true),
          msg("\xDB\xB3", 1, {"save city=\xDB\xB3 (Zarqa)", "send Day? 1-3"}, true),
          msg(" 3 ",
              2,
              {"save day=3 (Valid)", "send See you in Zarqa on day 3, Rania", "end signup completed"},
              false)}},
        {"an answer with a full stop",
         "",
         {msg("JOIN", 0, joined, true), msg("3.", 1, {"save city=3 (Zarqa)", "send Day? 1-3"}, true)}},
        {"Arabic contact, Arabic keyword and a shadda in the answer",
         "ar",
         {msg("\xD8\xA7\xD9\x86\xD8\xB6\xD9\x85",
              0,
              {"start signup", "send أهلا!", "send المدينة؟ ١ عمان ٢ إربد ٣ الزرقاء"},
              true),
          msg("\xD8\xB9\xD9\x85\xD9\x91\xD8\xA7\xD9\x86",
              1,
              {"save city=\xD8\xB9\xD9\x85\xD9\x91\xD8\xA7\xD9\x86 (Amman)", "send اليوم؟ ١-٣"},
              true),
          msg("\xD9\xA2",
              2,
              {"save day=2 (Valid)", "send نراك في Amman يوم 2", "end signup completed"},
              false)}},
        {"no match gives a hint and asks again",
         "",
         {msg("JOIN", 0, joined, true),
          msg("Paris", 1, {"save city=Paris (Other)", "send Please reply 1, 2 or 3", city_q}, true),
          msg("irbid", 2, {"save city=irbid (Irbid)", "send Day? 1-3"}, true),
          msg("7", 3, {"save day=7 (Other)", "send Day? 1-3"}, true)}},
        {"the wait times out into the reminder",
         "",
         {msg("JOIN", 0, joined, true),
          timeout(60, {"save city= (No Response)", "send Still there?", city_q}, true),
          msg("1", 61, {"save city=1 (Amman)", "send Day? 1-3"}, true)}},
        {"a wait without a timeout category expires the run",
         "",
         {msg("survey", 0, {"start quiz", "send Rate us 1 to 5"}, true),
          msg("x", 1, {"save rating=x (Other)", "send Please send a number from 1 to 5"}, true),
          timeout(600, {"end quiz expired"}, false)}},
        {"the trigger message does not answer the question its first node asks",
         "",
         {msg("SURVEY 4", 0, {"start quiz", "send Rate us 1 to 5"}, true),
          msg("4", 1, {"save rating=4 (Rated)", "send Thanks, you gave 4", "end quiz completed"}, false)}},
        {"a started run waits on its first node as usual",
         "",
         {start("quiz", 0, {"start quiz", "send Rate us 1 to 5"}, true),
          msg("5", 1, {"save rating=5 (Rated)", "send Thanks, you gave 5", "end quiz completed"}, false)}},
        {"an Arabic-Indic digit answers the first question",
         "",
         {msg("Survey please", 0, {"start quiz", "send Rate us 1 to 5"}, true),
          msg("\xD9\xA4",
              1,
              {"save rating=4 (Rated)", "send Thanks, you gave 4", "end quiz completed"},
              false)}},
        {"no match and no other ends the run",
         "",
         {msg("survey", 0, {"start quiz", "send Rate us 1 to 5"}, true),
          msg("x", 1, {"save rating=x (Other)", "send Please send a number from 1 to 5"}, true),
          msg("nine", 2, {"save rating=nine (Other)", "end quiz completed"}, false)}},
        {"a keyword interrupts the current run",
         "",
         {msg("JOIN", 0, joined, true),
          msg("survey 3", 1, {"end signup interrupted", "start quiz", "send Rate us 1 to 5"}, true),
          msg("3", 2, {"save rating=3 (Rated)", "send Thanks, you gave 3", "end quiz completed"}, false)}},
        {"the same keyword restarts the flow",
         "",
         {msg("JOIN", 0, joined, true),
          msg("join!", 1, {"end signup interrupted", "start signup", "send Welcome!", city_q}, true)}},
        {"a keyword that is not the first word is an answer",
         "",
         {msg("JOIN", 0, joined, true), msg("1 join", 1, {"save city=1 (Amman)", "send Day? 1-3"}, true)}},
        {"an only-word keyword needs the message to be that word",
         "",
         {msg("info please", 0, {}, false),
          msg("  Info. ",
              1,
              {"start lang", "send Hello", "send English only", "send Other speaker", "end lang completed"},
              false)}},
        {"the loop guard ends a run that never waits", "", {msg("loop", 0, ticks(50), false)}},
        {"no session and no keyword: not handled", "", {msg("hello", 0, {}, false)}},
        {"staff start interrupts the current run",
         "",
         {msg("JOIN", 0, joined, true),
          start("quiz", 1, {"end signup interrupted", "start quiz", "send Rate us 1 to 5"}, true)}},
        {"a session whose flow was removed ends and the message finds no trigger",
         "",
         {msg("hello", 0, {"end removed-flow interrupted"}, false)},
         stale},
        {"a session whose flow was removed ends and the message starts a flow",
         "",
         {msg("JOIN", 0, {"end removed-flow interrupted", "start signup", "send Welcome!", city_q}, true)},
         stale},
        {"language: the contact's language",
         "ar",
         {msg("INFO",
              0,
              {"start lang", "send مرحبا", "send English only", "send تتحدث العربية", "end lang completed"},
              false)}},
        {"language: a language the deployment does not use falls back",
         "fr",
         {msg("INFO",
              0,
              {"start lang", "send Hello", "send English only", "send Other speaker", "end lang completed"},
              false)}},
        {"language: unknown contact language gets the deployment's default, then the base",
         "",
         {msg("SALAM", 0, {"start salam", "send Peace", "send عربي فقط", "end salam completed"}, false)}},
    };

    const flow_set flows = test_flows();
    const engine eng(flows, test_triggers(), environment{{"en", "ar"}});
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        playback::play(flows, eng, contact_view{"c-1", "Rania", c.language, {}}, c.initial, c.steps);
    }
}

TEST(engine, session_records_the_wait) {
    const flow_set flows = test_flows();
    const engine eng(flows, test_triggers(), environment{{"en"}});
    const contact_view contact{"c-1", "", "", {}};

    struct wait_case {
        std::string label;
        std::string text;
        std::string node_id;
        std::optional<timestamp> expires;
    };
    const std::vector<wait_case> cases = {
        {"a wait with a timeout expires after it", "JOIN", "ask_city", at(5) + std::chrono::hours(1)},
        {"a wait without a timeout never expires", "survey", "rate", std::nullopt},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const auto out = eng.on_message(std::nullopt, contact, c.text, at(5));
        ASSERT_TRUE(out.session);
        EXPECT_EQ(out.session->node_id, c.node_id);
        EXPECT_EQ(out.session->started_at, at(5));
        EXPECT_EQ(out.session->waiting_since, at(5));
        EXPECT_EQ(out.session->wait_expires_at, c.expires);
    }
}

TEST(engine, results_are_kept_in_the_session) {
    const flow_set flows = test_flows();
    const engine eng(flows, test_triggers(), environment{{"en"}});
    const contact_view contact{"c-1", "", "", {}};
    auto out = eng.on_message(std::nullopt, contact, "JOIN", at(0));
    out = eng.on_message(out.session, contact, " \xD8\xA5\xD8\xB1\xD8\xA8\xD8\xAF ", at(3));  // إربد
    ASSERT_TRUE(out.session);
    const auto& r = out.session->results.at("city");
    EXPECT_EQ(r,
              (result_value{"City",
                            "\xD8\xA5\xD8\xB1\xD8\xA8\xD8\xAF",
                            "Irbid",
                            " \xD8\xA5\xD8\xB1\xD8\xA8\xD8\xAF ",
                            "ask_city",
                            at(3)}));
    EXPECT_EQ(out.session->started_at, at(0));
    EXPECT_EQ(out.session->waiting_since, at(3));
}

struct trigger_case {
    std::string text;
    std::optional<std::string> flow;
};

TEST(engine, match_trigger) {
    const flow_set flows = test_flows();
    const engine eng(flows, test_triggers(), environment{});
    const std::vector<trigger_case> cases = {
        {"JOIN", "signup"},
        {"join", "signup"},
        {" Join! ", "signup"},
        {"JOIN me up", "signup"},
        {"\xD8\xA7\xD9\x86\xD8\xB6\xD9\x85", "signup"},
        {"\xE2\x80\x8F\xD8\xA7\xD9\x86\xD8\xB6\xD9\x85 \xD9\xA1", "signup"},  // RLM + انضم ١
        {"JOINED", std::nullopt},
        {"re join", std::nullopt},
        {"SURVEY", "quiz"},
        {"INFO", "lang"},
        {"info?", "lang"},
        {"INFO please", std::nullopt},
        {"", std::nullopt},
        {"...", std::nullopt},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE("\"" + c.text + "\"");
        const keyword_trigger* t = eng.match_trigger(c.text);
        ASSERT_EQ(t != nullptr, c.flow.has_value());
        if (t != nullptr) {
            EXPECT_EQ(t->flow_id, *c.flow);
        }
    }
}

TEST(session_json, timestamps_are_integer_milliseconds) {
    session s;
    s.flow_id = "signup";
    s.node_id = "ask_city";
    s.started_at = from_millis(1000);
    s.waiting_since = from_millis(2000);
    s.wait_expires_at = from_millis(3000);
    s.results["city"] = {"City", "1", "Amman", "1", "ask_city", from_millis(1500)};

    struct json_case {
        std::string label;
        std::optional<timestamp> expires;
        json expected;
    };
    const json results = {{"city",
                           {{"name", "City"},
                            {"value", "1"},
                            {"category", "Amman"},
                            {"input", "1"},
                            {"node_id", "ask_city"},
                            {"created_at", 1500}}}};
    const std::vector<json_case> cases = {
        {"with an expiry",
         from_millis(3000),
         {{"flow_id", "signup"},
          {"node_id", "ask_city"},
          {"results", results},
          {"started_at", 1000},
          {"waiting_since", 2000},
          {"wait_expires_at", 3000}}},
        {"without an expiry",
         std::nullopt,
         {{"flow_id", "signup"},
          {"node_id", "ask_city"},
          {"results", results},
          {"started_at", 1000},
          {"waiting_since", 2000}}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        s.wait_expires_at = c.expires;
        EXPECT_EQ(to_json(s), c.expected);
        EXPECT_EQ(session_from_json(c.expected), s);
    }
}

TEST(session_json, malformed_documents_throw) {
    const std::vector<std::string> cases = {
        R"({})",
        R"({"flow_id": "f", "node_id": "n", "results": {}, "started_at": "soon", "waiting_since": 0})",
        R"({"flow_id": "f", "node_id": "n", "results": {"x": {}}, "started_at": 0, "waiting_since": 0})",
        R"([])",
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c);
        EXPECT_THROW(session_from_json(json::parse(c)), json::exception);
    }
}

TEST(session_json, subflow_and_webhook_fields_round_trip) {
    session s;
    s.flow_id = "child";
    s.node_id = "call";
    s.started_at = from_millis(5000);
    s.waiting_since = from_millis(6000);
    s.wait_expires_at = from_millis(66000);
    s.webhook = webhook_wait{2, "CRM", "POST https://crm.example.org/x"};
    s.last_webhook = webhook_response{503, "busy"};
    s.parents.push_back({"parent",
                         "enter",
                         1,
                         {{"city", {"City", "1", "Amman", "1", "ask", from_millis(10)}}},
                         from_millis(1)});
    const json expected = {
        {"flow_id", "child"},
        {"node_id", "call"},
        {"results", json::object()},
        {"started_at", 5000},
        {"waiting_since", 6000},
        {"wait_expires_at", 66000},
        {"webhook",
         {{"next_action", 2}, {"result_name", "CRM"}, {"request", "POST https://crm.example.org/x"}}},
        {"last_webhook", {{"status", 503}, {"body", "busy"}}},
        {"parents",
         {{{"flow_id", "parent"},
           {"node_id", "enter"},
           {"next_action", 1},
           {"results",
            {{"city",
              {{"name", "City"},
               {"value", "1"},
               {"category", "Amman"},
               {"input", "1"},
               {"node_id", "ask"},
               {"created_at", 10}}}}},
           {"started_at", 1}}}},
    };
    EXPECT_EQ(to_json(s), expected);
    EXPECT_EQ(session_from_json(expected), s);
}

// Flows built as the model (no loader): actions around a webhook, contact changes within a step.
flow_set model_flows() {
    flow f;
    f.id = "hook";
    f.name = "Hook";
    f.language = "en";
    webhook_action call;
    call.method = "POST";
    call.url = "https://x.example.org/@contact.name";
    call.headers = {{"X-Name", "@contact.name"}};
    call.body = "@fields.city";
    call.result_name = "Call";
    node n;
    n.id = "n";
    n.actions = {set_name_action{"Rania Haddad"},
                 set_field_action{"city", "City", "Irbid"},
                 send_action{{{"en", "Hi @contact.name from @fields.city"}}, {{"en", {"Yes", "No"}}}},
                 call,
                 send_action{{{"en", "After: @results.call.category"}}}};
    router r;
    r.operand = "@webhook.status";
    r.kind = operand_kind::webhook_status;
    r.cases = {{"has_number_between", {"200", "299"}, 0}};
    r.categories = {{"Success", 0}, {"Failure", 1}};
    r.default_category = 1;
    n.router = r;
    n.exits = {{std::nullopt}, {std::nullopt}};
    f.nodes.push_back(n);
    flow_set set;
    set.add(f);
    return set;
}

TEST(engine, webhook_waits_and_resumes_after_its_action) {
    const flow_set flows = model_flows();
    const engine eng(flows, {}, environment{{"en"}});
    const contact_view contact{"c-1", "R", "", {}};
    const auto started = eng.start("Hook", std::nullopt, contact, at(0));
    ASSERT_TRUE(started.session);
    ASSERT_EQ(started.effects.size(), 5u);
    EXPECT_EQ(std::get<contact_name_changed>(started.effects[1]).name, "Rania Haddad");
    EXPECT_EQ(std::get<contact_field_changed>(started.effects[2]).value, "Irbid");
    EXPECT_EQ(std::get<send_msg>(started.effects[3]).text, "Hi Rania Haddad from Irbid\n1 Yes\n2 No");
    const auto& call = std::get<webhook_call>(started.effects[4]);
    EXPECT_EQ(call.url, "https://x.example.org/Rania%20Haddad");  // what a URL cannot carry is escaped
    EXPECT_EQ(call.headers, (std::vector<std::pair<std::string, std::string>>{{"X-Name", "Rania Haddad"}}));
    EXPECT_EQ(call.body, "Irbid");
    EXPECT_EQ(call.node_id, "n");
    ASSERT_TRUE(started.session->webhook);
    EXPECT_EQ(started.session->wait_expires_at, at(0) + std::chrono::seconds(60));

    struct resume_case {
        int status;
        std::string after;
        std::string category;
    };
    for (const auto& c : std::vector<resume_case>{{200, "After: Success", "Success"},
                                                  {299, "After: Success", "Success"},
                                                  {300, "After: Failure", "Failure"},
                                                  {0, "After: Failure", "Failure"}}) {
        SCOPED_TRACE(c.status);
        const auto out = eng.on_webhook_result(*started.session, contact, c.status, "{}", at(1));
        EXPECT_TRUE(out.handled);
        EXPECT_FALSE(out.session);
        ASSERT_EQ(out.effects.size(), 3u);
        const auto& saved = std::get<result_saved>(out.effects[0]).value;
        EXPECT_EQ(saved,
                  (result_value{"Call",
                                std::to_string(c.status),
                                c.category,
                                "POST https://x.example.org/Rania%20Haddad",
                                "n",
                                at(1)}));
        EXPECT_EQ(std::get<send_msg>(out.effects[1]).text, c.after);
        EXPECT_EQ(std::get<run_ended>(out.effects[2]).status, run_status::completed);
    }

    // A message meanwhile changes nothing; a response to a session that does not wait is dropped.
    const auto msg_out = eng.on_message(started.session, contact, "hello", at(1));
    EXPECT_FALSE(msg_out.handled);
    EXPECT_EQ(msg_out.session, started.session);
    session not_waiting = *started.session;
    not_waiting.webhook.reset();
    const auto dropped = eng.on_webhook_result(not_waiting, contact, 200, "", at(1));
    EXPECT_FALSE(dropped.handled);
    EXPECT_TRUE(dropped.effects.empty());
}

TEST(result_key, snake_cases_result_names) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"City", "city"},
        {"Workshop City", "workshop_city"},
        {"  Preferred -- Day! ", "preferred_day"},
        {"Age (years)", "age_years"},
        {"Q1", "q1"},
        {"already_snake", "already_snake"},
        {"__x__", "x"},
        {"\xD8\xA7\xD9\x84\xD9\x85\xD8\xAF\xD9\x8A\xD9\x86\xD8\xA9 "
         "\xD8\xA7\xD9\x84\xD9\x85\xD9\x81\xD8\xB6\xD9\x84\xD8\xA9",
         "\xD8\xA7\xD9\x84\xD9\x85\xD8\xAF\xD9\x8A\xD9\x86\xD8\xA9_"
         "\xD8\xA7\xD9\x84\xD9\x85\xD9\x81\xD8\xB6\xD9\x84\xD8\xA9"},
        {"\xC3\x89t\xC3\xA9 2024", "\xC3\xA9t\xC3\xA9_2024"},  // Été 2024 → été_2024
        {"?!", ""},
    };
    for (const auto& [name, key] : cases) {
        SCOPED_TRACE(name);
        EXPECT_EQ(result_key(name), key);
    }
}

TEST(flow_set, finds_by_id_then_by_name) {
    flow_set set;
    set.add(flow{"signup", "Sign-up", "en", {}});
    set.add(flow{"survey", "signup", "en", {}});
    set.add(flow{"survey", "Survey v2", "en", {}});  // the same id again replaces
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"signup", "Sign-up"},
        {"survey", "Survey v2"},
        {"Sign-up", "Sign-up"},
        {"Survey v2", "Survey v2"},
        {"nothing", ""},
    };
    EXPECT_EQ(set.all().size(), 2u);
    for (const auto& [query, name] : cases) {
        SCOPED_TRACE(query);
        const flow* f = set.find(query);
        EXPECT_EQ(f != nullptr ? f->name : "", name);
    }
}

TEST(flow, finds_nodes_by_id) {
    const flow f = load(signup_flow);
    const std::vector<std::pair<std::string, std::optional<std::size_t>>> cases = {
        {"welcome", 0}, {"ask_city", 1}, {"done", 5}, {"nope", std::nullopt}, {"", std::nullopt}};
    for (const auto& [id, index] : cases) {
        SCOPED_TRACE(id);
        EXPECT_EQ(f.node_index(id), index);
        EXPECT_EQ(f.find_node(id), index ? &f.nodes[*index] : nullptr);
    }
}

// The example menu (docs/examples/city-signup.json) loads and runs.
std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

TEST(city_signup_example, transcripts) {
    const std::string text = read_file(std::string(FLOWGATE_SOURCE_DIR) + "/docs/examples/city-signup.json");
    ASSERT_FALSE(text.empty());
    auto loaded = load_flow(json::parse(text));
    ASSERT_TRUE(loaded.problems.empty()) << loaded.problems[0].pointer << ": " << loaded.problems[0].message;
    flow_set flows;
    flows.add(std::move(*loaded.loaded));
    const engine eng(flows,
                     {{{"JOIN", "انضم"}, "city-signup", keyword_trigger::match::first_word}},
                     environment{{"en", "ar"}});

    struct demo_case {
        std::string label;
        std::string language;
        std::vector<std::string> inputs;
        std::string city;  // category of the saved city, "" if none
        std::string day;
        bool completed;
    };
    const std::vector<demo_case> cases = {
        {"English words", "", {"JOIN", "Amman", "2"}, "Amman", "2", true},
        {"numbers", "en", {"join", "2", "3"}, "Irbid", "3", true},
        {"Arabic", "ar", {"انضم", "الزرقاء", "١"}, "Zarqa", "1", true},
        {"Arabic-Indic digits", "ar", {"انضم", "٣", "٢"}, "Zarqa", "2", true},
        {"Arabic city with harakat and hamza", "ar", {"انضم", "إرْبِد", "3."}, "Irbid", "3", true},
        {"retries after no match", "", {"JOIN", "Paris", "zarqa", "9", "1"}, "Zarqa", "1", true},
        {"JOIN is not taken as the city", "", {"JOIN"}, "", "", false},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const contact_view contact{"c-1", "Omar", c.language, {}};
        std::optional<session> current;
        std::map<std::string, std::string> categories;
        bool completed = false;
        for (std::size_t i = 0; i < c.inputs.size(); ++i) {
            const auto out = eng.on_message(current, contact, c.inputs[i], at(static_cast<int>(i)));
            EXPECT_TRUE(out.handled);
            for (const auto& e : out.effects) {
                if (const auto* s = std::get_if<send_msg>(&e)) {
                    SCOPED_TRACE(s->text);
                    EXPECT_FALSE(s->text.empty());
                    EXPECT_EQ(s->text.find('@'), std::string::npos);
                    if (s->language == "en") {
                        // English replies stay in one GSM-7 SMS.
                        const auto seg = count_segments(s->text);
                        EXPECT_EQ(seg.encoding, sms_encoding::gsm7);
                        EXPECT_EQ(seg.segments, 1u);
                    }
                    EXPECT_EQ(s->language, c.language == "ar" ? "ar" : "en");
                } else if (const auto* r = std::get_if<result_saved>(&e)) {
                    categories[r->key] = r->value.category;
                    if (r->key == "day" && r->value.category != "Other") {
                        EXPECT_EQ(r->value.value, c.day);
                    }
                } else if (const auto* x = std::get_if<run_ended>(&e)) {
                    completed = x->status == run_status::completed;
                }
            }
            current = out.session;
        }
        EXPECT_EQ(categories.count("city") ? categories["city"] : "", c.city);
        EXPECT_EQ(completed, c.completed);
        EXPECT_EQ(current.has_value(), !c.completed);
    }
}

}  // namespace
}  // namespace flowgate::flows

namespace flowgate::flows {
namespace {

TEST(engine, catch_all_and_flows_that_ignore_keywords) {
    flow_set set;
    set.add(load(quiz_flow));  // SURVEY: "Rate us 1 to 5"
    auto held = load(R"({
      "id": "held", "language": "en", "ignore_triggers": true,
      "nodes": [{"id": "q", "ask": "Your name?", "result": "Name",
                 "cases": [{"test": "has_text", "category": "Has Name", "next": "done"}]},
                {"id": "done", "send": "Thanks @results.name"}]
    })");
    ASSERT_TRUE(held.ignore_triggers);
    set.add(std::move(held));
    const engine eng(set,
                     {{{"SURVEY"}, "quiz", keyword_trigger::match::first_word},
                      {{"NAME"}, "held", keyword_trigger::match::first_word},
                      {{}, "held", keyword_trigger::match::catch_all}},
                     environment{{"en"}});
    const contact_view contact{"c-1", "", "", {}};

    // A contact in no flow whose message no keyword takes: the catch-all flow starts.
    auto out = eng.on_message(std::nullopt, contact, "hello there", at(0));
    EXPECT_EQ(describe(out.effects), (std::vector<std::string>{"start held", "send Your name?"}));
    ASSERT_TRUE(out.session);
    // In a flow that ignores keywords, "survey" is the answer, not a trigger.
    out = eng.on_message(out.session, contact, "Survey", at(1));
    EXPECT_EQ(describe(out.effects),
              (std::vector<std::string>{
                  "save name=Survey (Has Name)", "send Thanks Survey", "end held completed"}));
    // A keyword still starts its flow for a contact in no flow; the catch-all does not fire then.
    out = eng.on_message(std::nullopt, contact, "SURVEY", at(2));
    EXPECT_EQ(describe(out.effects), (std::vector<std::string>{"start quiz", "send Rate us 1 to 5"}));
    // A contact in an ordinary flow: an unknown message is an answer, never the catch-all.
    out = eng.on_message(out.session, contact, "hello", at(3));
    EXPECT_EQ(describe(out.effects)[0], "save rating=hello (Other)");
}

}  // namespace
}  // namespace flowgate::flows

namespace flowgate::flows {
namespace {

// has_error matches when the router's operand could not be evaluated; the value says which part.
TEST(engine, has_error_catches_an_operand_that_fails_to_evaluate) {
    auto loaded = load_flow(nlohmann::json::parse(R"json({
      "id": "dates", "language": "en",
      "nodes": [
        {"id": "ask", "ask": "Your birthday?", "cases": [
          {"test": "has_text", "category": "Answered", "next": "check"}]},
        {"id": "check", "branch": "@(format_date(input.text))", "result": "Birthday",
         "cases": [{"test": "has_error", "category": "Not a date", "next": "again"}],
         "other": "thanks"},
        {"id": "again", "send": "That is not a date"},
        {"id": "thanks", "send": "Thanks"}
      ]
    })json"));
    ASSERT_TRUE(loaded.loaded) << loaded.problems[0].pointer << ": " << loaded.problems[0].message;
    flow_set flows;
    flows.add(std::move(*loaded.loaded));
    const engine eng(flows, {{{"BIRTHDAY"}, "dates"}}, environment{{"en"}});
    const contact_view contact{"c-1", "", "en", {}};
    const struct {
        const char* answer;
        const char* category;
        const char* value;
        const char* reply;
    } cases[] = {
        {"next tuesday", "Not a date", "could not evaluate @(format_date(input.text))", "That is not a date"},
        {"2026-12-25", "Other", "25-12-2026", "Thanks"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.answer);
        const auto started = eng.on_message(std::nullopt, contact, "BIRTHDAY", from_millis(0));
        const auto out = eng.on_message(started.session, contact, c.answer, from_millis(1000));
        std::vector<std::string> seen;
        for (const auto& e : out.effects) {
            if (const auto* r = std::get_if<result_saved>(&e); r && r->key == "birthday") {
                seen.push_back(r->value.category + ": " + r->value.value);
            } else if (const auto* m = std::get_if<send_msg>(&e)) {
                seen.push_back("> " + m->text);
            }
        }
        EXPECT_EQ(seen,
                  (std::vector<std::string>{std::string(c.category) + ": " + c.value,
                                            std::string("> ") + c.reply}));
    }
}

}  // namespace
}  // namespace flowgate::flows
