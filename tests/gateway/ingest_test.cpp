#include "gateway/ingest.hpp"

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <future>
#include <nlohmann/json.hpp>
#include <tuple>

#include "flows/calendar.hpp"
#include "flows/keywords.hpp"
#include "flows/loader.hpp"
#include "flows/rapidpro.hpp"
#include "gateway/postgres_store.hpp"
#include "gateway/sqlite_store.hpp"
#include "gateway/writer.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sample_flows.hpp"
#include "tests/support/sealed.hpp"

namespace flowgate::gateway {
namespace {

using test::signup_flow;

// A question that nudges once after an hour without an answer; the run expires after two days.
const char* survey_flow = R"({
  "id": "survey", "language": "en", "expire_after": "2d",
  "nodes": [
    {"id": "rate", "ask": "Rate the workshop 1-5", "result": "Rating",
     "cases": [{"test": "has_number_between", "args": [1, 5], "category": "Rated", "next": "thanks"}],
     "other": "rate", "timeout": "1h", "on_timeout": "nudge"},
    {"id": "nudge", "ask": "We have not heard from you. Rate 1-5", "result": "Rating",
     "cases": [{"test": "has_number_between", "args": [1, 5], "category": "Rated", "next": "thanks"}],
     "other": "nudge"},
    {"id": "thanks", "send": "Thanks"}
  ]
})";

config::config make_config() {
    config::config cfg;
    for (const char* text : {signup_flow, survey_flow}) {
        auto loaded = flows::load_flow(nlohmann::json::parse(text));
        EXPECT_TRUE(loaded.loaded) << (loaded.problems.empty()
                                           ? ""
                                           : loaded.problems[0].pointer + ": " + loaded.problems[0].message);
        if (loaded.loaded) {
            cfg.flows->add(std::move(*loaded.loaded));
        }
    }
    cfg.languages = {"en", "ar"};
    cfg.triggers.push_back({{"JOIN", "انضم"}, "signup", flows::keyword_trigger::match::first_word});
    cfg.triggers.push_back({{"SURVEY"}, "survey", flows::keyword_trigger::match::first_word});
    return cfg;
}

// Virtual time: each step is a message (or, with an empty text, the timer firing) at a time, and
// what the outbox holds afterwards.
struct timed_step {
    std::chrono::minutes at;
    std::string text;  // "" : the timer loop runs
    std::vector<std::string> replies;
};

// On SQLite (the file ingest.db) or on a fresh PostgreSQL database.
struct fixture {
    explicit fixture(test::backend b = test::backend::sqlite) : kind(b) {}
    test::temp_dir dir;
    test::backend kind;
    std::string skip;  // set when no PostgreSQL can run here
    std::string where = test::new_database(kind, dir.file("ingest.db"), skip);
    std::unique_ptr<gateway::store> owned = test::open_store(kind, where);
    gateway::store& store = *owned;
    config::config cfg = make_config();
    flows::engine engine{*cfg.flows, cfg.triggers, {{"en", "ar"}}};
    ingest in{cfg, engine};

