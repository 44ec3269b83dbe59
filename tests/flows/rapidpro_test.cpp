#include "flows/rapidpro.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "flows/engine.hpp"
#include "flows/matcher.hpp"
#include "flows/template.hpp"
#include "tests/flows/transcript.hpp"

namespace flowgate::flows {

namespace {

using nlohmann::json;
using namespace playback;

// The exports in tests/flows/data/ were written for these tests (not taken from RapidPro): one
// spec 14 export with a registration flow, a consent subflow and a flow whose one question has a
// case for every router test; one spec 13 export with a webhook split on its result's category.
json read_json(const std::string& name) {
    std::ifstream in(std::string(FLOWGATE_SOURCE_DIR) + "/tests/flows/data/" + name);
    std::stringstream ss;
    ss << in.rdbuf();
    return json::parse(ss.str());
}

const std::vector<std::string> deployment = {"en", "ar", "fr", "ha"};

flow_set load_set(const json& doc, const std::vector<std::string>& languages) {
    const export_result r = load_rapidpro_export(doc, languages);
    EXPECT_TRUE(r.problems.empty()) << r.problems.front().pointer << ": " << r.problems.front().message;
    flow_set set;
    for (const auto& f : r.flows) {
        set.add(f);
    }
    return set;
}

struct transcript {
    std::string label;
    std::string language;  // the contact's, at the start
    std::vector<step> steps;
};

void run_transcripts(const flow_set& flows,
                     const engine& eng,
                     const std::vector<transcript>& cases,
                     std::vector<group_ref> groups = {}) {
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        playback::play(flows, eng, contact_view{"c-1", "", c.language, {}, groups}, std::nullopt, c.steps);
    }
}

TEST(rapidpro, registration_transcripts) {
    const json doc = read_json("rapidpro-registration.json");
    const flow_set flows = load_set(doc, deployment);
    const engine eng(
        flows, {{{"JOIN"}, "Registration", keyword_trigger::match::first_word}}, environment{deployment});

    const std::string welcome = "send Welcome to the workshops! What is your name?";
    const std::string languages =
        "send Thanks Rania! Which language?\n1 English\n2 Arabic\n3 French\n4 Hausa";
    const std::vector<std::string> named = {"save name=Rania (Has Name)", "name Rania", languages};
    const std::vector<std::string> adult = {"save age=25 (Valid)",
                                            "field age=25",
                                            "save age_group=25 (Recorded)",
                                            "groups +Workshop Amman -",
                                            "groups + -Waitlist",
                                            "start Consent",
                                            "send Do you agree that we keep your answers? YES or NO"};
    const std::string crm_call =
        "webhook POST https://crm.example.org/register?name=Rania | Content-Type: application/json; "
        "X-Language: en | {\"name\": \"Rania\", \"age\": \"25\", \"language\": \"English\"}";
    const std::vector<std::string> consented = {
        "save consent=yes (Yes)", "field consent=Yes", "end Consent completed", crm_call};
    const auto english_to_consent = [&](int minute) {
        return std::vector<step>{
            start("Registration", minute, {"start Registration", welcome}, true),
            msg("Rania", minute + 1, named, true),
            msg("1",
                minute + 2,
                {"save language=1 (English)", "language en", "send How old are you, Rania?"},
                true),
            msg("25", minute + 3, adult, true)};
    };
    const auto with = [](std::vector<step> head, std::vector<step> tail) {
        head.insert(head.end(), tail.begin(), tail.end());
        return head;
    };

    const std::vector<transcript> cases = {
        {"English: every action, the subflow and a webhook that succeeds",
         "",
         with(english_to_consent(0),
              {msg("yes", 4, consented, true),
               msg("hello?", 5, {}, true),  // the run waits for the webhook, not for an answer
               webhook(200,
                       R"({"id": 7})",
                       5,
                       {"save crm=200 (Success)",
                        "send Registered, Rania (age 25). Status 200.",
                        "end Registration completed"},
                       false)})},
        {"the webhook fails: the Failure category, and all groups left",
         "",
         with(english_to_consent(0),
              {msg("Yes I agree",
                   4,
                   {"save consent=Yes (Yes)", "field consent=Yes", "end Consent completed", crm_call},
                   true),
               webhook(503,
                       "busy",
                       5,
                       {"save crm=503 (Failure)",
                        "groups + -all:Workshop Amman",
                        "send Sorry, we could not register you (503). Try later.",
                        "end Registration completed"},
                       false)})},
        {"the webhook never answers: its wait times out as a failure",
         "",
         with(english_to_consent(0),
              {msg("yes", 4, consented, true),
               timeout(6,
                       {"save crm=0 (Failure)",
                        "groups + -all:Workshop Amman",
                        "send Sorry, we could not register you (0). Try later.",
                        "end Registration completed"},
                       false)})},
        {"the subflow expires: the parent goes on through Expired",
         "",
         with(english_to_consent(0),
              {expire(
                  60 * 24,
                  {"end Consent expired", "send We did not get your consent.", "end Registration completed"},
                  false)})},
        {"the subflow's wait times out: the child completes and the parent goes on",
         "",
         with(english_to_consent(0),
              {timeout(
                  60 * 24,
                  {"save consent= (No Response)",
                   "end Consent completed",
                   "webhook POST https://crm.example.org/register?name=Rania | Content-Type: "
                   "application/json; X-Language: en | {\"name\": \"Rania\", \"age\": \"25\", \"language\": "
                   "\"English\"}"},
                  true)})},
        {"a keyword interrupts the subflow and its parent",
         "",
         with(english_to_consent(0),
              {msg("join",
                   4,
                   {"end Consent interrupted", "end Registration interrupted", "start Registration", welcome},
                   true)})},
        {"the trigger's name finds the flow; the wait times out into the reminder",
         "",
         {msg("JOIN", 0, {"start Registration", welcome}, true),
          timeout(60, {"save name= (No Response)", "send Still there? Please send your name."}, true),
          msg("Rania", 61, named, true)}},
        {"Arabic: localized texts, quick replies and case arguments; a minor",
         "ar",
         {start("Registration", 0, {"start Registration", "send أهلا بك في الورشات! ما اسمك؟"}, true),
          msg("Rania",
              1,
              {"save name=Rania (Has Name)",
               "name Rania",
               "send شكرا Rania! أي لغة؟\n1 إنجليزي\n2 عربي\n3 فرنسي\n4 هوسا"},
              true),
          msg("عربي", 2, {"save language=عربي (Arabic)", "language ar", "send كم عمرك يا Rania؟"}, true),
          msg("١٥",
              3,
              {"save age=15 (Valid)",
               "field age=15",
               "save age_group=15 (Recorded)",
               "send Sorry Rania, the workshops are for adults.",
               "end Registration completed"},
              false)}},
        {"French chosen: the next text in the same step is French; French consent words",
         "",
         {start("Registration", 0, {"start Registration", welcome}, true),
          msg("Rania", 1, named, true),
          msg("french",
              2,
              {"save language=french (French)", "language fr", "send Quel âge avez-vous, Rania ?"},
              true),
          msg("30",
              3,
              {"save age=30 (Valid)",
               "field age=30",
               "save age_group=30 (Recorded)",
               "groups +Workshop Amman -",
               "groups + -Waitlist",
               "start Consent",
               "send Do you agree that we keep your answers? YES or NO"},
              true),
          msg("oui",
              4,
              {"save consent=oui (Yes)",
               "field consent=Yes",
               "end Consent completed",
               "webhook POST https://crm.example.org/register?name=Rania | Content-Type: application/json; "
               "X-Language: fr | {\"name\": \"Rania\", \"age\": \"30\", \"language\": \"French\"}"},
              true),
          webhook(201,
                  "",
                  5,
                  {"save crm=201 (Success)", "send Inscrit, Rania (âge 30).", "end Registration completed"},
                  false)}},
        {"Hausa (hau → ha)",
         "",
         {start("Registration", 0, {"start Registration", welcome}, true),
          msg("Rania", 1, named, true),
          msg("4", 2, {"save language=4 (Hausa)", "language ha", "send Shekarunka nawa, Rania?"}, true)}},
        {"a wrong answer asks again",
         "",
         {start("Registration", 0, {"start Registration", welcome}, true),
          msg("Rania", 1, named, true),
          msg("german", 2, {"save language=german (Other)", "name Rania", languages}, true)}},
    };
    run_transcripts(flows, eng, cases);
}

TEST(rapidpro, has_group_sees_the_groups_the_step_changed) {
    const json doc = read_json("rapidpro-registration.json");
    json changed = doc;
    // Without the add_contact_groups action, the contact is not in the group when the router asks.
    auto& actions = changed["flows"][0]["nodes"][10]["actions"];
    ASSERT_EQ(actions[0]["type"], "add_contact_groups");
    actions.erase(0);
    const flow_set flows = load_set(changed, deployment);
    const engine eng(flows, {}, environment{deployment});
    const std::vector<step> steps = {
        start("Registration",
              0,
              {"start Registration", "send Welcome to the workshops! What is your name?"},
              true),
        msg("Rania",
            1,
            {"save name=Rania (Has Name)",
             "name Rania",
             "send Thanks Rania! Which language?\n1 English\n2 Arabic\n3 French\n4 Hausa"},
            true),
        msg("1", 2, {"save language=1 (English)", "language en", "send How old are you, Rania?"}, true),
    };
    run_transcripts(flows, eng, {{"not in the group", "", [&] {
                                      auto s = steps;
                                      s.push_back(msg("25",
                                                      3,
                                                      {"save age=25 (Valid)",
                                                       "field age=25",
                                                       "save age_group=25 (Recorded)",
                                                       "groups + -Waitlist",
                                                       "send Group missing",
                                                       "end Registration completed"},
                                                      false));
                                      return s;
                                  }()}});
    // Already in it (by UUID) before the run: has_group matches.
    run_transcripts(flows,
                    eng,
                    {{"already in the group",
                      "",
                      [&] {
                          auto s = steps;
                          s.push_back(msg("25",
                                          3,
                                          {"save age=25 (Valid)",
                                           "field age=25",
                                           "save age_group=25 (Recorded)",
                                           "groups + -Waitlist",
                                           "start Consent",
                                           "send Do you agree that we keep your answers? YES or NO"},
                                          true));
                          return s;
                      }()}},
                    {group_ref{doc["groups"][0]["uuid"].get<std::string>(), "Renamed since"}});
}

struct answer_case {
    std::string input;
    std::string value;
    std::string category;
};

TEST(rapidpro, every_router_test) {
    const flow_set flows = load_set(read_json("rapidpro-registration.json"), deployment);
    environment env{deployment};
    env.default_country = "JO";
    const engine eng(flows, {}, env);
    const std::vector<answer_case> cases = {
        {"Exact", "Exact", "Only Text"},
        {"write to rania@example.org", "rania@example.org", "Email"},
        {"my number is 079 123 4567", "+962791234567", "Phone"},
        {"01/01/2019", "2019-01-01T22:13:20.000000+00:00", "Old Date"},
        {"25-12-2026", "2026-12-25T22:13:20.000000+00:00", "Christmas"},
        {"5.3.2031", "2031-03-05T22:13:20.000000+00:00", "Future Date"},
        {"on 10/6/2026", "2026-06-10T22:13:20.000000+00:00", "Date"},
        {"at 10:30", "10:30:00.000000", "Time"},
        {"ID-42", "ID-42", "Pattern"},
        {"I owe -5", "-5", "Negative"},
        {"٧ أطفال", "7", "Seven"},  // not a time: an hour alone needs am/pm unless it is the whole answer
        {"I am 15", "15", "Teens"},
        {"25", "25", "Up To 30"},
        {"5000", "5000", "Big"},
        {"150", "150", "Hundreds"},
        {"50", "50", "Number"},
        {"Good morning!", "Good morning", "Greeting"},
        {"thank you so much", "thank you", "Thanks"},
        {"blue and red", "blue red", "Both Colors"},
        {"RED", "RED", "A Color"},
        {"cancel my place", "cancel", "Cancel"},
        {"hello", "hello", "Text"},
        {"...", "...", "Text"},
        {" ", " ", "Other"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.input);
        const contact_view contact{"c-1", "", "", {}};
        const auto started = eng.start("Answer tests", std::nullopt, contact, at(0));
        ASSERT_TRUE(started.session);
        const auto out = eng.on_message(started.session, contact, c.input, at(0));
        EXPECT_EQ(describe(flows, out.effects),
                  (std::vector<std::string>{"save answer=" + c.value + " (" + c.category + ")",
                                            "end Answer tests completed"}));
    }
}

TEST(rapidpro, spec_13_export) {
    const json doc = read_json("rapidpro-v13.json");
    const flow_set flows = load_set(doc, {"ar", "en"});
    const flow* f = flows.find("Code lookup");
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->id, doc["flows"][0]["uuid"].get<std::string>());
    EXPECT_EQ(flows.find(f->id), f);
    EXPECT_EQ(f->language, "ar");  // "base": the deployment's first language
    EXPECT_EQ(f->expire_after, std::chrono::hours(24 * 7));
    const engine eng(
        flows, {{{"CODE"}, f->id, keyword_trigger::match::first_word}}, environment{{"ar", "en"}});
    run_transcripts(
        flows,
        eng,
        {{"a code that does not match asks again; one that does calls the webhook",
          "",
          {msg("CODE", 0, {"start Code lookup", "send Send your code"}, true),
           msg("abc12", 1, {"save code=abc12 (Other)", "send Send your code"}, true),
           msg("ABC123",
               2,
               {"save code=ABC123 (Code)", "webhook GET https://kobo.example.org/codes/ABC123 |  | "},
               true),
           webhook(200,
                   "{}",
                   3,
                   {"save lookup=200 (Success)", "send Found: 200", "end Code lookup completed"},
                   false)}},
         {"a 404 routes on the result's category",
          "",
          {msg("CODE", 0, {"start Code lookup", "send Send your code"}, true),
           msg("XYZ999",
               1,
               {"save code=XYZ999 (Code)", "webhook GET https://kobo.example.org/codes/XYZ999 |  | "},
               true),
           webhook(404,
                   "",
                   2,
                   {"save lookup=404 (Failure)", "send Unknown code XYZ999", "end Code lookup completed"},
                   false)}}});
}

