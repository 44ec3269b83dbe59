// Flow results through the real server: contacts answer a survey in Arabic over an external
// channel's webhook, then staff read the results as JSON and CSV, and the summary, with each role.

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gateway/sqlite.hpp"
#include "tests/support/api.hpp"
#include "tests/support/http.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/process.hpp"

namespace flowgate::gateway {
namespace {

using json = nlohmann::json;

const std::string consent_uuid = "fd243d7f-01d0-5916-95b9-98ef65c5bb31";

constexpr const char* survey_flow = R"({
  "id": "survey", "name": "Feedback survey", "language": "en",
  "nodes": [
    {"id": "city", "ask": {"en": "Which city?", "ar": "أي مدينة؟"}, "result": "City",
     "cases": [
       {"test": "has_any_word", "args": ["amman", "عمان"], "category": "Amman", "next": "comment"},
       {"test": "has_any_word", "args": ["irbid", "إربد"], "category": "Irbid", "next": "comment"}
     ],
     "other": "comment"},
    {"id": "comment", "ask": {"en": "Any comment?", "ar": "أي تعليق؟"}, "result": "Comment",
     "cases": [{"test": "has_text", "category": "Has Text", "next": "rating"}]},
    {"id": "rating", "ask": {"en": "From 1 to 5?", "ar": "من ١ إلى ٥؟"}, "result": "Rating",
     "cases": [{"test": "has_number_between", "args": [1, 5], "category": "Rated", "next": "thanks"}],
     "other": "thanks"},
    {"id": "thanks", "send": {"en": "Thanks", "ar": "شكرا"}}
  ]
})";

// An answer with an Arabic comma, an ASCII comma, quotes and a newline.
const std::string tricky_comment = "جيد، لكن, \"القاعة\" صغيرة\nشكرا لكم";

// RFC 4180: records end in CRLF; a quoted field may hold commas, quotes (doubled), CR and LF.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> row;
    std::string field;
    bool quoted = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char ch = text[i];
        if (quoted) {
            if (ch == '"' && i + 1 < text.size() && text[i + 1] == '"') {
                field += '"';
                ++i;
            } else if (ch == '"') {
                quoted = false;
            } else {
                field += ch;
            }
        } else if (ch == '"' && field.empty()) {
            quoted = true;
        } else if (ch == ',') {
            row.push_back(std::move(field));
            field.clear();
        } else if (ch == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
            row.push_back(std::move(field));
            field.clear();
            rows.push_back(std::move(row));
            row.clear();
            ++i;
        } else {
            EXPECT_NE(ch, '\n') << "a bare LF outside quotes";
            EXPECT_NE(ch, '"') << "a quote inside an unquoted field";
            field += ch;
        }
    }
    EXPECT_FALSE(quoted) << "an unterminated quoted field";
    EXPECT_TRUE(row.empty() && field.empty()) << "the last record must end in CRLF";
    return rows;
}

// What a CSV cell holds for a value: the formula guard's apostrophe, where one applies.
std::string guarded(const std::string& v) {
    return !v.empty() && std::string("=+-@\t\r").find(v[0]) != std::string::npos ? "'" + v : v;
}

class api_results_test : public ::testing::Test {
   protected:
    // The store's backend: SQLite here (a test that changes its file); both in api_results_on.
    virtual test::backend kind() const { return test::backend::sqlite; }

    void SetUp() override {
        std::string why_not;
        const std::string where = test::new_database(kind(), dir.file("flowgate.db"), why_not);
        if (where.empty()) {
            GTEST_SKIP() << why_not;
        }
        dir.write("survey.json", survey_flow);
        const json cfg = {
            {"server", {{"listen", "127.0.0.1:0"}}},
            {"store", {{test::backend_name(kind()), where}}},
            {"data_key", "none"},
            {"languages", {"ar", "en", "fr", "ha"}},
            {"channels", {{{"id", "local"}, {"type", "external"}, {"send_url", provider.url("/send")}}}},
            {"flows",
             {dir.file("survey.json"),
              std::string(FLOWGATE_SOURCE_DIR) + "/tests/flows/data/rapidpro-registration.json"}},
            {"triggers",
             {{{"keywords", {"SURVEY", "استبيان"}}, {"flow", "survey"}},
              {{"keywords", {"CONSENT"}}, {"flow", "Consent"}}}},
        };
        dir.write("config.json", cfg.dump());
        tokens = test::make_role_tokens(dir.file("config.json"));
        ASSERT_EQ(tokens.size(), 3u);
    }