    ingest_outcome receive(const std::string& id,
                           const std::string& urn,
                           const std::string& text,
                           std::int64_t t = 1) {
        auto tx = store.begin_write();
        const auto out =
            in.apply(*tx, "local", handlers::incoming_message{id, urn, text, ""}, from_millis(t));
        tx->commit();
        return out;
    }
    // Plays the steps in virtual time from midnight UTC of day one, checking each step's replies.
    void play(const std::vector<timed_step>& steps) {
        int n = 0;
        for (const auto& s : steps) {
            SCOPED_TRACE(std::to_string(s.at.count()) + "m " + s.text);
            const auto now = from_millis(std::chrono::duration_cast<std::chrono::milliseconds>(s.at).count());
            if (s.text.empty()) {
                auto tx = store.begin_write();
                in.fire_due(*tx, now, 100);
                tx->commit();
            } else {
                receive("m" + std::to_string(++n), "ext:p1", s.text, to_millis(now));
            }
            EXPECT_EQ(outbox(), s.replies);
        }
    }
    // The first row of a query on the store's database.
    std::vector<std::string> row(const std::string& sql) { return test::first_row(kind, where, sql); }
    std::vector<std::string> outbox() {
        auto tx = store.begin_write();
        std::vector<std::string> texts;
        // As the sender does: one contact's messages are claimable one after another.
        for (;;) {
            const auto claimed = tx->claim_outbound(from_millis(1'000'000'000), 100);
            if (claimed.empty()) {
                break;
            }
            for (const auto& m : claimed) {
                texts.push_back(m.text);
                tx->mark_sent(m.id, "", from_millis(1'000'000'000));
            }
        }
        tx->commit();
        return texts;
    }
};

// The ingest tests that need only the store interface run on both backends.
class ingest_on : public ::testing::TestWithParam<test::backend> {
   protected:
    void SetUp() override {
        if (GetParam() == test::backend::postgres) {
            std::string why_not;
            if (!test::shared_postgres(why_not)) {
                GTEST_SKIP() << why_not;
            }
        }
    }
};

struct step {
    std::string id;
    std::string text;
    bool duplicate;
    std::vector<std::string> replies;
};

TEST_P(ingest_on, transcript_through_the_store) {
    const std::vector<std::pair<const char*, std::vector<step>>> cases = {
        {"sign-up with a word",
         {{"m1", "JOIN", false, {"Welcome", "Which city? 1 Amman 2 Irbid"}},
          {"m2", "amman", false, {"Thanks, see you in Amman"}}}},
        {"Arabic-Indic digit answer",
         {{"m1", "join", false, {"Welcome", "Which city? 1 Amman 2 Irbid"}},
          {"m2", " ٢ ", false, {"Thanks, see you in Irbid"}}}},
        {"a retried webhook changes nothing",
         {{"m1", "JOIN", false, {"Welcome", "Which city? 1 Amman 2 Irbid"}},
          {"m1", "JOIN", true, {}},
          {"m2", "1", false, {"Thanks, see you in Amman"}},
          {"m2", "1", true, {}}}},
        {"no match asks again",
         {{"m1", "JOIN", false, {"Welcome", "Which city? 1 Amman 2 Irbid"}},
          {"m2", "Paris", false, {"Which city? 1 Amman 2 Irbid"}}}},
        {"no flow, no trigger: stored, no reply", {{"m1", "hello", false, {}}}},
    };
    for (const auto& [label, steps] : cases) {
        SCOPED_TRACE(label);
        fixture f(GetParam());
        for (const auto& s : steps) {
            SCOPED_TRACE(s.id + " " + s.text);
            const auto out = f.receive(s.id, "tel:+962791234567", s.text);
            EXPECT_EQ(out.duplicate, s.duplicate);
            EXPECT_EQ(out.queued, s.replies.size());
            EXPECT_EQ(f.outbox(), s.replies);
        }
    }
}

TEST(ingest, results_and_runs_are_stored) {
    fixture f;
    f.receive("m1", "ext:p1", "JOIN");
    f.receive("m2", "ext:p1", "irbid");
    sqlite::connection db(f.dir.file("ingest.db"));
    test::add_reveal(db);
    sqlite::statement q(
        db,
        "SELECT r.key, reveal(r.value), r.category, reveal(r.input), runs.status FROM results r "
        "JOIN runs ON runs.id = r.run_id");
    ASSERT_TRUE(q.step());
    EXPECT_EQ(q.column_text(0), "city");
    EXPECT_EQ(q.column_text(2), "Irbid");
    EXPECT_EQ(q.column_text(3), "irbid");
    EXPECT_EQ(q.column_text(4), "completed");
    EXPECT_FALSE(q.step());
}

// A run's updated_at is the time of its last step: written by its start, then by each step that
// keeps the conversation going (the first step's session save does not write it again).
TEST_P(ingest_on, a_run_is_touched_by_each_of_its_steps) {
    fixture f(GetParam());
    if (!f.skip.empty()) {
        GTEST_SKIP() << f.skip;
    }
    const std::string sql = "SELECT created_at, updated_at, status FROM runs";
    f.receive("m1", "tel:+962791234567", "JOIN", 1000);
    EXPECT_EQ(f.row(sql), (std::vector<std::string>{"1000", "1000", "active"}));
    f.receive("m2", "tel:+962791234567", "Paris", 5000);  // no match: asked again
    EXPECT_EQ(f.row(sql), (std::vector<std::string>{"1000", "5000", "active"}));
    f.receive("m3", "tel:+962791234567", "1", 9000);
    EXPECT_EQ(f.row(sql), (std::vector<std::string>{"1000", "9000", "completed"}));
}

TEST_P(ingest_on, stopped_contact_gets_no_flow_step) {
    fixture f(GetParam());
    {
        auto tx = f.store.begin_write();
        f.in.apply(*tx,
                   "local",
                   handlers::channel_event{handlers::channel_event::kind::stop_contact, "ext:p1"},
                   from_millis(0));
        tx->commit();
    }
    const auto out = f.receive("m1", "ext:p1", "JOIN");
    EXPECT_FALSE(out.duplicate);
    EXPECT_EQ(out.queued, 0u);
    EXPECT_EQ(f.store.count_messages().inbound, 1);
}

// Standing keywords, whole conversations: each step is what the contact sends and what the outbox
// holds afterwards (read the way the sender reads it). A step with `read = false` leaves the outbox
// alone, so a later STOP finds the replies still queued.
struct keyword_step {
    std::string text;
    std::vector<std::string> replies;
    bool read = true;
};

TEST_P(ingest_on, standing_keywords_stop_start_and_help) {
    const std::string stop_en = flows::default_stop_reply().at("en");
    const std::string stop_ar = flows::default_stop_reply().at("ar");
    const std::string start_en = flows::default_start_reply().at("en");
    const std::string help_en = flows::default_help_reply("flowgate").at("en");
    const std::vector<std::pair<const char*, std::vector<keyword_step>>> cases = {
        {"STOP in the middle of a flow cancels what is queued; then nothing, ever",
         {{"JOIN", {}, false},
          {"Stop.", {stop_en}},
          {"amman", {}},
          {"JOIN", {}},
          {"STOP", {}},
          {"yes", {start_en}},
          {"JOIN", {"Welcome", "Which city? 1 Amman 2 Irbid"}}}},
        {"START opts back in; YES is an answer unless opted out",
         {{"UNSUBSCRIBE", {stop_en}}, {"start", {start_en}}, {"yes", {}}, {"START", {}}}},
        {"HELP answers without touching the conversation",
         {{"JOIN", {"Welcome", "Which city? 1 Amman 2 Irbid"}},
          {" help ", {help_en}},
          {"irbid", {"Thanks, see you in Irbid"}}}},
        {"a word that merely contains STOP is an answer, not an opt-out",
         {{"JOIN", {"Welcome", "Which city? 1 Amman 2 Irbid"}},
          {"please stop it", {"Which city? 1 Amman 2 Irbid"}}}},
        {"Arabic STOP with a letter variant, answered in Arabic", {{"ايقاف", {stop_ar}}, {"انضم", {}}}},
        {"a contact who writes Arabic is answered in Arabic",
         {{"انضم", {"أهلا وسهلا", "أي مدينة؟"}}, {"٢", {"Thanks, see you in Irbid"}}}},
    };
    for (const auto& [label, steps] : cases) {
        SCOPED_TRACE(label);
        fixture f(GetParam());
        int n = 0;
        for (const auto& s : steps) {
            SCOPED_TRACE(s.text);
            const auto out = f.receive("m" + std::to_string(++n), "tel:+962791234567", s.text);
            EXPECT_FALSE(out.duplicate);
            if (s.read) {
                EXPECT_EQ(f.outbox(), s.replies);
            }
        }
    }
}

TEST_P(ingest_on, nothing_queued_reaches_a_contact_who_opted_out) {
    fixture f(GetParam());
    f.receive("m1", "ext:p1", "JOIN");  // two replies queued, none sent yet
    {
        // A provider's opt-out signal (not a message) must stop them too.
        auto tx = f.store.begin_write();
        f.in.apply(*tx,
                   "local",
                   handlers::channel_event{handlers::channel_event::kind::stop_contact, "ext:p1"},
                   from_millis(2));
        tx->commit();
    }
    EXPECT_TRUE(f.outbox().empty());
    const auto counts = f.store.count_messages();
    EXPECT_EQ(counts.outbound_by_state.at("failed"), 2);
}

// A parent flow that enters a child flow which waits for an answer (a RapidPro export: our own
// format has no subflows).
const char* nested_export = R"({"version": "13", "flows": [
  {"uuid": "8b1e4a52-7c1f-4d0e-9a3e-1f2b3c4d5e01", "name": "Outer", "spec_version": "13.1",
   "language": "eng", "type": "messaging", "expire_after_minutes": 4320, "nodes": [
    {"uuid": "8b1e4a52-7c1f-4d0e-9a3e-1f2b3c4d5e02",
     "actions": [{"uuid": "8b1e4a52-7c1f-4d0e-9a3e-1f2b3c4d5e03", "type": "enter_flow",
                  "flow": {"uuid": "8b1e4a52-7c1f-4d0e-9a3e-1f2b3c4d5e11", "name": "Inner"}}],
     "router": {"type": "switch", "operand": "@child.run.status",
                "cases": [{"uuid": "8b1e4a52-7c1f-4d0e-9a3e-1f2b3c4d5e04", "type": "has_only_text",
                           "arguments": ["completed"], "category_uuid": "8b1e4a52-7c1f-4d0e-9a3e-1f2b3c4d5e05"}],
                "categories": [{"uuid": "8b1e4a52-7c1f-4d0e-9a3e-1f2b3c4d5e05", "name": "Complete",
                                "exit_uuid": "8b1e4a52-7c1f-4d0e-9a3e-1f2b3c4d5e06"},
                               {"uuid": "8b1e4a52-7c1f-4d0e-9a3e-1f2b3c4d5e07", "name": "Expired",
                                "exit_uuid": "8b1e4a52-7c1f-4d0e-9a3e-1f2b3c4d5e08"}],
                "default_category_uuid": "8b1e4a52-7c1f-4d0e-9a3e-1f2b3c4d5e07"},
     "exits": [{"uuid": "8b1e4a52-7c1f-4d0e-9a3e-1f2b3c4d5e06"}, {"uuid": "8b1e4a52-7c1f-4d0e-9a3e-1f2b3c4d5e08"}]}]},
  {"uuid": "8b1e4a52-7c1f-4d0e-9a3e-1f2b3c4d5e11", "name": "Inner", "spec_version": "13.1",
   "language": "eng", "type": "messaging", "expire_after_minutes": 4320, "nodes": [
    {"uuid": "8b1e4a52-7c1f-4d0e-9a3e-1f2b3c4d5e12",
     "actions": [{"uuid": "8b1e4a52-7c1f-4d0e-9a3e-1f2b3c4d5e13", "type": "send_msg", "text": "May we write to you?"}],
     "router": {"type": "switch", "operand": "@input.text", "wait": {"type": "msg"}, "cases": [],
                "categories": [{"uuid": "8b1e4a52-7c1f-4d0e-9a3e-1f2b3c4d5e14", "name": "All Responses",
                                "exit_uuid": "8b1e4a52-7c1f-4d0e-9a3e-1f2b3c4d5e15"}],
                "default_category_uuid": "8b1e4a52-7c1f-4d0e-9a3e-1f2b3c4d5e14"},
     "exits": [{"uuid": "8b1e4a52-7c1f-4d0e-9a3e-1f2b3c4d5e15"}]}]}]})";

TEST_P(ingest_on, stop_inside_a_subflow_ends_every_run_of_the_conversation) {
    fixture f(GetParam());
    auto loaded = flows::load_rapidpro_export(nlohmann::json::parse(nested_export), {"en", "ar"});
    ASSERT_TRUE(loaded.problems.empty()) << loaded.problems[0].pointer << ": " << loaded.problems[0].message;
    for (auto& fl : loaded.flows) {
        f.cfg.flows->add(std::move(fl));
    }
    f.cfg.triggers.push_back({{"NEST"}, "Outer", flows::keyword_trigger::match::first_word});
    flows::engine engine{*f.cfg.flows, f.cfg.triggers, {{"en", "ar"}}};
    ingest in{f.cfg, engine};
    const auto receive = [&](const std::string& id, const std::string& text) {
        auto tx = f.store.begin_write();
        in.apply(*tx, "local", handlers::incoming_message{id, "ext:p1", text, ""}, from_millis(1));
        tx->commit();
    };
    receive("m1", "NEST");
    EXPECT_EQ(f.outbox(), std::vector<std::string>{"May we write to you?"});
    receive("m2", "STOP");
    std::vector<std::string> runs;
    for (const auto* flow :
         {"8b1e4a52-7c1f-4d0e-9a3e-1f2b3c4d5e01", "8b1e4a52-7c1f-4d0e-9a3e-1f2b3c4d5e11"}) {
        for (const auto& run : f.store.list_flow_runs(flow, false)) {
            runs.push_back(flow + (" " + run.status));
        }
    }
    EXPECT_EQ(runs,
              (std::vector<std::string>{"8b1e4a52-7c1f-4d0e-9a3e-1f2b3c4d5e01 interrupted",
                                        "8b1e4a52-7c1f-4d0e-9a3e-1f2b3c4d5e11 interrupted"}));
    EXPECT_EQ(f.row("SELECT count(*) FROM sessions"), std::vector<std::string>{"0"});
}

TEST_P(ingest_on, waits_time_out_and_runs_expire) {
    using std::chrono::hours;
    using std::chrono::minutes;
    const std::vector<std::tuple<const char*, std::vector<timed_step>, const char*>> cases = {
        {"no answer: one nudge after an hour, then the run expires after two days",
         {{minutes(0), "SURVEY", {"Rate the workshop 1-5"}},
          {minutes(59), "", {}},
          {minutes(60), "", {"We have not heard from you. Rate 1-5"}},
          {hours(24), "", {}},
          {hours(48), "", {}}},
         "expired"},
        {"an answer in time: no nudge ever",
         {{minutes(0), "SURVEY", {"Rate the workshop 1-5"}},
          {minutes(30), "٤", {"Thanks"}},
          {hours(3), "", {}},
          {hours(72), "", {}}},
         "completed"},
        {"an answer after the nudge still counts",
         {{minutes(0), "SURVEY", {"Rate the workshop 1-5"}},
          {minutes(61), "", {"We have not heard from you. Rate 1-5"}},
          {hours(5), "5.", {"Thanks"}}},
         "completed"},
        {"STOP before the timeout: no nudge",
         {{minutes(0), "SURVEY", {"Rate the workshop 1-5"}},
          {minutes(10), "STOP", {flows::default_stop_reply().at("en")}},
          {hours(2), "", {}}},
         "interrupted"},
    };
    for (const auto& [label, steps, final_status] : cases) {
        SCOPED_TRACE(label);
        fixture f(GetParam());
        f.play(steps);
        EXPECT_EQ(f.row("SELECT status FROM runs"), std::vector<std::string>{final_status});
        EXPECT_EQ(f.row("SELECT count(*) FROM sessions"), std::vector<std::string>{"0"})
            << "a finished run leaves no session behind";
    }
}

TEST(ingest, a_timeout_in_quiet_hours_waits_for_morning_and_a_night_answer_cancels_it) {
    using std::chrono::hours;
    using std::chrono::minutes;
    const std::vector<std::pair<const char*, std::vector<timed_step>>> cases = {
        {"no answer: the nudge due at 22:30 goes at 06:00",
         {{hours(21) + minutes(30), "SURVEY", {"Rate the workshop 1-5"}},
          {hours(22) + minutes(30), "", {}},
          {hours(29) + minutes(59), "", {}},
          {hours(30), "", {"We have not heard from you. Rate 1-5"}}}},
        {"an answer at 23:00 goes at once, and no nudge ever follows",
         {{hours(21) + minutes(30), "SURVEY", {"Rate the workshop 1-5"}},
          {hours(22) + minutes(30), "", {}},
          {hours(23), "4", {"Thanks"}},
          {hours(30), "", {}}}},
    };
    for (const auto& [label, steps] : cases) {
        SCOPED_TRACE(label);
        fixture f;
        f.cfg.timezone = "UTC";
        f.cfg.quiet_hours = std::pair{config::clock_time{22 * 60}, config::clock_time{6 * 60}};
        f.play(steps);
    }
}

// Workshops through the store: places and the waiting list, reminders scheduled with a place and
// cancelled with it, the waiting list told when a place frees up.
const char* const book_flow = R"({"id": "book", "language": "en", "nodes": [
  {"id": "choose", "workshop": "choose", "ask": "Which workshop?", "next": "register", "other": "choose"},
  {"id": "register", "workshop": "register", "registered": "yes", "waitlisted": "wait"},
  {"id": "yes", "send": "Registered for @workshop.title"},
  {"id": "wait", "send": "Waiting list for @workshop.title"}]})";