TEST(rapidpro, a_first_node_that_only_waits_takes_the_trigger_message) {
    json doc = read_json("rapidpro-registration.json");
    const flow_set flows = load_set(doc, deployment);
    const engine eng(
        flows, {{{"TEST"}, "Answer tests", keyword_trigger::match::first_word}}, environment{deployment});
    run_transcripts(flows,
                    eng,
                    {{"TEST 7",
                      "",
                      {msg("TEST 7",
                           0,
                           {"start Answer tests", "save answer=7 (Seven)", "end Answer tests completed"},
                           false)}}});
}

struct language_case {
    std::vector<std::string> languages;
    std::string flow_language;            // Registration's "eng"
    std::vector<std::string> translated;  // the languages of the welcome text
};

TEST(rapidpro, language_mapping) {
    json doc = read_json("rapidpro-registration.json");
    // Without the set_contact_language actions, which name languages some of these deployments lack.
    for (int i = 3; i <= 6; ++i) {
        ASSERT_EQ(doc["flows"][0]["nodes"][i]["actions"][0]["type"], "set_contact_language");
        doc["flows"][0]["nodes"][i]["actions"] = json::array();
    }
    const std::vector<language_case> cases = {
        {{"en", "ar", "fr", "ha"}, "en", {"ar", "en"}},
        {{"ar", "en"}, "en", {"ar", "en"}},
        {{"fr"}, "fr", {"fr"}},  // "eng" is not used: the base text stands in the first language
        {{"ar"}, "ar", {"ar"}},  // the Arabic translation is the base language's now: the base text wins
        {{}, "en", {"ar", "en"}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.languages.empty() ? std::string("none") : c.languages.front());
        const export_result r = load_rapidpro_export(doc, c.languages);
        ASSERT_TRUE(r.problems.empty()) << r.problems.front().message;
        const flow& f = r.flows.at(0);
        EXPECT_EQ(f.language, c.flow_language);
        const auto& send = std::get<send_action>(f.nodes.at(0).actions.at(0));
        std::vector<std::string> langs;
        for (const auto& [lang, text] : send.text) {
            langs.push_back(lang);
        }
        EXPECT_EQ(langs, c.translated);
        EXPECT_EQ(send.text.at(f.language), "Welcome to the workshops! What is your name?");
    }

    struct code_case {
        std::string code;
        std::vector<std::string> languages;
        std::optional<std::string> expected;
    };
    const std::vector<code_case> codes = {
        {"ara", {"en", "ar"}, "ar"},
        {"eng", {"en"}, "en"},
        {"fra", {"fr"}, "fr"},
        {"hau", {"en", "ha"}, "ha"},
        {"fra", {"en"}, std::nullopt},
        {"en", {"en"}, "en"},
        {"base", {"en"}, std::nullopt},
        {"und", {}, std::nullopt},
        {"kur", {}, "ku"},
        {"xyz", {}, "xyz"},
    };
    for (const auto& c : codes) {
        SCOPED_TRACE(c.code);
        EXPECT_EQ(config_language(c.code, c.languages), c.expected);
    }
}

