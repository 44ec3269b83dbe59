// The results export and summary as pure functions: CSV quoting and the formula guard, the BOM and
// line ends, the columns a flow defines, the summary's counts, categories and medians.

#include "gateway/results.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace flowgate::gateway::results {
namespace {

using json = nlohmann::json;

const timestamp t0 = from_millis(1'800'000'000'000);

timestamp at(int seconds) { return t0 + std::chrono::seconds(seconds); }

flows::node ask(std::string id, std::string result, std::vector<std::string> categories) {
    flows::node n;
    n.id = std::move(id);
    flows::router r;
    r.wait = flows::wait_spec{};
    r.result_name = std::move(result);
    for (auto& c : categories) {
        r.categories.push_back(flows::category{std::move(c), 0});
    }
    n.router = std::move(r);
    n.exits.push_back({});
    return n;
}

// A survey: a rating, a comment, a set_run_result, a webhook, and the rating asked again with one
// more category (the same key, so one column).
flows::flow survey() {
    flows::flow f;
    f.id = "survey";
    f.name = "Feedback survey";
    f.language = "en";
    f.nodes.push_back(ask("rate", "Rating", {"Good", "Bad", "Other", "No Response"}));
    f.nodes.push_back(ask("comment", "Comment", {"Has Text", "Other"}));
    flows::node tag;
    tag.id = "tag";
    tag.actions.push_back(flows::set_result_action{"Survey Done", "yes", "Done"});
    tag.actions.push_back(flows::webhook_action{"POST", "https://example.org", {}, "", "Lookup"});
    f.nodes.push_back(tag);
    f.nodes.push_back(ask("rate_again", "rating", {"Bad", "Skipped"}));
    f.nodes.push_back(ask("plain", "", {"Any"}));  // saves no result
    return f;
}

flows::result_value value(std::string name, std::string v, std::string category, int seconds) {
    return flows::result_value{std::move(name), v, std::move(category), v, "node", at(seconds)};
}

TEST(results, a_flows_columns_are_its_results_in_node_order_each_key_once) {
    const auto cols = flow_columns(survey());
    const std::vector<column> expected = {
        {"rating", "Rating", {"Good", "Bad", "Other", "No Response", "Skipped"}},
        {"comment", "Comment", {"Has Text", "Other"}},
        {"survey_done", "Survey Done", {"Done"}},
        {"lookup", "Lookup", {"Success", "Failure"}},
    };
    EXPECT_EQ(cols, expected);
}

TEST(results, keys_stored_but_not_in_the_flow_come_last_in_the_order_first_met) {
    std::vector<flow_run_row> runs(2);
    runs[0].values["old_question"] = value("Old Question", "x", "All", 5);
    runs[0].values["rating"] = value("Rating", "5", "Good", 5);
    runs[1].values["another"] = value("Another", "y", "", 5);
    runs[1].values["old_question"] = value("Old Question", "z", "All", 5);
    const auto cols = result_columns(survey(), runs);
    ASSERT_EQ(cols.size(), 6u);
    EXPECT_EQ(cols[3].key, "lookup");
    EXPECT_EQ(cols[4], (column{"old_question", "Old Question", {}}));
    EXPECT_EQ(cols[5], (column{"another", "Another", {}}));
}

TEST(results, csv_fields_are_quoted_as_rfc_4180_says_and_formulas_are_defused) {
    struct field_case {
        const char* label;
        std::string in;
        std::string out;
    };
    const std::vector<field_case> cases = {
        {"plain", "Amman", "Amman"},
        {"empty", "", ""},
        {"a comma", "Amman, Irbid", "\"Amman, Irbid\""},
        {"a quote", "the \"best\" one", "\"the \"\"best\"\" one\""},
        {"only a quote", "\"", "\"\"\"\""},
        {"a newline", "line one\nline two", "\"line one\nline two\""},
        {"a CR", "a\rb", "\"a\rb\""},
        {"CRLF", "a\r\nb", "\"a\r\nb\""},
        {"Arabic", "عمان", "عمان"},
        {"Arabic with a comma", "عمان، إربد, الزرقاء", "\"عمان، إربد, الزرقاء\""},
        {"Arabic with a quote and a newline", "قال \"نعم\"\nشكرا", "\"قال \"\"نعم\"\"\nشكرا\""},
        {"a semicolon is not special", "a;b", "a;b"},
        {"equals starts a formula", "=1+2", "'=1+2"},
        {"plus", "+962791234567", "'+962791234567"},
        {"minus", "-5", "'-5"},
        {"at", "@SUM(A1)", "'@SUM(A1)"},
        {"tab", "\t=1", "'\t=1"},
        {"CR first is defused and quoted", "\r=1", "\"'\r=1\""},
        {"a formula with a comma and quotes",
         "=HYPERLINK(\"http://x\",\"y\")",
         "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""},
        {"a formula sign later is harmless", "1=1", "1=1"},
        {"a leading space is not a formula", " =1", " =1"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        EXPECT_EQ(csv_field(c.in), c.out);
    }
}

flow_run_row run_row(
    std::int64_t id, std::string uuid, std::string status, int started, std::optional<int> exited) {
    flow_run_row r;
    r.id = id;
    r.contact_uuid = std::move(uuid);
    r.contact_name = "Rania";
    r.urn = "tel:+962791234567";
    r.status = std::move(status);
    r.started_at = at(started);
    if (exited) {
        r.exited_at = at(*exited);
    }
    return r;
}

TEST(results, the_csv_has_a_bom_crlf_lines_a_header_and_one_row_per_run) {
    std::vector<column> cols = {{"rating", "Rating", {}}, {"comment", "Comment", {}}};
    std::vector<flow_run_row> runs = {run_row(7, "u-1", "completed", 0, 30),
                                      run_row(9, "u-2", "active", 10, {})};
    runs[0].values["rating"] = flows::result_value{"Rating", "5", "Good", "٥ ممتاز", "rate", at(20)};
    runs[0].values["comment"] =
        flows::result_value{"Comment", "جيد، \"جدا\"", "Has Text", "جيد، \"جدا\"", "c", at(30)};
    const std::string bom = "\xEF\xBB\xBF";
    const std::string pseudonymised = results_csv(cols, runs, false);
    EXPECT_EQ(pseudonymised,
              bom +
                  "Contact UUID,Run,Status,Started,Exited,Rating (Value),Rating (Category),Rating (Text),"
                  "Comment (Value),Comment (Category),Comment (Text)\r\n"
                  "u-1,7,completed,2027-01-15T08:00:00Z,2027-01-15T08:00:30Z,5,Good,٥ ممتاز,"
                  "\"جيد، \"\"جدا\"\"\",Has Text,\"جيد، \"\"جدا\"\"\"\r\n"
                  "u-2,9,active,2027-01-15T08:00:10Z,,,,,,,\r\n");
    EXPECT_EQ(pseudonymised.find("Rania"), std::string::npos)
        << "the row has a name, but it is not asked for";
    EXPECT_EQ(pseudonymised.find("791234567"), std::string::npos);

    const std::string identified = results_csv(cols, runs, true);
    EXPECT_EQ(identified.substr(0, 3), bom);
    const auto first_line = identified.substr(3, identified.find("\r\n") - 3);
    EXPECT_EQ(first_line,
              "Contact UUID,Name,URN,Run,Status,Started,Exited,Rating (Value),Rating (Category),Rating "
              "(Text),Comment (Value),Comment (Category),Comment (Text)");
    EXPECT_NE(identified.find("\r\nu-1,Rania,tel:+962791234567,7,completed,"), std::string::npos)
        << "a URN starting with a letter is not defused";
    // Every line ends in CRLF: no bare LF outside a quoted field here.
    std::size_t lf = 0;
    std::size_t crlf = 0;
    for (std::size_t i = 0; i < identified.size(); ++i) {
        if (identified[i] == '\n') {
            ++lf;
            crlf += i > 0 && identified[i - 1] == '\r';
        }
    }
    EXPECT_EQ(lf, 3u);
    EXPECT_EQ(crlf, 3u);
}

TEST(results, the_json_export_names_contacts_only_when_identified) {
    const auto f = survey();
    std::vector<flow_run_row> runs = {run_row(3, "u-1", "expired", 0, 60)};
    runs[0].values["rating"] = value("Rating", "4", "Good", 12);
    const auto cols = result_columns(f, runs);
    const auto j = results_json(f, cols, runs, false);
    EXPECT_EQ(j.at("flow"), json::parse(R"({"id": "survey", "name": "Feedback survey"})"));
    EXPECT_EQ(j.at("results").at(0), json::parse(R"({"key": "rating", "name": "Rating"})"));
    EXPECT_EQ(j.at("runs").at(0), json::parse(R"({"run": 3, "contact": "u-1", "status": "expired",
                  "started_at": "2027-01-15T08:00:00Z", "exited_at": "2027-01-15T08:01:00Z",
                  "values": {"rating": {"value": "4", "category": "Good", "text": "4",
                                        "time": "2027-01-15T08:00:12Z"}}})"));
    runs[0].exited_at.reset();
    const auto named = results_json(f, cols, runs, true).at("runs").at(0);
    EXPECT_EQ(named.at("name"), "Rania");
    EXPECT_EQ(named.at("urn"), "tel:+962791234567");
    EXPECT_TRUE(named.at("exited_at").is_null());
}

TEST(results, the_median_of_odd_and_even_counts) {
    struct median_case {
        const char* label;
        std::vector<double> values;
        std::optional<double> median;
    };
    const std::vector<median_case> cases = {
        {"none", {}, std::nullopt},
        {"one", {42}, 42.0},
        {"odd, unsorted", {30, 10, 20}, 20.0},
        {"even: the mean of the middle two", {40, 10, 30, 20}, 25.0},
        {"even, two", {1, 2}, 1.5},
        {"repeated values", {5, 5, 1, 5}, 5.0},
        {"odd with an outlier", {3, 1, 1000000, 2, 4}, 3.0},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        EXPECT_EQ(median(c.values), c.median);
    }
}

TEST(results, the_summary_counts_runs_responses_categories_and_response_times) {
    const auto f = survey();
    std::vector<flow_run_row> runs = {
        run_row(1, "a", "completed", 0, 100),
        run_row(2, "b", "completed", 0, 100),
        run_row(3, "c", "expired", 0, 100),
        run_row(4, "d", "active", 0, {}),
        run_row(5, "e", "interrupted", 0, 5),
    };
    // Rating: asked at the run's start. Comment: asked when the rating was answered.
    runs[0].values["rating"] = value("Rating", "5", "Good", 10);
    runs[0].values["comment"] = value("Comment", "fine", "Has Text", 40);  // 30 s after the rating
    runs[1].values["rating"] = value("Rating", "1", "Bad", 20);
    runs[1].values["comment"] = value("Comment", "no", "Has Text", 30);  // 10 s
    runs[1].values["unknown"] = value("Unknown", "x", "Whatever", 50);
    runs[2].values["rating"] = value("Rating", "", "No Response", 86400);     // timed out: no response
    runs[2].values["comment"] = value("Comment", "late", "Has Text", 86410);  // 10 s after the timeout
    runs[3].values["rating"] = value("Rating", "maybe", "Unsure", 60);        // a category the flow lacks
    // A set_run_result saved in the same step as the comment: timed from the rating too.
    runs[1].values["survey_done"] = value("Survey Done", "yes", "Done", 30);

    const auto s = summarize(result_columns(f, runs), runs);
    EXPECT_EQ(s.runs, 5);
    EXPECT_EQ(s.completed, 2);
    EXPECT_EQ(s.expired, 1);
    EXPECT_EQ(s.active, 1);
    EXPECT_EQ(s.interrupted, 1);
    EXPECT_EQ(s.failed, 0);
    ASSERT_EQ(s.questions.size(), 5u);

    const auto& rating = s.questions[0];
    EXPECT_EQ(rating.key, "rating");
    EXPECT_EQ(rating.responses, 3);
    EXPECT_DOUBLE_EQ(rating.response_rate, 0.6);
    EXPECT_EQ(rating.median_seconds, 20.0) << "10, 20 and 60 seconds from the run's start";
    EXPECT_EQ(rating.categories,
              (std::vector<category_count>{
                  {"Good", 1}, {"Bad", 1}, {"Other", 0}, {"No Response", 1}, {"Skipped", 0}, {"Unsure", 1}}))
        << "the flow's order, zero counts too, then others";

    const auto& comment = s.questions[1];
    EXPECT_EQ(comment.responses, 3);
    EXPECT_EQ(comment.median_seconds, 10.0) << "30, 10 and 10 seconds from the previous result";

    const auto& done = s.questions[2];
    EXPECT_EQ(done.responses, 1);
    EXPECT_EQ(done.median_seconds, 10.0);
    EXPECT_EQ(done.categories, (std::vector<category_count>{{"Done", 1}}));

    const auto& lookup = s.questions[3];
    EXPECT_EQ(lookup.responses, 0);
    EXPECT_EQ(lookup.response_rate, 0.0);
    EXPECT_EQ(lookup.median_seconds, std::nullopt);
    EXPECT_EQ(lookup.categories, (std::vector<category_count>{{"Success", 0}, {"Failure", 0}}));

    EXPECT_EQ(s.questions[4].key, "unknown") << "a stored key the flow does not define";
    EXPECT_EQ(s.questions[4].categories, (std::vector<category_count>{{"Whatever", 1}}));

    const auto j = summary_json(f, s);
    EXPECT_EQ(j.at("runs"), 5);
    EXPECT_EQ(j.at("questions").at(0).at("median_seconds"), 20.0);
    EXPECT_TRUE(j.at("questions").at(3).at("median_seconds").is_null());
    EXPECT_EQ(j.at("questions").at(0).at("categories").at(5),
              json::parse(R"({"name": "Unsure", "count": 1})"));
}

TEST(results, an_even_number_of_response_times_gives_the_mean_of_the_middle_two) {
    std::vector<flow_run_row> runs;
    for (const int seconds : {4, 1, 9, 6}) {
        runs.push_back(run_row(static_cast<std::int64_t>(runs.size()) + 1, "c", "completed", 100, 200));
        runs.back().values["rating"] = value("Rating", "5", "Good", 100 + seconds);
    }
    const auto s = summarize(flow_columns(survey()), runs);
    EXPECT_EQ(s.questions[0].median_seconds, 5.0);
    EXPECT_EQ(s.questions[0].response_rate, 1.0);
}

TEST(results, an_empty_flow_summary) {
    const auto s = summarize(flow_columns(survey()), {});
    EXPECT_EQ(s.runs, 0);
    EXPECT_EQ(s.questions[0].response_rate, 0.0);
    EXPECT_EQ(s.questions[0].median_seconds, std::nullopt);
}

TEST(results, the_csv_file_name_is_safe_in_a_header) {
    EXPECT_EQ(csv_file_name("followup-survey"), "followup-survey-results.csv");
    EXPECT_EQ(csv_file_name("fd243d7f-01d0-5916-95b9-98ef65c5bb31"),
              "fd243d7f-01d0-5916-95b9-98ef65c5bb31-results.csv");
    EXPECT_EQ(csv_file_name("a\"b;c\r\nd"), "a_b_c__d-results.csv");
}

}  // namespace
}  // namespace flowgate::gateway::results