const char* const remind_flow = R"({"id": "remind", "language": "en", "nodes": [
  {"id": "ask", "ask": "@workshop.title on @workshop.date: 1 coming, 2 cancel", "cases": [
    {"test": "has_any_word", "args": [2], "category": "Cancel", "next": "cancel"}]},
  {"id": "cancel", "workshop": "cancel", "send": "Cancelled"}]})";
const char* const soon_flow = R"({"id": "soon", "language": "en", "nodes": [
  {"id": "soon", "send": "Starts at @workshop.time"}]})";
const char* const place_flow = R"({"id": "place", "language": "en", "nodes": [
  {"id": "place", "send": "A place is yours at @workshop.title"}]})";
const char* const cancelled_flow = R"({"id": "cancelled", "language": "en", "nodes": [
  {"id": "cancelled", "send": "Your place at @workshop.title was cancelled"}]})";

struct workshop_fixture {
    test::temp_dir dir;
    test::backend kind;
    std::string skip;  // set when no PostgreSQL can run here
    std::string where;
    config::config cfg;
    std::unique_ptr<gateway::store> store;
    std::unique_ptr<flows::engine> engine;
    std::unique_ptr<ingest> in;
    int n = 0;

    explicit workshop_fixture(test::backend b = test::backend::sqlite)
        : kind(b), where(test::new_database(b, dir.file("w.db"), skip)) {
        for (const char* text : {book_flow, remind_flow, soon_flow, place_flow, cancelled_flow}) {
            auto loaded = flows::load_flow(nlohmann::json::parse(text));
            EXPECT_TRUE(loaded.problems.empty())
                << loaded.problems[0].pointer << ": " << loaded.problems[0].message;
            cfg.flows->add(std::move(*loaded.loaded));
        }
        cfg.timezone = "Asia/Amman";
        cfg.triggers.push_back({{"BOOK"}, "book", flows::keyword_trigger::match::first_word});
        flows::workshop w{
            "amman", {{"en", "Amman"}}, {{"en", "Weibdeh"}}, at("2027-03-14T10:00"), "Asia/Amman", 1};
        cfg.workshops.push_back(w);
        cfg.reminders.push_back({std::chrono::hours(-48), 10 * 60, "remind"});
        cfg.reminders.push_back({std::chrono::hours(-2), std::nullopt, "soon"});
        cfg.promotion_flow = "place";
        cfg.cancellation_flow = "cancelled";
        open(at("2027-03-01T09:00"));
    }
    static timestamp at(const char* local) { return *flows::parse_local(local, "Asia/Amman"); }
    void open(timestamp now) {
        in.reset();
        engine.reset();
        store.reset();
        store = test::open_store(kind, where);
        engine = std::make_unique<flows::engine>(*cfg.flows, cfg.triggers, cfg.engine_environment());
        in = std::make_unique<ingest>(cfg, *engine);
        auto tx = store->begin_write();
        in->seed_workshops(*tx, now);
        tx->commit();
    }
    // What each contact was sent, as "A: text", in order.
    std::vector<std::string> say(const std::string& who, const std::string& text, timestamp now) {
        {
            auto tx = store->begin_write();
            in->apply(*tx,
                      "local",
                      handlers::incoming_message{"m" + std::to_string(++n), "ext:" + who, text, ""},
                      now);
            tx->commit();
        }
        return sent(now);
    }
    std::vector<std::string> tick(timestamp now) {
        {
            auto tx = store->begin_write();
            in->fire_due(*tx, now, 100);
            tx->commit();
        }
        return sent(now);
    }
    std::vector<std::string> sent(timestamp now) {
        std::vector<std::string> out;
        auto tx = store->begin_write();
        for (;;) {
            const auto claimed = tx->claim_outbound(now, 100);
            if (claimed.empty()) {
                break;
            }
            for (const auto& m : claimed) {
                out.push_back(m.urn.substr(4) + ": " + m.text);
                tx->mark_sent(m.id, "", now);
            }
        }
        tx->commit();
        return out;
    }
    // Each registration as "A status", by the contact's number (read as staff read them).
    std::vector<std::string> registrations() {
        std::vector<std::string> out;
        for (const auto& r : store->list_registrations("amman").value_or(std::vector<registration_row>{})) {
            const auto who = store->find_contact(r.contact_uuid);
            out.push_back((who && !who->urns.empty() ? who->urns.front().substr(4) : "?") + " " +
                          flows::to_string(r.status));
        }
        std::sort(out.begin(), out.end());
        return out;
    }
};