    test::response get(const std::string& path, const std::string& role) {
        std::map<std::string, std::string> headers;
        if (!role.empty()) {
            headers["Authorization"] = "Bearer " + tokens[role];
        }
        return test::request(server->port(), "GET", path, "", headers);
    }

    json get_json(const std::string& path, const std::string& role) {
        auto res = get(path, role);
        EXPECT_EQ(res.status, 200) << path << ": " << res.body;
        EXPECT_EQ(res.headers["content-type"], "application/json");
        return json::parse(res.body);
    }

    // One inbound message through the channel's webhook; a 200 means its step is committed.
    void say(const std::string& phone, const std::string& text) {
        const auto res =
            test::request(server->port(),
                          "POST",
                          "/c/local/receive",
                          json{{"id", "m" + std::to_string(++sent)}, {"from", phone}, {"text", text}}.dump(),
                          {{"Content-Type", "application/json"}});
        ASSERT_EQ(res.status, 200) << res.body;
    }

    test::temp_dir dir;
    test::fake_provider provider;
    std::map<std::string, std::string> tokens;
    std::unique_ptr<test::server_process> server;
    int sent = 0;
};

// The phones' distinctive digits, which only an admin's identified export may show.
const std::vector<std::string> phones = {"+962791111111", "+962792222222", "+962793333333", "+962794444444"};
const std::vector<std::string> phone_digits = {"791111111", "792222222", "793333333", "794444444"};

// The tests that go through the API alone run on PostgreSQL too.
class api_results_on : public api_results_test, public ::testing::WithParamInterface<test::backend> {
   protected:
    test::backend kind() const override { return GetParam(); }
};