struct problem_case {
    std::string label;
    std::function<void(json&)> change;
    std::function<std::vector<problem>(const json&)> expected;
};

std::string node_uuid(const json& doc, int flow, int node) {
    return doc["flows"][flow]["nodes"][node]["uuid"].get<std::string>();
}

TEST(rapidpro, refuses_what_it_does_not_support) {
    const json original = read_json("rapidpro-registration.json");
    const auto reg = [](const json& d, int node) {
        return "flow \"Registration\", node " + node_uuid(d, 0, node) + ": ";
    };
    const std::vector<problem_case> cases = {
        {"an unsupported action",
         [](json& d) {
             d["flows"][0]["nodes"][3]["actions"].push_back({{"uuid", "0b9d1f00-0000-4000-8000-000000000001"},
                                                             {"type", "send_email"},
                                                             {"addresses", {"a@b.c"}}});
         },
         [&](const json& d) {
             return std::vector<problem>{
                 {"/flows/0/nodes/3/actions/1", reg(d, 3) + "action type \"send_email\" is not supported"}};
         }},
        {"a random router",
         [](json& d) {
             d["flows"][0]["nodes"][4]["router"] = {{"type", "random"}, {"categories", json::array()}};
         },
         [&](const json& d) {
             return std::vector<problem>{
                 {"/flows/0/nodes/4/router", reg(d, 4) + "router type \"random\" is not supported"}};
         }},
        {"a dial wait",
         [](json& d) {
             d["flows"][0]["nodes"][0]["router"]["wait"] = {{"type", "dial"}};
         },
         [&](const json& d) {
             return std::vector<problem>{
                 {"/flows/0/nodes/0/router/wait", reg(d, 0) + "wait type \"dial\" is not supported"}};
         }},
        {"an image hint",
         [](json& d) {
             d["flows"][0]["nodes"][7]["router"]["wait"]["hint"] = {{"type", "image"}};
         },
         [&](const json& d) {
             return std::vector<problem>{
                 {"/flows/0/nodes/7/router/wait/hint",
                  reg(d, 7) + "wait hint \"image\" is not supported (SMS carries text only)"}};
         }},
        {"an unknown test",
         [](json& d) { d["flows"][0]["nodes"][7]["router"]["cases"][0]["type"] = "has_district"; },
         [&](const json& d) {
             return std::vector<problem>{
                 {"/flows/0/nodes/7/router/cases/0", reg(d, 7) + "test \"has_district\" is not supported"}};
         }},
        {"a test with a wrong argument",
         [](json& d) {
             d["flows"][0]["nodes"][7]["router"]["cases"][0]["arguments"] = {"10", "ten"};
         },
         [&](const json& d) {
             const auto p = check_test_arguments("has_number_between", {"10", "ten"});
             EXPECT_EQ(p.size(), 1u);
             return std::vector<problem>{{"/flows/0/nodes/7/router/cases/0/arguments/1",
                                          reg(d, 7) + "test \"has_number_between\": " + p.at(0).message}};
         }},
        {"an exit to a node that does not exist",
         [](json& d) {
             d["flows"][0]["nodes"][3]["exits"][0]["destination_uuid"] =
                 "5e1b6c02-0000-4000-8000-00000000dead";
         },
         [&](const json& d) {
             return std::vector<problem>{
                 {"/flows/0/nodes/3/exits/0/destination_uuid",
                  reg(d, 3) +
                      "the exit goes to node 5e1b6c02-0000-4000-8000-00000000dead, which does not exist"}};
         }},
        {"a duplicate node UUID",
         [](json& d) { d["flows"][0]["nodes"][5]["uuid"] = d["flows"][0]["nodes"][4]["uuid"]; },
         [&](const json& d) {
             // The exit to the node that lost its UUID now goes nowhere.
             return std::vector<problem>{
                 {"/flows/0/nodes/2/exits/2/destination_uuid",
                  reg(d, 2) + "the exit goes to node " +
                      original["flows"][0]["nodes"][5]["uuid"].get<std::string>() + ", which does not exist"},
                 {"/flows/0/nodes/5/uuid",
                  "flow \"Registration\": the UUID " + node_uuid(d, 0, 4) +
                      " is already used by /flows/0/nodes/4"}};
         }},
        {"a category with no exit",
         [](json& d) {
             d["flows"][0]["nodes"][7]["router"]["categories"][0]["exit_uuid"] =
                 "5e1b6c02-0000-4000-8000-00000000beef";
         },
         [&](const json& d) {
             return std::vector<problem>{
                 {"/flows/0/nodes/7/router/categories/0/exit_uuid",
                  reg(d, 7) + "the category \"Valid\" has no exit 5e1b6c02-0000-4000-8000-00000000beef"}};
         }},
        {"a subflow that is not in the export",
         [](json& d) { d["flows"].erase(1); },
         [&](const json& d) {
             return std::vector<problem>{{"/flows/0/nodes/12/actions/0/flow",
                                          reg(d, 12) + "enter_flow refers to flow \"Consent\" (" +
                                              original["flows"][1]["uuid"].get<std::string>() +
                                              "), which is not in this export"}};
         }},
        {"a language the deployment does not use",
         [](json& d) { d["flows"][0]["nodes"][3]["actions"][0]["language"] = "spa"; },
         [&](const json& d) {
             return std::vector<problem>{
                 {"/flows/0/nodes/3/actions/0/language",
                  reg(d, 3) + "the language \"spa\" is not one of the deployment's languages"}};
         }},
        {"a typo in a template",
         [](json& d) { d["flows"][0]["nodes"][9]["actions"][0]["text"] = "Sorry @contact.nmae"; },
         [&](const json& d) {
             const auto p = check_template("Sorry @contact.nmae");
             EXPECT_EQ(p.size(), 1u);
             return std::vector<problem>{{"/flows/0/nodes/9/actions/0/text", reg(d, 9) + p.at(0).message}};
         }},
        {"an attachment",
         [](json& d) {
             d["flows"][0]["nodes"][9]["actions"][0]["attachments"] = {"image/jpeg:https://x.org/a.jpg"};
         },
         [&](const json& d) {
             return std::vector<problem>{
                 {"/flows/0/nodes/9/actions/0/attachments",
                  reg(d, 9) + "send_msg attachments are not supported (SMS carries text only)"}};
         }},
        {"a webhook host from a template",
         [](json& d) { d["flows"][0]["nodes"][14]["actions"][0]["url"] = "https://@fields.host/x"; },
         [&](const json& d) {
             return std::vector<problem>{
                 {"/flows/0/nodes/14/actions/0/url",
                  reg(d, 14) +
                      "the webhook URL must start with http:// or https:// and a host without variables"}};
         }},
        {"a voice flow",
         [](json& d) { d["flows"][2]["type"] = "voice"; },
         [&](const json& d) {
             return std::vector<problem>{
                 {"/flows/2/type",
                  "flow \"Answer tests\": flow type \"voice\" is not supported (only messaging)"}};
         }},
        {"spec version 15",
         [](json& d) { d["flows"][2]["spec_version"] = "15.0.0"; },
         [&](const json& d) {
             return std::vector<problem>{
                 {"/flows/2/spec_version",
                  "flow \"Answer tests\": spec version \"15.0.0\" is not supported (13.x and 14.x are)"}};
         }},
        {"export version 11",
         [](json& d) { d["version"] = "11.12"; },
         [&](const json& d) {
             return std::vector<problem>{
                 {"/version", "export version \"11.12\" is not supported (13.x and 14.x are)"}};
         }},
        {"a legacy flow",
         [](json& d) {
             d["flows"][2] = {{"uuid", "u"}, {"name", "Old"}, {"action_sets", json::array()}};
         },
         [&](const json& d) {
             return std::vector<problem>{{"/flows/2",
                                          "flow \"Old\": a legacy (pre-13) RapidPro flow; open it in a "
                                          "current editor and export it again"}};
         }},
        {"no version anywhere",
         [](json& d) {
             d.erase("version");
             d["flows"][2].erase("spec_version");
         },
         [&](const json& d) {
             return std::vector<problem>{
                 {"/flows/2/spec_version", "flow \"Answer tests\": is required (13.x or 14.x)"}};
         }},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        json doc = original;
        c.change(doc);
        const export_result r = load_rapidpro_export(doc, deployment);
        EXPECT_EQ(r.problems, c.expected(doc));
        EXPECT_EQ(r.flows.empty(), !c.expected(doc).empty());
    }
}