using lines = std::vector<std::string>;

TEST_P(ingest_on, a_freed_place_goes_to_the_waiting_list_and_reminders_follow_the_places) {
    workshop_fixture f(GetParam());
    const auto at = workshop_fixture::at;
    EXPECT_EQ(f.say("a", "BOOK", at("2027-03-01T09:00")),
              lines{"a: Which workshop?\n1 Amman: Sun, 14 Mar 10:00"});
    EXPECT_EQ(f.say("a", "1", at("2027-03-01T09:01")), lines{"a: Registered for Amman"});
    // C joins the waiting list first, then opts out: C is passed over when a place frees up.
    f.say("c", "BOOK", at("2027-03-01T09:01"));
    EXPECT_EQ(f.say("c", "1", at("2027-03-01T09:01")), lines{"c: Waiting list for Amman"});
    f.say("c", "STOP", at("2027-03-01T09:02"));
    f.say("b", "BOOK", at("2027-03-01T09:02"));
    EXPECT_EQ(f.say("b", "amman", at("2027-03-01T09:03")), lines{"b: Waiting list for Amman"});
    EXPECT_EQ(f.registrations(), (lines{"a registered", "b waitlisted", "c waitlisted"}));
    // Nothing before the reminder's time; then only the contact with a place gets it.
    EXPECT_EQ(f.tick(at("2027-03-12T09:59")), lines{});
    EXPECT_EQ(f.tick(at("2027-03-12T10:00")), lines{"a: Amman on Sun, 14 Mar: 1 coming, 2 cancel"});
    // A cancels: B gets the place and is told; A's other reminder is cancelled; B's two-day
    // reminder has passed, so B gets only the two-hour one.
    EXPECT_EQ(f.say("a", "2", at("2027-03-12T11:00")), lines{"a: Cancelled"});
    EXPECT_EQ(f.registrations(), (lines{"a cancelled", "b registered", "c waitlisted"}));
    EXPECT_EQ(f.tick(at("2027-03-12T11:00")), lines{"b: A place is yours at Amman"});
    EXPECT_EQ(f.tick(at("2027-03-14T08:00")), lines{"b: Starts at 10:00"});
    EXPECT_EQ(f.tick(at("2027-03-20T00:00")), lines{});
}