TEST_P(api_results_on, survey_results_as_json_and_csv_and_the_summary_with_each_role) {
    server = std::make_unique<test::server_process>(dir.file("config.json"));
    // Two contacts finish; one is still at the second question; one starts again, which interrupts
    // the first run.
    for (const auto& text : {std::string("استبيان"), std::string("عمان"), tricky_comment, std::string("٥")}) {
        say(phones[0], text);
    }
    for (const auto& text : {"SURVEY", "إربد", "=1+2", "4"}) {
        say(phones[1], text);
    }
    for (const auto& text : {"استبيان", "الزرقاء"}) {
        say(phones[2], text);
    }
    for (const auto& text : {"SURVEY", "Amman", "SURVEY"}) {
        say(phones[3], text);
    }

    // --- JSON, pseudonymised ---
    const auto res = get("/api/v1/flows/survey/results", "viewer");
    ASSERT_EQ(res.status, 200) << res.body;
    EXPECT_EQ(res.headers.at("content-type"), "application/json");
    for (const auto& digits : phone_digits) {
        EXPECT_EQ(res.body.find(digits), std::string::npos) << res.body;
    }
    const auto results = json::parse(res.body);
    EXPECT_EQ(results.at("flow"), json::parse(R"({"id": "survey", "name": "Feedback survey"})"));
    EXPECT_EQ(results.at("results"), json::parse(R"([{"key": "city", "name": "City"},
        {"key": "comment", "name": "Comment"}, {"key": "rating", "name": "Rating"}])"));
    const auto& runs = results.at("runs");
    ASSERT_EQ(runs.size(), 5u);
    std::vector<std::string> statuses;
    for (const auto& r : runs) {
        statuses.push_back(r.at("status"));
        EXPECT_EQ(r.at("contact").get<std::string>().size(), 36u);
        EXPECT_FALSE(r.contains("name"));
        EXPECT_FALSE(r.contains("urn"));
        EXPECT_EQ(r.at("exited_at").is_null(), r.at("status") == "active");
    }
    EXPECT_EQ(statuses,
              (std::vector<std::string>{"completed", "completed", "active", "interrupted", "active"}));
    EXPECT_EQ(runs[3].at("contact"), runs[4].at("contact")) << "one contact, two runs";
    const auto& first = runs[0].at("values");
    EXPECT_EQ(first.at("city").at("value"), "عمان");
    EXPECT_EQ(first.at("city").at("category"), "Amman");
    EXPECT_EQ(first.at("comment").at("value"), tricky_comment);
    EXPECT_EQ(first.at("comment").at("text"), tricky_comment);
    EXPECT_EQ(first.at("rating").at("value"), "5");
    EXPECT_EQ(first.at("rating").at("text"), "٥");
    EXPECT_EQ(first.at("rating").at("time").get<std::string>().size(), 20u);
    EXPECT_EQ(runs[1].at("values").at("comment").at("value"), "=1+2") << "JSON is not defused";
    EXPECT_EQ(runs[2].at("values").at("city").at("category"), "Other");
    EXPECT_FALSE(runs[2].at("values").contains("comment"));
    EXPECT_EQ(runs[4].at("values"), json::object());

    // --- CSV: the same rows ---
    const auto csv = get("/api/v1/flows/survey/results?format=csv", "viewer");
    ASSERT_EQ(csv.status, 200) << csv.body;
    EXPECT_EQ(csv.headers.at("content-type"), "text/csv; charset=utf-8");
    EXPECT_EQ(csv.headers.at("content-disposition"), "attachment; filename=\"survey-results.csv\"");
    ASSERT_EQ(csv.body.substr(0, 3), "\xEF\xBB\xBF") << "the BOM";
    for (const auto& digits : phone_digits) {
        EXPECT_EQ(csv.body.find(digits), std::string::npos);
    }
    const auto table = parse_csv(csv.body.substr(3));
    ASSERT_EQ(table.size(), 1 + runs.size());
    const std::vector<std::string> header = {"Contact UUID",
                                             "Run",
                                             "Status",
                                             "Started",
                                             "Exited",
                                             "City (Value)",
                                             "City (Category)",
                                             "City (Text)",
                                             "Comment (Value)",
                                             "Comment (Category)",
                                             "Comment (Text)",
                                             "Rating (Value)",
                                             "Rating (Category)",
                                             "Rating (Text)"};
    EXPECT_EQ(table[0], header);
    for (std::size_t i = 0; i < runs.size(); ++i) {
        SCOPED_TRACE("run " + std::to_string(i));
        const auto& r = runs[i];
        std::vector<std::string> expected = {
            r.at("contact"),
            std::to_string(r.at("run").get<std::int64_t>()),
            r.at("status"),
            r.at("started_at"),
            r.at("exited_at").is_null() ? "" : r.at("exited_at").get<std::string>()};
        for (const auto* key : {"city", "comment", "rating"}) {
            const auto& values = r.at("values");
            for (const auto* part : {"value", "category", "text"}) {
                expected.push_back(values.contains(key) ? guarded(values.at(key).at(part)) : "");
            }
        }
        EXPECT_EQ(table[1 + i], expected);
    }
    EXPECT_EQ(table[1][8], tricky_comment) << "the Arabic bytes, commas, quotes and newline survive";
    EXPECT_EQ(table[2][8], "'=1+2") << "a formula is defused in the CSV";

    // --- the summary ---
    const auto summary = get_json("/api/v1/flows/survey/summary", "viewer");
    EXPECT_EQ(summary.at("runs"), 5);
    EXPECT_EQ(summary.at("completed"), 2);
    EXPECT_EQ(summary.at("active"), 2);
    EXPECT_EQ(summary.at("interrupted"), 1);
    EXPECT_EQ(summary.at("expired"), 0);
    const auto& questions = summary.at("questions");
    ASSERT_EQ(questions.size(), 3u);
    EXPECT_EQ(questions[0].at("key"), "city");
    EXPECT_EQ(questions[0].at("responses"), 4);
    EXPECT_DOUBLE_EQ(questions[0].at("response_rate").get<double>(), 0.8);
    EXPECT_EQ(questions[0].at("categories"), json::parse(R"([{"name": "Amman", "count": 2},
        {"name": "Irbid", "count": 1}, {"name": "Other", "count": 1}])"));
    EXPECT_EQ(questions[1].at("responses"), 2);
    EXPECT_DOUBLE_EQ(questions[1].at("response_rate").get<double>(), 0.4);
    EXPECT_EQ(questions[1].at("categories").at(0), json::parse(R"({"name": "Has Text", "count": 2})"));
    EXPECT_EQ(questions[2].at("responses"), 2);
    for (const auto& q : questions) {
        EXPECT_TRUE(q.at("median_seconds").is_number()) << q;
        EXPECT_GE(q.at("median_seconds").get<double>(), 0.0);
    }

    // --- roles ---
    struct call {
        const char* label;
        std::string path;
        std::string role;
        int status;
        std::string error;
    };
    const std::vector<call> calls = {
        {"no token", "/api/v1/flows/survey/results", "", 401, "a valid bearer token is required"},
        {"no token, summary", "/api/v1/flows/survey/summary", "", 401, "a valid bearer token is required"},
        {"viewer, identified",
         "/api/v1/flows/survey/results?identified=true",
         "viewer",
         403,
         "identified results need the admin role"},
        {"staff, identified CSV",
         "/api/v1/flows/survey/results?format=csv&identified=true",
         "staff",
         403,
         "identified results need the admin role"},
        {"staff, pseudonymised", "/api/v1/flows/survey/results?identified=false", "staff", 200, ""},
        {"bad format",
         "/api/v1/flows/survey/results?format=xlsx",
         "viewer",
         400,
         "/format: must be json or csv"},
        {"bad identified",
         "/api/v1/flows/survey/results?identified=yes",
         "admin",
         400,
         "/identified: must be true or false"},
        {"unknown flow", "/api/v1/flows/nothing/results", "viewer", 404, "no such flow"},
        {"unknown flow, CSV", "/api/v1/flows/nothing/results?format=csv", "viewer", 404, "no such flow"},
        {"unknown flow, summary", "/api/v1/flows/nothing/summary", "viewer", 404, "no such flow"},
    };
    for (const auto& c : calls) {
        SCOPED_TRACE(c.label);
        const auto r = get(c.path, c.role);
        EXPECT_EQ(r.status, c.status) << r.body;
        if (!c.error.empty()) {
            EXPECT_EQ(json::parse(r.body).at("error"), c.error);
        }
    }
    EXPECT_EQ(get_json("/api/v1/audit", "admin").at("entries"), json::array())
        << "refused exports write nothing";

    // --- identified, for an admin: names and full URNs, and an audit entry ---
    const auto identified = get_json("/api/v1/flows/survey/results?identified=true", "admin");
    ASSERT_EQ(identified.at("runs").size(), 5u);
    for (std::size_t i = 0; i < 5; ++i) {
        const auto& r = identified.at("runs")[i];
        EXPECT_EQ(r.at("contact"), runs[i].at("contact"));
        EXPECT_EQ(r.at("values"), runs[i].at("values"));
        EXPECT_TRUE(r.at("name").is_string());
    }
    EXPECT_EQ(identified.at("runs")[0].at("urn"), "tel:" + phones[0]);
    EXPECT_EQ(identified.at("runs")[4].at("urn"), "tel:" + phones[3]);
    const auto entries = get_json("/api/v1/audit", "admin").at("entries");
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].at("action"), "results.export_identified");
    EXPECT_EQ(entries[0].at("target"), "survey");
    EXPECT_EQ(entries[0].at("rows"), 5);
    EXPECT_EQ(entries[0].at("who"), "admin");

    const auto identified_csv = get("/api/v1/flows/survey/results?format=csv&identified=true", "admin");
    ASSERT_EQ(identified_csv.status, 200);
    const auto named = parse_csv(identified_csv.body.substr(3));
    ASSERT_EQ(named.size(), 6u);
    EXPECT_EQ(std::vector<std::string>(named[0].begin(), named[0].begin() + 4),
              (std::vector<std::string>{"Contact UUID", "Name", "URN", "Run"}));
    EXPECT_EQ(named[1][2], "tel:" + phones[0]);
    EXPECT_EQ(get_json("/api/v1/audit", "admin").at("entries").size(), 2u);

    // --- the same flow by its name ---
    EXPECT_EQ(get_json("/api/v1/flows/Feedback%20survey/results", "viewer"), results);
    EXPECT_EQ(get_json("/api/v1/flows/Feedback%20survey/summary", "viewer"), summary);
    EXPECT_EQ(server->stop(), 0);
    for (const auto& digits : phone_digits) {
        EXPECT_EQ(server->log().find(digits), std::string::npos);
    }
}

