// `flowgate simulate` on the shipped demo config: whole conversations, in English and Arabic, with
// virtual time.

#include "gateway/simulate.hpp"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "flows/keywords.hpp"
#include "gateway/sqlite.hpp"
#include "tests/support/process.hpp"

namespace flowgate::gateway {
namespace {

config::config demo_config() {
    // The shipped config, its flow paths read from the source tree.
    auto env = config::process_environment();
    const auto read = env.read_file;
    env.read_file = [read](const std::string& path) {
        return read(std::string(FLOWGATE_SOURCE_DIR) + "/" + path);
    };
    const auto text = read(std::string(FLOWGATE_SOURCE_DIR) + "/config/demo.json");
    EXPECT_TRUE(text);
    auto loaded = config::load_text("config/demo.json", text.value_or(""), env);
    EXPECT_TRUE(loaded.loaded) << (loaded.errors.empty() ? "" : loaded.errors[0].to_string());
    return loaded.loaded.value_or(config::config{});
}

std::string run(const config::config& cfg, const std::string& input, bool json = false) {
    std::istringstream in(input);
    std::ostringstream out;
    std::ostringstream err;
    simulate_options opts;
    opts.json = json;
    EXPECT_EQ(simulate(cfg, opts, in, out, err), 0);
    EXPECT_EQ(err.str(), "");
    return out.str();
}

struct transcript {
    const char* label;
    std::string input;
    std::vector<std::string> output;  // the printed lines, without "> " and the segment note
};

std::vector<std::string> texts(const std::string& printed) {
    std::vector<std::string> out;
    std::istringstream lines(printed);
    std::string line;
    while (std::getline(lines, line)) {
        const auto note = line.rfind("  [");
        out.push_back(line.substr(2, note - 2));
    }
    return out;
}

TEST(simulate, demo_conversations) {
    const auto cfg = demo_config();
    const std::string welcome = "Welcome to the digital skills workshops!";
    const std::string city = "Which city? Reply 1 for Amman, 2 for Irbid, 3 for Zarqa";
    const std::string day = "Which day suits you? Reply 1 (Sunday), 2 (Monday) or 3 (Tuesday)";
    const std::vector<transcript> cases = {
        {"English, a wrong answer, then Arabic-Indic digits and a trailing dot",
         "JOIN\nParis\n ٢ \n3.\n",
         {welcome,
          city,
          "Sorry, please reply 1 (Amman), 2 (Irbid) or 3 (Zarqa)",
          day,
          "Thank you! You are registered in Irbid, day 3. Send JOIN to change."}},
        {"Arabic: the city as a word with a shadda, the day in Persian digits",
         "انضم\nعمّان\n۲\n",
         {"أهلاً بك في ورشات المهارات الرقمية!",
          "أي مدينة؟ أرسل ١ لعمان، ٢ لإربد، ٣ للزرقاء",
          "أي يوم يناسبك؟ أرسل ١ (الأحد) أو ٢ (الاثنين) أو ٣ (الثلاثاء)",
          "شكراً! تم تسجيلك في عمان، اليوم 2. أرسل انضم للتغيير."}},
        {"no answer for a day: one reminder; then the run expires and an answer finds nothing",
         "JOIN\n/wait 23h\n/wait 2h\n/wait 3d\n1\n",
         {welcome, city, "Still interested? Reply 1 (Amman), 2 (Irbid) or 3 (Zarqa)"}},
        {"STOP in the middle: one confirmation, then silence; START opts back in",
         "JOIN\nstop\n1\nJOIN\nstart\n",
         {welcome, city, flows::default_stop_reply().at("en"), flows::default_start_reply().at("en")}},
        {"a message outside any flow gets no reply", "hello\n", {}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        EXPECT_EQ(texts(run(cfg, c.input)), c.output);
    }
}

struct survey_case {
    const char* label;
    std::string input;
    std::size_t replies;
    // result key → category, as stored
    std::map<std::string, std::string> categories;
    std::string value_of_shared_with;
};

TEST(simulate, follow_up_survey_in_each_language_with_stored_results) {
    const auto cfg = demo_config();
    const std::vector<survey_case> cases = {
        {"English: every answer right the first time",
         "SURVEY\n5\n2\nyes\n12\nThe role plays\n",
         7,
         {{"usefulness", "Rated"},
          {"most_useful", "Mediation"},
          {"recommend", "Yes"},
          {"shared_with", "Number"},
          {"comments", "Answered"}},
         "12"},
        {"French: a wrong answer is asked again once with a hint, then the survey moves on",
         "ENQUETE\n6\nx\nmédiation\noui\ndeux\n3\nTrès bien\n",
         9,
         {{"usefulness", "Other"},
          {"most_useful", "Mediation"},
          {"recommend", "Yes"},
          {"shared_with", "Number"},
          {"comments", "Answered"}},
         "3"},
        {"Arabic: Arabic-Indic digits, a word answer, and letter variants",
         "استبيان\n٤\nالقياده\nنعم\n١٢\nشكرا جزيلا\n",
         7,
         {{"usefulness", "Rated"},
          {"most_useful", "Leadership"},
          {"recommend", "Yes"},
          {"shared_with", "Number"},
          {"comments", "Answered"}},
         "12"},
        {"STOP in the middle of the survey: the run is interrupted, nothing more is asked",
         "SURVEY\n5\nSTOP\n2\n",
         4,  // the intro, two questions, the opt-out confirmation
         {{"usefulness", "Rated"}},
         ""},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        test::temp_dir dir;
        std::istringstream in(c.input);
        std::ostringstream out;
        std::ostringstream err;
        simulate_options opts;
        opts.database = dir.file("sim.db");
        ASSERT_EQ(simulate(cfg, opts, in, out, err), 0);
        EXPECT_EQ(texts(out.str()).size(), c.replies) << out.str();
        sqlite::connection db(opts.database);
        sqlite::statement q(db, "SELECT key, category, value FROM results ORDER BY id");
        std::map<std::string, std::string> got;
        std::string shared;
        while (q.step()) {
            got[q.column_text(0)] = q.column_text(1);
            if (q.column_text(0) == "shared_with") {
                shared = q.column_text(2);
            }
        }
        EXPECT_EQ(got, c.categories);
        EXPECT_EQ(shared, c.value_of_shared_with);
        sqlite::statement run(db, "SELECT status FROM runs");
        ASSERT_TRUE(run.step());
        EXPECT_EQ(run.column_text(0), c.value_of_shared_with.empty() ? "interrupted" : "completed");
    }
}

TEST(simulate, a_rapidpro_export_runs_end_to_end_and_its_contact_changes_are_stored) {
    auto env = config::process_environment();
    const auto read = env.read_file;
    env.read_file = [read](const std::string& path) {
        return read(std::string(FLOWGATE_SOURCE_DIR) + "/" + path);
    };
    const auto loaded = config::load_text("rapidpro.json",
                                          R"({
      "store": {"sqlite": "unused.db"}, "data_key": "none", "languages": ["en", "ar", "fr", "ha"],
      "channels": [{"id": "local", "type": "external", "send_url": "http://127.0.0.1:9/send"}],
      "flows": ["tests/flows/data/rapidpro-registration.json"],
      "triggers": [{"keywords": ["JOIN"], "flow": "Registration"}]
    })",
                                          env);
    ASSERT_TRUE(loaded.loaded) << (loaded.errors.empty() ? "" : loaded.errors[0].to_string());
    test::temp_dir dir;
    simulate_options opts;
    opts.json = true;
    opts.database = dir.file("sim.db");
    // The webhook is not called by the gateway yet: its wait times out into Failure after 60 s.
    std::istringstream in("JOIN\nRania\n1\n25\nyes\n/wait 2m\n");
    std::ostringstream out;
    std::ostringstream err;
    ASSERT_EQ(simulate(*loaded.loaded, opts, in, out, err), 0) << err.str();
    std::vector<std::string> got;
    std::istringstream lines(out.str());
    std::string line;
    while (std::getline(lines, line)) {
        const auto j = nlohmann::json::parse(line);
        EXPECT_EQ(j.at("segments").get<int>(), 1) << line;
        got.push_back(j.at("text").get<std::string>());
    }
    EXPECT_EQ(
        got,
        (std::vector<std::string>{"Welcome to the workshops! What is your name?",
                                  "Thanks Rania! Which language?\n1 English\n2 Arabic\n3 French\n4 Hausa",
                                  "How old are you, Rania?",
                                  "Do you agree that we keep your answers? YES or NO",
                                  "Sorry, we could not register you (0). Try later."}));
    sqlite::connection db(opts.database);
    sqlite::statement contact(db, "SELECT name, language, json_extract(fields, '$.age') FROM contacts");
    ASSERT_TRUE(contact.step());
    EXPECT_EQ(contact.column_text(0), "Rania");
    EXPECT_EQ(contact.column_text(1), "en");
    EXPECT_EQ(contact.column_text(2), "25");
    sqlite::statement groups(db, "SELECT count(*) FROM contact_groups");
    ASSERT_TRUE(groups.step());
    EXPECT_EQ(groups.column_int64(0), 0) << "the Failure route leaves all groups";
    sqlite::statement runs(db, "SELECT flow_id, status FROM runs ORDER BY id");
    std::vector<std::string> statuses;
    while (runs.step()) {
        statuses.push_back(runs.column_text(1));
    }
    EXPECT_EQ(statuses, (std::vector<std::string>{"completed", "completed"})) << "parent and subflow";
    sqlite::statement results(
        db,
        "SELECT count(*) FROM results r JOIN runs ON runs.id = r.run_id "
        "WHERE r.key = 'consent' AND runs.flow_id = 'fd243d7f-01d0-5916-95b9-98ef65c5bb31'");
    ASSERT_TRUE(results.step());
    EXPECT_EQ(results.column_int64(0), 1) << "the subflow's result is saved on the subflow's run";
}

TEST(simulate, json_lines_carry_encoding_and_segments) {
    const auto cfg = demo_config();
    std::istringstream lines(run(cfg, "انضم\n", true));
    std::string line;
    std::vector<nlohmann::json> got;
    while (std::getline(lines, line)) {
        got.push_back(nlohmann::json::parse(line));
    }
    ASSERT_EQ(got.size(), 2u);
    for (const auto& m : got) {
        EXPECT_EQ(m.at("to"), "tel:+962790000000");
        EXPECT_EQ(m.at("encoding"), "UCS-2");
        EXPECT_EQ(m.at("segments"), 1);
    }
    EXPECT_EQ(nlohmann::json::parse(run(cfg, "JOIN\n", true).substr(0, run(cfg, "JOIN\n", true).find('\n')))
                  .at("encoding"),
              "GSM-7");
}

TEST(simulate, bad_options_and_bad_waits_are_reported) {
    const auto cfg = demo_config();
    std::istringstream in("/wait soon\n");
    std::ostringstream out;
    std::ostringstream err;
    EXPECT_EQ(simulate(cfg, {"not a number", "", false}, in, out, err), 2);
    EXPECT_NE(err.str().find("--from"), std::string::npos);
    err.str("");
    EXPECT_EQ(simulate(cfg, {"tel:+962790000000", "nope", false}, in, out, err), 2);
    err.str("");
    EXPECT_EQ(simulate(cfg, {}, in, out, err), 0);
    EXPECT_EQ(err.str(), "flowgate simulate: line 1: /wait needs a duration such as 90m, 25h or 3d\n");
}

}  // namespace
}  // namespace flowgate::gateway