TEST_P(ingest_on, staff_mark_attendance_and_cancel_places_and_the_contact_is_told) {
    workshop_fixture f(GetParam());
    const auto at = workshop_fixture::at;
    for (const char* who : {"a", "b", "c"}) {
        f.say(who, "BOOK", at("2027-03-01T09:00"));
        f.say(who, "1", at("2027-03-01T09:01"));
    }
    const auto contact = [&f, at](const char* who) {
        auto tx = f.store->begin_write();
        return tx->upsert_contact(std::string("ext:") + who, "local", at("2027-03-01T09:00")).id;
    };
    const auto change = [&f](std::int64_t id, flows::registration_status status, timestamp now) {
        auto tx = f.store->begin_write();
        const auto out = f.in->staff_set_registration(*tx, id, "amman", status, now);
        tx->commit();
        return out;
    };
    using flows::registration_status;
    using change_t = ingest::staff_change;
    const auto a = contact("a"), b = contact("b"), c = contact("c");
    struct step {
        const char* label;
        std::int64_t who;
        registration_status status;
        change_t expected;
    };
    const std::vector<step> refused = {
        {"a waiting contact cannot attend", b, registration_status::attended, change_t::not_allowed},
        {"only attended or cancelled", a, registration_status::waitlisted, change_t::not_allowed},
    };
    for (const auto& s : refused) {
        SCOPED_TRACE(s.label);
        EXPECT_EQ(change(s.who, s.status, at("2027-03-02T09:00")), s.expected);
    }
    EXPECT_EQ(f.registrations(), (lines{"a registered", "b waitlisted", "c waitlisted"}))
        << "nothing changed";
    // Staff cancel A's place: A is told, B gets the place and is told; A's reminders are gone.
    EXPECT_EQ(change(a, registration_status::cancelled, at("2027-03-02T09:00")), change_t::changed);
    EXPECT_EQ(change(a, registration_status::cancelled, at("2027-03-02T09:00")), change_t::unchanged);
    EXPECT_EQ(f.registrations(), (lines{"a cancelled", "b registered", "c waitlisted"}));
    EXPECT_EQ(f.tick(at("2027-03-02T09:00")),
              (lines{"b: A place is yours at Amman", "a: Your place at Amman was cancelled"}));
    // C leaves the waiting list by staff's hand: told too, and no place changes hands.
    EXPECT_EQ(change(c, registration_status::cancelled, at("2027-03-02T10:00")), change_t::changed);
    EXPECT_EQ(f.tick(at("2027-03-02T10:00")), lines{"c: Your place at Amman was cancelled"});
    // On the day, B attends; an attended registration cannot be cancelled.
    EXPECT_EQ(change(b, registration_status::attended, at("2027-03-14T10:05")), change_t::changed);
    EXPECT_EQ(change(b, registration_status::cancelled, at("2027-03-14T10:06")), change_t::not_allowed);
    EXPECT_EQ(f.registrations(), (lines{"a cancelled", "b attended", "c cancelled"}));
    EXPECT_EQ(f.tick(at("2027-03-12T10:00")), lines{"b: Amman on Sun, 14 Mar: 1 coming, 2 cancel"})
        << "only B's reminders remain";
    EXPECT_EQ(change(contact("d"), registration_status::cancelled, at("2027-03-02T10:00")),
              change_t::not_registered);
}