TEST_P(api_results_on, a_rapidpro_flow_by_its_uuid_or_its_name) {
    server = std::make_unique<test::server_process>(dir.file("config.json"));
    say(phones[0], "CONSENT");
    say(phones[0], "نعم");
    say(phones[1], "CONSENT");
    const auto by_uuid = get_json("/api/v1/flows/" + consent_uuid + "/results", "viewer");
    EXPECT_EQ(by_uuid.at("flow"), (json{{"id", consent_uuid}, {"name", "Consent"}}));
    EXPECT_EQ(by_uuid.at("results"), json::parse(R"([{"key": "consent", "name": "Consent"}])"));
    ASSERT_EQ(by_uuid.at("runs").size(), 2u);
    const auto& answer = by_uuid.at("runs")[0].at("values").at("consent");
    EXPECT_EQ(answer.at("category"), "Yes") << "results keep the category's base name";
    EXPECT_EQ(answer.at("text"), "نعم");
    EXPECT_EQ(get_json("/api/v1/flows/Consent/results", "viewer"), by_uuid);

    const auto csv = get("/api/v1/flows/Consent/results?format=csv", "viewer");
    EXPECT_EQ(csv.headers.at("content-disposition"),
              "attachment; filename=\"" + consent_uuid + "-results.csv\"");

    const auto summary = get_json("/api/v1/flows/" + consent_uuid + "/summary", "viewer");
    EXPECT_EQ(summary, get_json("/api/v1/flows/Consent/summary", "viewer"));
    EXPECT_EQ(summary.at("runs"), 2);
    EXPECT_EQ(summary.at("completed"), 1);
    EXPECT_EQ(summary.at("active"), 1);
    const auto& q = summary.at("questions").at(0);
    EXPECT_EQ(q.at("responses"), 1);
    EXPECT_DOUBLE_EQ(q.at("response_rate").get<double>(), 0.5);
    EXPECT_EQ(q.at("categories"), json::parse(R"([{"name": "Yes", "count": 1}, {"name": "No", "count": 0},
        {"name": "Other", "count": 0}, {"name": "No Response", "count": 0}])"))
        << "every category the flow defines, in its order";

    // A flow nobody has started: no runs, no responses, no median.
    const auto empty = get_json("/api/v1/flows/Registration/summary", "viewer");
    EXPECT_EQ(empty.at("runs"), 0);
    for (const auto& question : empty.at("questions")) {
        EXPECT_EQ(question.at("responses"), 0);
        EXPECT_TRUE(question.at("median_seconds").is_null());
    }
    EXPECT_EQ(empty.at("questions").at(0).at("key"), "name");
}

