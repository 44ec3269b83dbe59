// Retention (`retention_days`): message texts and finished runs older than the retention are
// purged, what is still needed (queued messages, runs in progress, newer data) stays, and the
// purged bytes are gone from the database file and its log.

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "gateway/data_key.hpp"
#include "gateway/sqlite.hpp"
#include "gateway/sqlite_store.hpp"
#include "tests/support/http.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/process.hpp"

namespace flowgate::gateway {
namespace {

using json = nlohmann::json;

constexpr std::int64_t day = 24LL * 3600 * 1000;
timestamp on_day(double d) { return from_millis(static_cast<std::int64_t>(d * day)); }

const std::string key_hex = std::string(32, 'b') + std::string(32, '4');

std::string file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::int64_t count(const std::string& path, const std::string& sql) {
    sqlite::connection db(path, true);
    sqlite::statement q(db, sql);
    return q.step() ? q.column_int64(0) : -1;
}

struct campaign {
    std::int64_t old_in = 0, old_sent = 0, old_queued = 0, old_failed = 0, new_in = 0, new_sent = 0;
    std::int64_t old_run = 0, active_run = 0, new_run = 0;
};

// A participant's history over forty days, written with the times it happened.
campaign write_history(store& s, std::int64_t base_ms = 0) {
    const auto t = [&](double d) { return from_millis(base_ms) + (on_day(d) - on_day(0)); };
    campaign c;
    auto tx = s.begin_write();
    const auto contact = tx->upsert_contact("tel:+962791234567", "sms", t(1));
    const auto other = tx->upsert_contact("tel:+2348031234567", "sms", t(1));
    c.old_in = *tx->insert_inbound({"sms", "in-1", "tel:+962791234567", "نعم old answer", contact.id, t(1)});
    const auto outbound = [&](const std::string& text, double d, std::int64_t who) {
        new_outbound m;
        m.channel_id = "sms";
        m.contact_id = who;
        m.urn = who == contact.id ? "tel:+962791234567" : "tel:+2348031234567";
        m.text = text;
        m.encoding = "UCS-2";
        m.segments = 1;
        m.created_at = t(d);
        return tx->enqueue_outbound(m);
    };
    c.old_sent = outbound("old reply شكرا", 1, contact.id);
    c.old_failed = outbound("old failed reply", 1, other.id);
    {
        const auto claimed = tx->claim_outbound(t(1), 10);
        if (claimed.size() != 2) {
            throw std::runtime_error("expected two claims");
        }
    }
    tx->mark_sent(c.old_sent, "p-1", t(1));
    tx->mark_failed(c.old_failed, "invalid_message", t(1));
    // Queued long ago and still waiting (a broadcast held for a far-off send time): never purged.
    {
        new_outbound m;
        m.channel_id = "sms";
        m.contact_id = other.id;
        m.urn = "tel:+2348031234567";
        m.text = "held broadcast";
        m.encoding = "GSM-7";
        m.segments = 1;
        m.created_at = t(1);
        m.not_before = t(60);
        c.old_queued = tx->enqueue_outbound(m);
    }
    // A survey finished on day 2; another still running since day 1 (its session holds it).
    c.old_run = tx->start_run(contact.id, "survey", t(1));
    tx->save_result(c.old_run, "q1", {"Q1", "3", "3", "٣", "ask", t(1)});
    tx->end_run(c.old_run, flows::run_status::completed, t(2));
    c.active_run = tx->start_run(other.id, "signup", t(1));
    stored_session session;
    session.run_id = c.active_run;
    session.session.flow_id = "signup";
    session.session.node_id = "ask_city";
    session.session.started_at = t(1);
    tx->save_session(other.id, session, t(1));
    // Day 40: newer traffic, which a 30-day retention keeps.
    c.new_in = *tx->insert_inbound({"sms", "in-2", "tel:+962791234567", "new answer", contact.id, t(40)});
    c.new_sent = outbound("new reply", 40, contact.id);
    tx->claim_outbound(t(40), 10);
    tx->mark_sent(c.new_sent, "p-2", t(40));
    c.new_run = tx->start_run(contact.id, "survey", t(40));
    tx->save_result(c.new_run, "q1", {"Q1", "2", "2", "2", "ask", t(40)});
    tx->end_run(c.new_run, flows::run_status::completed, t(40));
    tx->commit();
    return c;
}

using test::backend;

// The purge on both backends (tests/support/postgres.hpp); on SQLite the file is scanned too.
class retention_store : public ::testing::TestWithParam<backend> {
   protected:
    void SetUp() override {
        where_ = test::new_database(GetParam(), dir_.file("store.db"), why_not_);
        if (where_.empty()) {
            GTEST_SKIP() << why_not_;
        }
    }
    std::string raw(const std::string& sql) {
        const auto row = test::first_row(GetParam(), where_, sql);
        return row.empty() ? std::string("(no row)") : row[0];
    }
    std::string text_of(std::int64_t id) {
        return raw("SELECT text FROM messages WHERE id = " + std::to_string(id));
    }