TEST_P(ingest_on, a_moved_workshop_moves_its_reminders_and_a_bigger_one_fills_from_the_waiting_list) {
    workshop_fixture f(GetParam());
    const auto at = workshop_fixture::at;
    for (const char* who : {"a", "b", "c"}) {
        f.say(who, "BOOK", at("2027-03-01T09:00"));
        f.say(who, "1", at("2027-03-01T09:01"));
    }
    EXPECT_EQ(f.registrations(), (lines{"a registered", "b waitlisted", "c waitlisted"}));
    // The config moves the workshop a week on and makes room for one more; the server restarts.
    f.cfg.workshops[0].starts_at = at("2027-03-21T10:00");
    f.cfg.workshops[0].capacity = 2;
    f.open(at("2027-03-02T09:00"));
    EXPECT_EQ(f.registrations(), (lines{"a registered", "b registered", "c waitlisted"}));
    EXPECT_EQ(f.tick(at("2027-03-02T09:00")), lines{"b: A place is yours at Amman"});
    EXPECT_EQ(f.tick(at("2027-03-14T08:00")), lines{}) << "the old dates are gone";
    EXPECT_EQ(f.tick(at("2027-03-19T10:00")),
              (lines{"a: Amman on Sun, 21 Mar: 1 coming, 2 cancel",
                     "b: Amman on Sun, 21 Mar: 1 coming, 2 cancel"}));
}

TEST(ingest, a_reminder_never_goes_out_after_the_start) {
    const auto at = workshop_fixture::at;
    {
        SCOPED_TRACE("due in quiet hours that last past the start: dropped");
        workshop_fixture f;
        f.cfg.timezone = "UTC";
        f.cfg.quiet_hours =
            std::pair{config::clock_time{0}, config::clock_time{12 * 60}};  // 03:00-15:00 in Amman
        f.say("a", "BOOK", at("2027-03-01T16:00"));
        f.say("a", "1", at("2027-03-01T16:01"));
        EXPECT_EQ(f.tick(at("2027-03-14T08:00")), lines{});
        EXPECT_EQ(f.tick(at("2027-03-14T15:00")), lines{});
        EXPECT_EQ(f.store->count_messages().outbound, 2) << "the menu and the confirmation only";
    }
    {
        SCOPED_TRACE("queued in time, but the provider fails until after the start: expired");
        workshop_fixture f;
        f.say("a", "BOOK", at("2027-03-01T16:00"));
        f.say("a", "1", at("2027-03-01T16:01"));
        {
            auto tx = f.store->begin_write();
            f.in->fire_due(*tx, at("2027-03-14T08:00"), 100);
            const auto claimed = tx->claim_outbound(at("2027-03-14T08:00"), 10);
            ASSERT_EQ(claimed.size(), 1u);
            tx->mark_retry(claimed[0].id, at("2027-03-14T10:30"), "http_503", at("2027-03-14T08:00"));
            tx->commit();
        }
        EXPECT_EQ(f.sent(at("2027-03-14T10:30")), lines{});
        sqlite::connection db(f.dir.file("w.db"));
        test::add_reveal(db);
        sqlite::statement q(db,
                            "SELECT reveal(text), state, error FROM messages WHERE direction = 'out' ORDER "
                            "BY id DESC LIMIT 1");
        ASSERT_TRUE(q.step());
        EXPECT_EQ(q.column_text(0), "Starts at 10:00");
        EXPECT_EQ(q.column_text(1), "expired");
        EXPECT_EQ(q.column_text(2), "past_validity");
    }
}