TEST_F(api_results_test, an_identified_export_that_cannot_be_audited_gives_no_data) {
    server = std::make_unique<test::server_process>(dir.file("config.json"));
    say(phones[0], "SURVEY");
    say(phones[0], "Amman");
    // The audit log refuses every entry, as a store that fails would.
    const auto set_trigger = [&](const std::string& sql) {
        sqlite::connection db(dir.file("flowgate.db"));
        db.exec("PRAGMA busy_timeout = 5000");
        db.exec(sql);
    };
    set_trigger(
        "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'refused'); END");
    for (const char* format : {"json", "csv"}) {
        SCOPED_TRACE(format);
        const auto res =
            get(std::string("/api/v1/flows/survey/results?identified=true&format=") + format, "admin");
        EXPECT_EQ(res.status, 503);
        EXPECT_EQ(json::parse(res.body), json::parse(R"({"error": "store unavailable"})"));
    }
    EXPECT_EQ(get("/api/v1/flows/survey/results", "admin").status, 200) << "pseudonymised needs no entry";
    EXPECT_EQ(get_json("/api/v1/audit", "admin").at("entries"), json::array());
    set_trigger("DROP TRIGGER refuse_audit");
    const auto res = get("/api/v1/flows/survey/results?identified=true", "admin");
    EXPECT_EQ(res.status, 200);
    EXPECT_NE(res.body.find(phones[0]), std::string::npos);
    EXPECT_EQ(get_json("/api/v1/audit", "admin").at("entries").size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(backends,
                         api_results_on,
                         ::testing::Values(test::backend::sqlite, test::backend::postgres),
                         [](const ::testing::TestParamInfo<test::backend>& info) {
                             return test::backend_name(info.param);
                         });

}  // namespace
}  // namespace flowgate::gateway