TEST(rapidpro, a_bare_flow_definition_loads) {
    const json doc = read_json("rapidpro-registration.json")["flows"][2];
    const export_result r = load_rapidpro_export(doc, deployment);
    EXPECT_TRUE(r.problems.empty());
    ASSERT_EQ(r.flows.size(), 1u);
    EXPECT_EQ(r.flows[0].name, "Answer tests");
    EXPECT_EQ(r.flows[0].expire_after, std::chrono::hours(1));
}

}  // namespace

}  // namespace flowgate::flows

namespace flowgate::flows {
namespace {

using namespace playback;

// SMS has no buttons: quick replies go out as a numbered list, so a participant answers "1". When
// the answer as written matches no case, its number stands for that option's text.
TEST(rapidpro, a_number_answers_a_numbered_list_of_quick_replies) {
    const json doc = json::parse(R"({"version": "13", "flows": [{
      "uuid": "5b0c1f8e-2f0a-4a8e-9d5e-0a1b2c3d4e01", "name": "Attend", "spec_version": "13.1",
      "language": "eng", "type": "messaging", "nodes": [{
        "uuid": "5b0c1f8e-2f0a-4a8e-9d5e-0a1b2c3d4e02",
        "actions": [{"uuid": "5b0c1f8e-2f0a-4a8e-9d5e-0a1b2c3d4e03", "type": "send_msg",
                     "text": "Will you come?", "quick_replies": ["Yes", "No"]}],
        "router": {"type": "switch", "operand": "@input.text", "wait": {"type": "msg"}, "result_name": "Attend",
          "cases": [
            {"uuid": "5b0c1f8e-2f0a-4a8e-9d5e-0a1b2c3d4e04", "type": "has_any_word", "arguments": ["yes"],
             "category_uuid": "5b0c1f8e-2f0a-4a8e-9d5e-0a1b2c3d4e05"},
            {"uuid": "5b0c1f8e-2f0a-4a8e-9d5e-0a1b2c3d4e06", "type": "has_any_word", "arguments": ["no 3"],
             "category_uuid": "5b0c1f8e-2f0a-4a8e-9d5e-0a1b2c3d4e07"}],
          "categories": [
            {"uuid": "5b0c1f8e-2f0a-4a8e-9d5e-0a1b2c3d4e05", "name": "Yes", "exit_uuid": "5b0c1f8e-2f0a-4a8e-9d5e-0a1b2c3d4e08"},
            {"uuid": "5b0c1f8e-2f0a-4a8e-9d5e-0a1b2c3d4e07", "name": "No", "exit_uuid": "5b0c1f8e-2f0a-4a8e-9d5e-0a1b2c3d4e09"},
            {"uuid": "5b0c1f8e-2f0a-4a8e-9d5e-0a1b2c3d4e10", "name": "Other", "exit_uuid": "5b0c1f8e-2f0a-4a8e-9d5e-0a1b2c3d4e11"}],
          "default_category_uuid": "5b0c1f8e-2f0a-4a8e-9d5e-0a1b2c3d4e10"},
        "exits": [{"uuid": "5b0c1f8e-2f0a-4a8e-9d5e-0a1b2c3d4e08"}, {"uuid": "5b0c1f8e-2f0a-4a8e-9d5e-0a1b2c3d4e09"},
                  {"uuid": "5b0c1f8e-2f0a-4a8e-9d5e-0a1b2c3d4e11"}]}]}]})");
    const flow_set flows = load_set(doc, {"en"});
    const engine eng(flows, {}, environment{{"en"}});
    const contact_view contact{"c-1", "", "en", {}};
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"1", "save attend=Yes (Yes)"},
        {" ٢. ", "save attend=No (No)"},
        {"yes", "save attend=yes (Yes)"},
        {"3", "save attend=3 (No)"},  // the flow's own "3" wins over the list
        {"4", "save attend=4 (Other)"},
        {"maybe 1", "save attend=Yes (Yes)"},
    };
    for (const auto& [answer, saved] : cases) {
        SCOPED_TRACE(answer);
        const auto started = eng.start("Attend", std::nullopt, contact, at(0));
        ASSERT_EQ(describe(flows, started.effects),
                  (std::vector<std::string>{"start Attend", "send Will you come?\n1 Yes\n2 No"}));
        const auto out = eng.on_message(started.session, contact, answer, at(1));
        EXPECT_EQ(describe(flows, out.effects), (std::vector<std::string>{saved, "end Attend completed"}));
    }
}

}  // namespace
}  // namespace flowgate::flows