// A provider that does not join long texts (Telegram: 4096) gets them as several messages, in order,
// each with its own encoding and segments; SMS channels keep one message.
TEST(ingest, a_text_longer_than_the_provider_takes_is_queued_in_parts) {
    test::temp_dir dir;
    config::config cfg;
    std::string long_text;
    for (int i = 0; i < 1000; ++i) {
        long_text += "words ";
    }
    long_text += "end";
    auto loaded = flows::load_flow(
        nlohmann::json{{"id", "news"}, {"language", "en"}, {"nodes", {{{"id", "n"}, {"send", long_text}}}}});
    ASSERT_TRUE(loaded.loaded);
    cfg.flows->add(std::move(*loaded.loaded));
    cfg.triggers.push_back({{"NEWS"}, "news", flows::keyword_trigger::match::first_word});
    for (const char* type : {"telegram", "external"}) {
        config::channel_config ch;
        ch.settings.id = type;
        ch.settings.type = type;
        cfg.channels.push_back(ch);
    }
    sqlite_store store(dir.file("parts.db"));
    flows::engine engine(*cfg.flows, cfg.triggers, {{"en"}});
    ingest in(cfg, engine);
    {
        auto tx = store.begin_write();
        EXPECT_EQ(in.apply(*tx,
                           "telegram",
                           handlers::incoming_message{"t1", "telegram:42", "NEWS", ""},
                           from_millis(1))
                      .queued,
                  2u);
        EXPECT_EQ(
            in.apply(*tx, "external", handlers::incoming_message{"e1", "ext:a", "NEWS", ""}, from_millis(1))
                .queued,
            1u);
        tx->commit();
    }
    sqlite::connection db(dir.file("parts.db"));
    test::add_reveal(db);
    sqlite::statement q(
        db,
        "SELECT reveal(text), segments FROM messages WHERE direction = 'out' AND channel_id = "
        "'telegram' ORDER BY id");
    std::string joined;
    int parts = 0;
    while (q.step()) {
        EXPECT_LE(q.column_text(0).size(), 4096u);
        EXPECT_GT(q.column_int64(1), 0);
        joined += q.column_text(0);
        ++parts;
    }
    EXPECT_EQ(parts, 2);
    EXPECT_EQ(joined, long_text);
}

// Telegram's /start (a new conversation) starts the new_conversation trigger's flow, answered at
// once; not for a contact who opted out, and nothing without such a trigger.
TEST_P(ingest_on, a_new_conversation_starts_its_trigger_flow) {
    for (const bool with_trigger : {true, false}) {
        SCOPED_TRACE(with_trigger ? "with a new_conversation trigger" : "without one");
        fixture f(GetParam());
        auto cfg = make_config();
        if (with_trigger) {
            cfg.triggers.push_back({{}, "signup", flows::keyword_trigger::match::new_conversation});
        }
        cfg.timezone = "UTC";
        cfg.quiet_hours = std::pair{config::clock_time{0}, config::clock_time{23 * 60 + 59}};  // all day
        flows::engine engine{*cfg.flows, cfg.triggers, {{"en", "ar"}}};
        ingest in{cfg, engine};
        const auto open_chat = [&](const std::string& urn) {
            auto tx = f.store.begin_write();
            in.apply(*tx,
                     "tg",
                     handlers::channel_event{handlers::channel_event::kind::new_conversation, urn},
                     from_millis(5));
            tx->commit();
        };
        open_chat("telegram:1");
        const std::vector<std::string> welcome =
            with_trigger ? std::vector<std::string>{"Welcome", "Which city? 1 Amman 2 Irbid"}
                         : std::vector<std::string>{};
        EXPECT_EQ(f.outbox(), welcome);
        {
            auto tx = f.store.begin_write();
            in.apply(*tx,
                     "tg",
                     handlers::channel_event{handlers::channel_event::kind::stop_contact, "telegram:2"},
                     from_millis(6));
            tx->commit();
        }
        open_chat("telegram:2");
        EXPECT_EQ(f.outbox(), std::vector<std::string>{}) << "an opted-out contact";
    }
}

// A started writer on a fresh SQLite store.
struct running_writer {
    test::temp_dir dir;
    sqlite_store store{dir.file("w.db")};
    metrics m;
    writer w{store, m};
    running_writer() { w.start(); }
};

// A group runs first without savepoints (store::optimistic_groups) and, when a job fails, again
// with them: the failing jobs roll back alone, whether they throw or the store refuses one of their
// statements (on PostgreSQL a deferred statement, whose error comes with a later job's).
TEST_P(ingest_on, group_commit_isolates_a_failing_job) {
    test::temp_dir dir;
    std::string why_not;
    const std::string where = test::new_database(GetParam(), dir.file("w.db"), why_not);
    ASSERT_FALSE(where.empty()) << why_not;
    auto store = test::open_store(GetParam(), where);
    metrics m;
    writer w{*store, m};
    w.start();
    constexpr int jobs = 200;
    std::vector<std::promise<write_status>> done(jobs);
    for (int i = 0; i < jobs; ++i) {
        w.submit(
            [i](write_tx& tx) {
                const auto c = tx.upsert_contact("ext:c" + std::to_string(i), "local", from_millis(0));
                tx.insert_inbound({"local", "m" + std::to_string(i), "ext:x", "t", c.id, from_millis(0)});
                if (i == 7) {
                    throw std::runtime_error("boom");
                }
                if (i == 13) {
                    tx.save_result(c.id + 1'000'000, "city", {"City", "Amman", "Amman", "Amman", "ask", {}});
                }
            },
            [&done, i](write_status s) { done[static_cast<std::size_t>(i)].set_value(s); },
            writer::then::nothing,
            writer::key_of("ext:c" + std::to_string(i)));
    }
    int committed = 0;
    for (int i = 0; i < jobs; ++i) {
        const auto s = done[static_cast<std::size_t>(i)].get_future().get();
        EXPECT_EQ(s, i == 7 || i == 13 ? write_status::failed : write_status::committed) << i;
        committed += s == write_status::committed;
    }
    w.stop();
    EXPECT_EQ(store->count_messages().inbound, committed);
    EXPECT_EQ(committed, jobs - 2);
    const std::string text = m.render();
    EXPECT_EQ(text.find("flowgate_store_group_retries_total 0\n"), std::string::npos)
        << "a group ran again with savepoints";
    // After stop, submissions are refused (answered 503 by the server), never lost silently.
    std::promise<write_status> late;
    w.submit([](write_tx&) {}, [&late](write_status s) { late.set_value(s); });
    EXPECT_EQ(late.get_future().get(), write_status::unavailable);
}

TEST(writer, takes_all_of_a_few_jobs_and_half_of_many) {
    struct row {
        std::size_t waiting, max_batch, taken;
    };
    for (const auto& r : std::vector<row>{
             {1, 256, 1},
             {10, 256, 10},
             {24, 256, 24},  // up to split_from, all of them
             {30, 256, 24},  // the bench's full load: no longer two cohorts taking turns
             {48, 256, 24},
             {49, 256, 25},  // half, rounded up
             {100, 256, 50},
             {511, 256, 256},  // a long backlog: the largest group
             {1000, 256, 256},
             {30, 10, 10},  // never more than max_batch
         }) {
        SCOPED_TRACE(std::to_string(r.waiting) + " waiting");
        EXPECT_EQ(writer::next_group(r.waiting, r.max_batch), r.taken);
    }
}