    test::temp_dir dir_;
    std::string why_not_;
    std::string where_;
};

TEST_P(retention_store, purges_settled_texts_and_finished_runs_before_the_cutoff_and_nothing_else) {
    const auto s = test::open_store(GetParam(), where_, data_key::from_config(key_hex));
    const campaign c = write_history(*s);
    const std::string old_in_sealed = text_of(c.old_in);
    const std::string old_sent_sealed = text_of(c.old_sent);
    ASSERT_GT(old_in_sealed.size(), 28u);

    purge_counts purged;
    {
        auto tx = s->begin_write();
        purged = tx->purge_before(on_day(40) - std::chrono::hours(24 * 30));  // day 10
        tx->commit();
    }
    EXPECT_EQ(purged.message_texts, 3u) << "the old inbound, sent and failed messages";
    EXPECT_EQ(purged.runs, 1u) << "the finished survey; the running signup stays";
    ASSERT_TRUE(s->checkpoint());

    struct row_case {
        const char* label;
        std::int64_t id;
        bool purged;
    };
    for (const auto& k : std::vector<row_case>{{"old inbound", c.old_in, true},
                                               {"old sent", c.old_sent, true},
                                               {"old failed", c.old_failed, true},
                                               {"old but still queued", c.old_queued, false},
                                               {"new inbound", c.new_in, false},
                                               {"new sent", c.new_sent, false}}) {
        SCOPED_TRACE(k.label);
        EXPECT_EQ(raw("SELECT CASE WHEN length(text) = 0 AND length(urn) = 0 THEN 1 ELSE 0 END FROM messages "
                      "WHERE id = " +
                      std::to_string(k.id)),
                  k.purged ? "1" : "0");
    }
    EXPECT_EQ(raw("SELECT count(*) FROM messages"), "6") << "rows stay: counts, ids, dedup";
    EXPECT_EQ(raw("SELECT count(*) FROM runs WHERE id = " + std::to_string(c.old_run)), "0");
    EXPECT_EQ(raw("SELECT count(*) FROM results WHERE run_id = " + std::to_string(c.old_run)), "0");
    EXPECT_EQ(raw("SELECT count(*) FROM runs WHERE id IN (" + std::to_string(c.active_run) + ", " +
                  std::to_string(c.new_run) + ")"),
              "2");
    EXPECT_EQ(raw("SELECT count(*) FROM results"), "1");
    {
        // The held message still goes out, with its text.
        auto tx = s->begin_write();
        const auto claimed = tx->claim_outbound(on_day(60), 10);
        ASSERT_EQ(claimed.size(), 1u);
        EXPECT_EQ(claimed[0].id, c.old_queued);
        EXPECT_EQ(claimed[0].text, "held broadcast");
        EXPECT_TRUE(tx->load_session(claimed[0].contact_id)) << "the running signup keeps its session";
        // A second purge finds nothing more; a retry of the old inbound is still a duplicate.
        const auto again = tx->purge_before(on_day(10));
        EXPECT_EQ(again.message_texts, 0u);
        EXPECT_EQ(again.runs, 0u);
        EXPECT_FALSE(tx->insert_inbound(
            {"sms", "in-1", "tel:+962791234567", "retry", claimed[0].contact_id, on_day(41)}));
        tx->commit();
    }
    if (GetParam() != backend::sqlite) {
        return;
    }
    // The purged ciphertexts are gone from the file and its log, not only unlinked from a row.
    ASSERT_TRUE(s->checkpoint());
    const std::string bytes = file_bytes(where_) + file_bytes(where_ + "-wal");
    EXPECT_EQ(bytes.find(old_in_sealed), std::string::npos);
    EXPECT_EQ(bytes.find(old_sent_sealed), std::string::npos);
    EXPECT_NE(bytes.find(text_of(c.new_in)), std::string::npos) << "the scan can see a text";
}

INSTANTIATE_TEST_SUITE_P(backends,
                         retention_store,
                         ::testing::Values(backend::sqlite, backend::postgres),
                         [](const auto& info) { return test::backend_name(info.param); });

// The server purges at start and daily: a store with forty days of history, a 30-day retention.
TEST(retention, the_server_purges_at_start_and_reports_it) {
    test::temp_dir dir;
    dir.write("data.key", key_hex);
    const std::string db = dir.file("flowgate.db");
    const auto now_ms = to_millis(from_millis(0) + std::chrono::duration_cast<std::chrono::milliseconds>(
                                                       std::chrono::system_clock::now().time_since_epoch()));
    campaign c;
    {
        sqlite_store s(db, data_key::from_config(key_hex));
        c = write_history(s, now_ms - 40 * day);  // day 40 is today
        s.close();
    }
    const json cfg = {
        {"server", {{"listen", "127.0.0.1:0"}}},
        {"store", {{"sqlite", db}}},
        {"data_key", "file:" + dir.file("data.key")},
        {"retention_days", 30},
        {"channels", {{{"id", "sms"}, {"type", "external"}, {"send_url", "http://127.0.0.1:9/send"}}}},
    };
    dir.write("config.json", cfg.dump());
    test::server_process server(dir.file("config.json"));
    ASSERT_TRUE(server.wait_for_log("emptied 3 message texts and deleted 1 finished runs older than 30 days"))
        << server.log();
    const auto metrics = test::request(server.port(), "GET", "/metrics").body;
    EXPECT_NE(metrics.find("flowgate_retention_purged_total{what=\"message_texts\"} 3"), std::string::npos)
        << metrics;
    EXPECT_NE(metrics.find("flowgate_retention_last_purge_timestamp_seconds "), std::string::npos);
    EXPECT_EQ(count(db, "SELECT count(*) FROM messages WHERE length(text) = 0"), 3);
    EXPECT_EQ(count(db, "SELECT count(*) FROM runs WHERE id = " + std::to_string(c.old_run)), 0);
    EXPECT_EQ(server.stop(), 0);
}

TEST(retention, the_config_takes_whole_days_from_1_to_3650) {
    struct config_case {
        json value;
        bool ok;
    };
    for (const auto& k : std::vector<config_case>{{1, true},
                                                  {90, true},
                                                  {3650, true},
                                                  {0, false},
                                                  {3651, false},
                                                  {-5, false},
                                                  {"30", false},
                                                  {1.5, false}}) {
        SCOPED_TRACE(k.value.dump());
        test::temp_dir dir;
        const json cfg = {
            {"server", {{"listen", "127.0.0.1:0"}}},
            {"store", {{"sqlite", dir.file("f.db")}}},
            {"data_key", "none"},
            {"retention_days", k.value},
            {"channels", {{{"id", "sms"}, {"type", "external"}, {"send_url", "http://127.0.0.1:9/send"}}}},
        };
        dir.write("config.json", cfg.dump());
        const auto r = test::run_flowgate({"check", "--config", dir.file("config.json")});
        EXPECT_EQ(r.exit_code == 0, k.ok) << r.output;
        if (!k.ok) {
            EXPECT_NE(r.output.find("/retention_days: must be an integer from 1 to 3650"), std::string::npos)
                << r.output;
        }
    }
}

}  // namespace
}  // namespace flowgate::gateway