// The jobs queued while a commit runs go into the next groups by next_group: with the writer held
// in a job of its own, a queue of 100 commits as 50, 25, 24 and 1, in order.
TEST(writer, a_long_queue_commits_in_halves) {
    running_writer r;
    std::promise<void> taken;
    std::promise<void> release;
    std::promise<write_status> first;
    r.w.submit(
        [&taken, f = release.get_future().share()](write_tx&) {
            taken.set_value();
            f.wait();
        },
        [&first](write_status s) { first.set_value(s); });
    taken.get_future().wait();  // the writer holds the first job, alone in its group
    constexpr int jobs = 100;
    std::vector<std::promise<write_status>> done(jobs);
    std::vector<int> order;
    for (int i = 0; i < jobs; ++i) {
        r.w.submit([i, &order](write_tx&) { order.push_back(i); },
                   [&done, i](write_status s) { done[static_cast<std::size_t>(i)].set_value(s); });
    }
    release.set_value();
    EXPECT_EQ(first.get_future().get(), write_status::committed);
    for (auto& d : done) {
        EXPECT_EQ(d.get_future().get(), write_status::committed);
    }
    r.w.stop();
    std::vector<int> expected(jobs);
    std::iota(expected.begin(), expected.end(), 0);
    EXPECT_EQ(order, expected);
    const std::string text = r.m.render();
    EXPECT_NE(text.find("flowgate_store_commit_seconds_count 5\n"), std::string::npos) << text;
    EXPECT_NE(text.find("flowgate_store_committed_events_total 101\n"), std::string::npos) << text;
}

// Lanes (store::write_lanes; PostgreSQL, two by default): a job runs in the lane its key picks, so
// one held in lane 0 does not hold a job of lane 1, and each lane keeps its jobs' order.
class writer_on_postgres : public test::postgres_database_test {};

TEST_F(writer_on_postgres, lanes_commit_at_once_and_each_keeps_its_order) {
    postgres_store store(database, data_key::throwaway(), 2);
    metrics m;
    writer w{store, m};
    ASSERT_EQ(w.lanes(), 2u);
    w.start();
    std::promise<void> taken;
    std::promise<void> release;
    std::promise<write_status> held;
    w.submit(
        [&taken, f = release.get_future().share()](write_tx&) {
            taken.set_value();
            f.wait();
        },
        [&held](write_status s) { held.set_value(s); },
        writer::then::nothing,
        2);  // lane 0
    taken.get_future().wait();
    std::vector<int> order;  // lane 0's jobs, in the order they ran
    std::vector<std::promise<write_status>> behind(10);
    for (int i = 0; i < 10; ++i) {
        w.submit([i, &order](write_tx&) { order.push_back(i); },
                 [&behind, i](write_status s) { behind[static_cast<std::size_t>(i)].set_value(s); },
                 writer::then::nothing,
                 static_cast<std::size_t>(2 * i));
    }
    std::promise<write_status> other;
    w.submit([](write_tx& tx) { tx.upsert_contact("ext:other", "local", from_millis(0)); },
             [&other](write_status s) { other.set_value(s); },
             writer::then::nothing,
             1);  // lane 1
    EXPECT_EQ(other.get_future().get(), write_status::committed) << "lane 1 committed while lane 0 was held";
    EXPECT_TRUE(order.empty());
    release.set_value();
    EXPECT_EQ(held.get_future().get(), write_status::committed);
    for (auto& b : behind) {
        EXPECT_EQ(b.get_future().get(), write_status::committed);
    }
    w.stop();
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(writer, one_number_by_sms_and_on_whatsapp_is_one_key) {
    EXPECT_EQ(writer::key_of("tel:+962791234567"), writer::key_of("whatsapp:962791234567"));
    EXPECT_NE(writer::key_of("tel:+962791234567"), writer::key_of("tel:+962791234568"));
    EXPECT_EQ(writer::key_of("telegram:12345"), writer::key_of("telegram:12345"));
}

// write_all: every job submitted at once, one answer for them all, the worst of theirs.
TEST(writer, write_all_answers_the_worst_of_its_jobs) {
    running_writer r;
    auto run = [&r](std::vector<std::pair<std::size_t, writer::job>> jobs) {
        boost::asio::io_context io;
        std::optional<write_status> out;
        boost::asio::co_spawn(
            io,
            [&]() -> boost::asio::awaitable<void> { out = co_await r.w.write_all(std::move(jobs)); },
            boost::asio::detached);
        io.run();
        return out;
    };
    std::array<std::atomic<bool>, 4> ran{};
    auto ok = [&ran](std::size_t i) -> writer::job { return [&ran, i](write_tx&) { ran[i] = true; }; };
    const writer::job boom = [](write_tx&) { throw std::runtime_error("boom"); };
    EXPECT_EQ(run({}), write_status::committed);
    EXPECT_EQ(run({{0, ok(0)}, {1, ok(1)}}), write_status::committed);
    EXPECT_TRUE(ran[0] && ran[1]);
    EXPECT_EQ(run({{0, ok(2)}, {1, boom}, {2, ok(3)}}), write_status::failed);
    EXPECT_TRUE(ran[2] && ran[3]) << "the others still ran";
    r.w.stop();
    EXPECT_EQ(run({{0, ok(0)}}), write_status::unavailable);
}

INSTANTIATE_TEST_SUITE_P(backends,
                         ingest_on,
                         ::testing::Values(test::backend::sqlite, test::backend::postgres),
                         [](const ::testing::TestParamInfo<test::backend>& info) {
                             return test::backend_name(info.param);
                         });

}  // namespace
}  // namespace flowgate::gateway
