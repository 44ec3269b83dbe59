#include "gateway/sqlite_store.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "gateway/postgres_store.hpp"
#include "gateway/pq.hpp"
#include "gateway/sqlite.hpp"
#include "gateway/store_rules.hpp"
#include "gateway/writer.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/process.hpp"

namespace flowgate::gateway {
namespace {

timestamp at(std::int64_t ms) { return from_millis(ms); }

// Queues a job on the writer; the future holds its outcome.
std::future<write_status> submit_job(writer& w, writer::job j, std::size_t key = 0) {
    auto done = std::make_shared<std::promise<write_status>>();
    auto outcome = done->get_future();
    w.submit(
        std::move(j), [done](write_status st) { done->set_value(st); }, writer::then::nothing, key);
    return outcome;
}

using test::backend;

// The store's behaviour, the same on both backends: each test runs on a fresh SQLite file and on a
// fresh PostgreSQL database (tests/support/postgres.hpp).
class store_test : public ::testing::TestWithParam<backend> {
   protected:
    void SetUp() override {
        if (GetParam() == backend::postgres) {
            std::string why_not;
            server_ = test::shared_postgres(why_not);
            if (!server_) {
                GTEST_SKIP() << why_not;
            }
        }
    }

    // A store on a new, empty database.
    std::unique_ptr<store> open(const data_key& key = data_key::throwaway()) {
        std::string why_not;
        where_ =
            test::new_database(GetParam(), dir_.file("store" + std::to_string(++files_) + ".db"), why_not);
        return open_again(key);
    }
    // A store on the database open() made last.
    std::unique_ptr<store> open_again(const data_key& key = data_key::throwaway()) {
        return test::open_store(GetParam(), where_, key);
    }
    // The first row of a query on that database, each column as its bytes (numbers in decimal).
    std::vector<std::string> raw(const std::string& sql) { return test::first_row(GetParam(), where_, sql); }

   private:
    test::temp_dir dir_;
    int files_ = 0;
    std::string where_;
    test::postgres_server* server_ = nullptr;
};

TEST_P(store_test, inbound_is_deduplicated_per_channel) {
    auto owned = open();
    store& s = *owned;
    auto tx = s.begin_write();
    const auto c = tx->upsert_contact("tel:+962791234567", "local", at(1));
    EXPECT_EQ(tx->upsert_contact("tel:+962791234567", "local", at(2)).id, c.id);
    EXPECT_EQ(c.uuid.size(), 36u);
    struct dedupe_case {
        const char* label;
        std::string channel;
        std::string external_id;
        bool stored;
    };
    const std::vector<dedupe_case> cases = {
        {"first", "local", "m1", true},
        {"same id again", "local", "m1", false},
        {"same id, other channel", "other", "m1", true},
        {"other id", "local", "m2", true},
    };
    for (const auto& k : cases) {
        SCOPED_TRACE(k.label);
        const auto id =
            tx->insert_inbound({k.channel, k.external_id, "tel:+962791234567", "hi", c.id, at(3)});
        EXPECT_EQ(id.has_value(), k.stored);
    }
    tx->commit();
    EXPECT_EQ(s.count_messages().inbound, 3);
}

TEST_P(store_test, outbox_claims_retries_and_settles) {
    auto owned = open();
    store& s = *owned;
    auto tx = s.begin_write();
    const auto c = tx->upsert_contact("ext:a", "local", at(0));
    const auto id =
        tx->enqueue_outbound({"local", c.id, "ext:a", "hello", "GSM-7", 1, std::nullopt, at(100)});
    EXPECT_TRUE(tx->claim_outbound(at(99), 10).empty()) << "not due yet";
    auto claimed = tx->claim_outbound(at(100), 10);
    ASSERT_EQ(claimed.size(), 1u);
    EXPECT_EQ(claimed[0].id, id);
    EXPECT_EQ(claimed[0].attempts, 1);
    EXPECT_EQ(claimed[0].text, "hello");
    EXPECT_TRUE(tx->claim_outbound(at(100), 10).empty()) << "a sending message is not claimed twice";
    tx->mark_retry(id, at(5000), "server_error", at(101));
    EXPECT_TRUE(tx->claim_outbound(at(4999), 10).empty());
    claimed = tx->claim_outbound(at(5000), 10);
    ASSERT_EQ(claimed.size(), 1u);
    EXPECT_EQ(claimed[0].attempts, 2);
    tx->mark_sent(id, "p-1", at(5001));
    tx->commit();
    const auto counts = s.count_messages();
    EXPECT_EQ(counts.outbound_by_state.at("sent"), 1);
}

TEST_P(store_test, claims_respect_the_limit_and_each_contacts_order) {
    auto owned = open();
    store& s = *owned;
    auto tx = s.begin_write();
    std::vector<std::int64_t> contacts;
    std::vector<std::int64_t> first;
    std::vector<std::int64_t> second;
    for (int i = 0; i < 5; ++i) {
        const std::string urn = "ext:" + std::to_string(i);
        contacts.push_back(tx->upsert_contact(urn, "local", at(0)).id);
        first.push_back(
            tx->enqueue_outbound({"local", contacts[i], urn, "first", "GSM-7", 1, std::nullopt, at(i)}));
    }
    for (int i = 0; i < 5; ++i) {
        const std::string urn = "ext:" + std::to_string(i);
        second.push_back(
            tx->enqueue_outbound({"local", contacts[i], urn, "second", "GSM-7", 1, std::nullopt, at(i)}));
    }
    const auto ids = [](const std::vector<outbound_record>& v) {
        std::vector<std::int64_t> out;
        for (const auto& m : v) {
            out.push_back(m.id);
        }
        return out;
    };
    // The limit holds, oldest first, and a contact's second message waits for its first.
    EXPECT_EQ(ids(tx->claim_outbound(at(10), 3)), (std::vector<std::int64_t>{first[0], first[1], first[2]}));
    EXPECT_EQ(ids(tx->claim_outbound(at(10), 10)), (std::vector<std::int64_t>{first[3], first[4]}));
    EXPECT_TRUE(tx->claim_outbound(at(10), 10).empty()) << "nothing overtakes a message being sent";
    // Sent or failed: the next one may go. Waiting for a retry: the next one waits too.
    tx->mark_sent(first[0], "p-0", at(11));
    tx->mark_retry(first[1], at(1000), "server_error", at(11));
    tx->mark_failed(first[2], "invalid_message", at(11));
    EXPECT_EQ(ids(tx->claim_outbound(at(12), 10)), (std::vector<std::int64_t>{second[0], second[2]}));
    EXPECT_EQ(ids(tx->claim_outbound(at(1000), 10)), (std::vector<std::int64_t>{first[1]}));
    tx->commit();
}

// A claimed message says when its contact last wrote on its channel (WhatsApp's 24-hour window):
// the latest of their messages in, on that channel only, and nothing for a contact who never wrote.
TEST_P(store_test, a_claimed_message_knows_when_its_contact_last_wrote_on_its_channel) {
    auto owned = open();
    store& s = *owned;
    auto tx = s.begin_write();
    const auto wrote = tx->upsert_contact("ext:w", "wa", at(0));
    const auto silent = tx->upsert_contact("ext:s", "wa", at(0));
    tx->insert_inbound({"wa", "in-1", "ext:w", "hi", wrote.id, at(10)});
    tx->insert_inbound({"wa", "in-2", "ext:w", "again", wrote.id, at(20)});
    tx->insert_inbound({"sms", "in-3", "ext:w", "elsewhere", wrote.id, at(30)});
    tx->enqueue_outbound({"wa", wrote.id, "ext:w", "reply", "GSM-7", 1, std::nullopt, at(40)});
    tx->enqueue_outbound({"wa", silent.id, "ext:s", "hello", "GSM-7", 1, std::nullopt, at(40)});
    const auto claimed = tx->claim_outbound(at(40), 10);
    tx->commit();
    ASSERT_EQ(claimed.size(), 2u);
    EXPECT_EQ(claimed[0].contact_id, wrote.id);
    EXPECT_EQ(claimed[0].last_inbound_at, at(20)) << "the latest on the message's own channel";
    EXPECT_EQ(claimed[1].contact_id, silent.id);
    EXPECT_FALSE(claimed[1].last_inbound_at.has_value());
}

// Messages get time-ordered (version 7) UUIDs on both backends, so that each lands at the end of
// the uuid index instead of on a random page; the time in one is the message's own created_at.
TEST_P(store_test, messages_get_uuids_ordered_by_their_own_time) {
    auto owned = open();
    store& s = *owned;
    auto tx = s.begin_write();
    const auto c = tx->upsert_contact("ext:v7", "local", at(0));
    const std::int64_t in_ms = 1'800'000'000'123;
    const std::int64_t out_ms = 1'800'000'000'456;
    tx->insert_inbound({"local", "in-v7", "ext:v7", "hi", c.id, at(in_ms)});
    tx->enqueue_outbound({"local", c.id, "ext:v7", "reply", "GSM-7", 1, std::nullopt, at(out_ms)});
    tx->commit();
    std::vector<message_export_row> rows;
    s.export_messages([&](const message_export_row& r) { rows.push_back(r); });
    ASSERT_EQ(rows.size(), 2u);
    for (const auto& r : rows) {
        // xxxxxxxx-xxxx-7xxx-...: the first 48 bits are the milliseconds, then the version.
        ASSERT_EQ(r.uuid.size(), 36u) << r.uuid;
        EXPECT_EQ(r.uuid[14], '7') << r.direction << " " << r.uuid;
        std::string time_hex = r.uuid.substr(0, 8);
        time_hex.append(r.uuid, 9, 4);
        EXPECT_EQ(std::stoll(time_hex, nullptr, 16), r.direction == "in" ? in_ms : out_ms) << r.direction;
    }
}

TEST_P(store_test, answers_go_before_a_broadcast_already_queued) {
    auto owned = open();
    store& s = *owned;
    auto tx = s.begin_write();
    broadcast_record b;
    b.uuid = "b-1";
    b.created_by = "staff";
    b.created_at = b.send_at = at(0);
    b.text = {{"en", "News"}};
    b.audience = nlohmann::json::object();
    b.figures = nlohmann::json::object();
    const auto broadcast = tx->insert_broadcast(b);
    std::vector<std::int64_t> news;
    for (int i = 0; i < 4; ++i) {
        const std::string urn = "ext:" + std::to_string(i);
        const auto id = tx->upsert_contact(urn, "local", at(0)).id;
        new_outbound m{"local", id, urn, "News", "GSM-7", 1, std::nullopt, at(1)};
        m.broadcast_id = broadcast;
        news.push_back(tx->enqueue_outbound(m));
    }
    // Contact 9 writes in later; the flow's answer is queued after the broadcast's messages.
    const auto writer = tx->upsert_contact("ext:9", "local", at(0)).id;
    const auto answer =
        tx->enqueue_outbound({"local", writer, "ext:9", "Thanks", "GSM-7", 1, std::nullopt, at(5)});
    std::vector<std::int64_t> claimed;
    for (const auto& m : tx->claim_outbound(at(10), 3)) {
        claimed.push_back(m.id);
    }
    std::sort(claimed.begin(), claimed.end());
    EXPECT_EQ(claimed, (std::vector<std::int64_t>{news[0], news[1], answer}))
        << "the answer, then the oldest news";
    tx->commit();
}

struct status_case {
    const char* label;
    std::vector<msg_state> reports;  // applied in order after the message was sent
    msg_state final_state;
};

TEST_P(store_test, a_report_that_beats_the_send_record_is_applied_when_it_lands) {
    auto owned = open();
    store& s = *owned;
    auto tx = s.begin_write();
    const auto c = tx->upsert_contact("ext:a", "local", at(0));
    const auto id = tx->enqueue_outbound({"local", c.id, "ext:a", "hi", "GSM-7", 1, std::nullopt, at(0)});
    tx->claim_outbound(at(0), 1);
    // The provider reports delivery before we have recorded its id for the message.
    EXPECT_FALSE(tx->apply_status("local", "prov-9", msg_state::delivered, at(1)));
    EXPECT_FALSE(tx->apply_status("other", "prov-9", msg_state::failed, at(1))) << "another channel's report";
    tx->mark_sent(id, "prov-9", at(2));
    EXPECT_FALSE(tx->apply_status("local", "prov-9", msg_state::sent, at(3))) << "never backwards";
    tx->commit();
    const auto counts = s.count_messages();
    EXPECT_EQ(counts.outbound_by_state.at("delivered"), 1);
}

TEST_P(store_test, status_callbacks_never_move_backwards) {
    const std::vector<status_case> cases = {
        {"delivered", {msg_state::delivered}, msg_state::delivered},
        {"sent after delivered is ignored", {msg_state::delivered, msg_state::sent}, msg_state::delivered},
        {"failed after delivered is ignored",
         {msg_state::delivered, msg_state::failed},
         msg_state::delivered},
        {"failed after sent", {msg_state::sent, msg_state::failed}, msg_state::failed},
        {"delivered after failed is ignored", {msg_state::failed, msg_state::delivered}, msg_state::failed},
    };
    for (const auto& k : cases) {
        SCOPED_TRACE(k.label);
        auto owned = open();
        store& s = *owned;
        auto tx = s.begin_write();
        const auto c = tx->upsert_contact("ext:a", "local", at(0));
        tx->enqueue_outbound({"local", c.id, "ext:a", "hi", "GSM-7", 1, std::nullopt, at(0)});
        const auto m = tx->claim_outbound(at(0), 1).at(0);
        tx->mark_sent(m.id, "prov-1", at(1));
        for (auto r : k.reports) {
            tx->apply_status("local", "prov-1", r, at(2));
        }
        EXPECT_FALSE(tx->apply_status("local", "no-such-id", msg_state::delivered, at(3)));
        EXPECT_FALSE(tx->apply_status("other", m.uuid, msg_state::delivered, at(3))) << "channel must match";
        tx->commit();
        const auto counts = s.count_messages();
        EXPECT_EQ(counts.outbound_by_state.count(to_string(k.final_state)), 1u);
    }
}

TEST_P(store_test, one_number_on_sms_and_whatsapp_is_one_contact) {
    auto owned = open();
    store& s = *owned;
    auto tx = s.begin_write();
    const auto sms = tx->upsert_contact("tel:+962791234567", "sms", at(0));
    const auto wa = tx->upsert_contact("whatsapp:962791234567", "wa", at(1));
    EXPECT_EQ(wa.id, sms.id);
    EXPECT_EQ(tx->upsert_contact("whatsapp:962791234567", "wa", at(2)).id, sms.id);
    EXPECT_NE(tx->upsert_contact("whatsapp:962790000000", "wa", at(3)).id, sms.id) << "another number";
    EXPECT_NE(tx->upsert_contact("telegram:962791234567", "tg", at(4)).id, sms.id)
        << "a chat id is not a number";
    // Replies to a contact who has never written go to their first URN.
    EXPECT_EQ(tx->load_contact(sms.id)->urn, "tel:+962791234567");
    tx->commit();
}

TEST_P(store_test, interrupted_sends_become_unknown) {
    auto owned = open();
    store& s = *owned;
    auto tx = s.begin_write();
    const auto c = tx->upsert_contact("ext:a", "local", at(0));
    tx->enqueue_outbound({"local", c.id, "ext:a", "a", "GSM-7", 1, std::nullopt, at(0)});
    tx->enqueue_outbound({"local", c.id, "ext:a", "b", "GSM-7", 1, std::nullopt, at(0)});
    tx->claim_outbound(at(0), 1);
    EXPECT_EQ(tx->mark_interrupted_sends_unknown(at(1)), 1u);
    tx->commit();
    const auto counts = s.count_messages();
    EXPECT_EQ(counts.outbound_by_state.at("unknown"), 1);
    EXPECT_EQ(counts.outbound_by_state.at("queued"), 1);
}

TEST_P(store_test, sessions_and_results_round_trip) {
    auto owned = open();
    store& s = *owned;
    auto tx = s.begin_write();
    const auto c = tx->upsert_contact("ext:a", "local", at(0));
    EXPECT_FALSE(tx->load_session(c.id));
    const auto run = tx->start_run(c.id, "signup", at(1));
    flows::session sess;
    sess.flow_id = "signup";
    sess.node_id = "ask_city";
    sess.started_at = at(1);
    sess.waiting_since = at(2);
    sess.wait_expires_at = at(86400000);
    sess.results["city"] = {"City", "Amman", "Amman", "عمّان", "ask_city", at(2)};
    stored_session stored;
    stored.run_id = run;
    stored.parent_runs = {run - 1, run - 2};  // ids of waiting parent runs, outermost first
    stored.session = sess;
    stored.run_expires_at = at(3 * 86400000LL);
    tx->save_session(c.id, stored, at(2));
    tx->save_result(run, "city", sess.results["city"]);
    const auto loaded = tx->load_session(c.id);
    ASSERT_TRUE(loaded);
    EXPECT_EQ(loaded->run_id, run);
    EXPECT_EQ(loaded->parent_runs, stored.parent_runs);
    EXPECT_EQ(loaded->run_expires_at, stored.run_expires_at);
    EXPECT_EQ(loaded->session, sess);
    EXPECT_EQ(tx->due_sessions(at(86400000 - 1), 10).size(), 0u);
    EXPECT_EQ(tx->due_sessions(at(86400000), 10), std::vector<std::int64_t>{c.id}) << "the wait timed out";
    tx->delete_session(c.id);
    EXPECT_FALSE(tx->load_session(c.id));
    tx->commit();
}

// A job reads the session as it left it: the PostgreSQL store reads a contact's session with the
// contact (upsert_contact), and must not answer load_session with that once the job has written it.
TEST_P(store_test, a_job_reads_back_the_session_it_has_just_written_or_deleted) {
    auto owned = open();
    store& s = *owned;
    auto session_at = [](const std::string& node) {
        flows::session sess;
        sess.flow_id = "signup";
        sess.node_id = node;
        sess.started_at = at(1);
        return sess;
    };
    std::int64_t run = 0;
    {
        auto tx = s.begin_write();
        const auto c = tx->upsert_contact("ext:a", "local", at(0));
        run = tx->start_run(c.id, "signup", at(1));
        tx->save_session(c.id, {run, {}, session_at("ask_city"), std::nullopt}, at(1));
        tx->commit();
    }
    auto tx = s.begin_write();
    tx->savepoint();
    auto c = tx->upsert_contact("ext:a", "local", at(2));
    tx->save_session(c.id, {run, {}, session_at("ask_age"), std::nullopt}, at(2));
    auto loaded = tx->load_session(c.id);
    ASSERT_TRUE(loaded);
    EXPECT_EQ(loaded->session.node_id, "ask_age")
        << "the one just written, not the one read with the contact";
    tx->release();

    tx->savepoint();
    c = tx->upsert_contact("ext:a", "local", at(3));
    loaded = tx->load_session(c.id);
    ASSERT_TRUE(loaded);
    EXPECT_EQ(loaded->session.node_id, "ask_age");
    tx->delete_session(c.id);
    EXPECT_FALSE(tx->load_session(c.id));
    tx->release();

    tx->savepoint();
    c = tx->upsert_contact("ext:a", "local", at(4));
    tx->save_session(c.id, {run, {}, session_at("ask_name"), std::nullopt}, at(4));
    tx->rollback_to();
    tx->savepoint();
    c = tx->upsert_contact("ext:a", "local", at(5));
    EXPECT_FALSE(tx->load_session(c.id)) << "the rolled-back job's session is gone";
    tx->release();
    tx->commit();
}

// A session's parent runs as stored: none is "[]", and what is not an array of integers reads as
// none rather than failing the session.
TEST(parent_runs, round_trip_and_bad_values_read_as_none) {
    EXPECT_EQ(parent_runs_json({}), "[]");
    EXPECT_EQ(parent_runs_json({7, 3}), "[7,3]");
    const struct {
        std::string_view text;
        std::vector<std::int64_t> ids;
    } cases[] = {
        {"[]", {}},
        {"[7,3]", {7, 3}},
        {" [ 12 ] ", {12}},
        {"[1,\"x\",2.5,3]", {1, 3}},
        {"{}", {}},
        {"", {}},
        {"[1,", {}},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(parent_runs_from_json(c.text), c.ids) << c.text;
    }
}

TEST_P(store_test, contact_fields_and_groups) {
    auto owned = open();
    store& s = *owned;
    auto tx = s.begin_write();
    const auto c = tx->upsert_contact("tel:+962791234567", "local", at(0));
    tx->set_contact_field(c.id, "age", "31");
    tx->set_contact_field(c.id, "city", "عمّان");
    tx->set_contact_field(c.id, "age", "");  // cleared
    tx->add_contact_group(c.id, {"g-1", "Amman Sept"});
    tx->add_contact_group(c.id, {"g-1", "Amman Sept"});  // twice: still once
    tx->add_contact_group(c.id, {"", "Waitlist"});
    tx->remove_contact_group(c.id, {"", "Nobody's group"});
    auto again = tx->upsert_contact("tel:+962791234567", "local", at(1));
    EXPECT_EQ(again.fields, (std::map<std::string, std::string>{{"city", "عمّان"}}));
    ASSERT_EQ(again.groups.size(), 2u);
    EXPECT_EQ(again.groups[0], (flows::group_ref{"g-1", "Amman Sept"}));
    tx->remove_contact_group(c.id, {"g-1", ""});  // by uuid
    EXPECT_EQ(tx->load_contact(c.id)->contact.groups, (std::vector<flows::group_ref>{{"", "Waitlist"}}));
    tx->remove_all_contact_groups(c.id);
    const auto who = tx->load_contact(c.id);
    ASSERT_TRUE(who);
    EXPECT_TRUE(who->contact.groups.empty());
    EXPECT_EQ(who->urn, "tel:+962791234567");
    EXPECT_EQ(who->channel_id, "local");
    tx->commit();
}

TEST_P(store_test, uncommitted_transaction_rolls_back) {
    auto owned = open();
    store& s = *owned;
    {
        auto tx = s.begin_write();
        const auto c = tx->upsert_contact("ext:a", "local", at(0));
        tx->insert_inbound({"local", "m1", "ext:a", "x", c.id, at(0)});
    }
    EXPECT_EQ(s.count_messages().inbound, 0);
}

TEST_P(store_test, savepoint_rolls_back_one_event_only) {
    auto owned = open();
    store& s = *owned;
    auto tx = s.begin_write();
    const auto c = tx->upsert_contact("ext:a", "local", at(0));
    tx->savepoint();
    tx->insert_inbound({"local", "keep", "ext:a", "x", c.id, at(0)});
    tx->release();
    tx->savepoint();
    tx->insert_inbound({"local", "drop", "ext:a", "x", c.id, at(0)});
    tx->rollback_to();
    tx->commit();
    EXPECT_EQ(s.count_messages().inbound, 1);
}
TEST_P(store_test, a_failure_report_keeps_the_provider_error_code) {
    {
        auto owned = open();
        store& s = *owned;
        auto tx = s.begin_write();
        const auto c = tx->upsert_contact("ext:a", "local", at(0));
        tx->enqueue_outbound({"local", c.id, "ext:a", "hi", "GSM-7", 1, std::nullopt, at(0)});
        const auto m = tx->claim_outbound(at(0), 1).at(0);
        tx->mark_sent(m.id, "prov-1", at(1));
        EXPECT_TRUE(tx->apply_status("local", "prov-1", msg_state::failed, at(2), "30003"));
        tx->commit();
    }
    EXPECT_EQ(raw("SELECT state, error FROM messages WHERE direction = 'out'"),
              (std::vector<std::string>{"failed", "30003"}));
}

TEST_P(store_test, urns_and_texts_are_sealed_and_found_by_keyed_hash) {
    const auto key = data_key::from_hex(std::string(64, 'a'));
    {
        auto owned = open(key);
        auto tx = owned->begin_write();
        const auto c = tx->upsert_contact("tel:+962791234567", "sms", at(0));
        tx->insert_inbound({"sms", "m1", "tel:+962791234567", "my secret answer", c.id, at(1)});
        tx->commit();
    }
    const auto stored = raw("SELECT urn_hash, urn FROM contact_urns");
    ASSERT_EQ(stored.size(), 2u);
    EXPECT_EQ(stored[0], key.lookup("tel:+962791234567")) << "the keyed hash, not the number";
    EXPECT_EQ(stored[1].find("962791234567"), std::string::npos) << "no plain number in the sealed column";
    EXPECT_EQ(key.open(stored[1], sealed_column::contact_urn), "tel:+962791234567");
    const auto text = raw("SELECT text FROM messages");
    ASSERT_EQ(text.size(), 1u);
    EXPECT_EQ(text[0].find("secret"), std::string::npos);
    EXPECT_EQ(key.open(text[0], sealed_column::message_text), "my secret answer");
    auto again = open_again(key);
    auto tx = again->begin_write();
    EXPECT_TRUE(tx->find_contact("tel:+962791234567")) << "found again under the same key";
    EXPECT_TRUE(tx->find_contact("whatsapp:962791234567")) << "and under the other scheme";
}

TEST_P(store_test, refuses_a_database_written_under_another_key) {
    { auto first = open(data_key::from_hex(std::string(64, 'a'))); }
    EXPECT_THROW(open_again(data_key::from_hex(std::string(64, 'b'))), std::runtime_error);
    EXPECT_THROW(open_again(data_key::throwaway()), std::runtime_error);
}

// /healthz asks from an I/O thread: a read in progress (an export, a broadcast's audience) shows the
// store answering, and waiting for it would hold that thread and its webhooks as long as it takes.
TEST_P(store_test, a_health_check_does_not_wait_for_a_read_in_progress) {
    auto s = open();
    {
        auto tx = s->begin_write();
        const auto c = tx->upsert_contact("ext:a", "local", at(0));
        tx->insert_inbound({"local", "m1", "ext:a", "hi", c.id, at(0)});
        tx->commit();
    }
    std::promise<void> reading;
    std::promise<void> finish;
    std::thread exporter([&] {
        auto until = finish.get_future();
        s->export_messages([&](const message_export_row&) {
            reading.set_value();  // the one message: the read holds the store's read side here
            until.wait();
        });
    });
    reading.get_future().wait();
    auto pinged = std::async(std::launch::async, [&] { return s->ping(); });
    const bool answered = pinged.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
    finish.set_value();
    exporter.join();
    ASSERT_TRUE(answered) << "the health check waited for the export";
    EXPECT_TRUE(pinged.get());
}

INSTANTIATE_TEST_SUITE_P(backends,
                         store_test,
                         ::testing::Values(backend::sqlite, backend::postgres),
                         [](const ::testing::TestParamInfo<backend>& info) {
                             return test::backend_name(info.param);
                         });

// PostgreSQL alone: several instances on one database (docs/architecture.md, "Several instances").
class postgres_instances_test : public test::postgres_database_test {
   protected:
    // An instance on the database, its writer started.
    struct instance {
        explicit instance(const std::string& database) : s(database), w(s, m) { w.start(); }
        postgres_store s;
        metrics m;
        writer w;
    };

    // Ends, from a connection of its own, each session of the database that is idle in a
    // transaction (a writer's, between two of its statements), as a server restart or a network
    // failure would; how many it ended.
    std::int64_t end_sessions_in_transaction() const {
        pq::connection admin(database);
        return admin
            .q("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = "
               "current_database() AND state LIKE 'idle in transaction%'")
            .int64(0, 0);
    }
};

TEST_F(postgres_instances_test, instances_starting_together_migrate_once) {
    std::vector<std::unique_ptr<postgres_store>> stores(4);
    std::vector<std::thread> starting;
    for (auto& s : stores) {
        starting.emplace_back([&] { s = std::make_unique<postgres_store>(database); });
    }
    for (auto& t : starting) {
        t.join();
    }
    for (const auto& s : stores) {
        ASSERT_TRUE(s);
    }
    pq::connection db(database);
    const auto v = db.q("SELECT count(*), max(version) FROM schema_migrations");
    EXPECT_EQ(v.int64(0, 0), postgres_store::schema_version());
    EXPECT_EQ(v.int64(0, 1), postgres_store::schema_version());
    EXPECT_NE(stores[0]->instance_id(), stores[1]->instance_id());
}

TEST_F(postgres_instances_test, refuses_a_database_from_a_newer_flowgate) {
    { postgres_store s(database); }
    {
        pq::connection db(database);
        db.exec("INSERT INTO schema_migrations (version) VALUES (999)");
    }
    EXPECT_THROW(postgres_store{database}, std::runtime_error);
}

TEST_F(postgres_instances_test, two_instances_never_claim_one_message) {
    postgres_store a(database);
    postgres_store b(database);
    {
        auto tx = a.begin_write();
        for (int i = 0; i < 4; ++i) {
            const std::string urn = "ext:" + std::to_string(i);
            const auto c = tx->upsert_contact(urn, "local", at(0));
            tx->enqueue_outbound({"local", c.id, urn, "hi", "GSM-7", 1, std::nullopt, at(0)});
        }
        tx->commit();
    }
    // Both claim at once, each in its own open transaction: the rows one holds, the other skips.
    auto ta = a.begin_write();
    auto tb = b.begin_write();
    const auto first = ta->claim_outbound(at(1), 3);
    const auto second = tb->claim_outbound(at(1), 3);
    ta->commit();
    tb->commit();
    EXPECT_EQ(first.size(), 3u);
    ASSERT_EQ(second.size(), 1u);
    for (const auto& m : first) {
        EXPECT_NE(m.id, second[0].id);
    }
}

TEST_F(postgres_instances_test, startup_recovery_spares_a_live_instances_sends) {
    auto a = std::make_unique<postgres_store>(database);
    postgres_store b(database);
    {
        auto tx = a->begin_write();
        const auto c = tx->upsert_contact("ext:a", "local", at(0));
        tx->enqueue_outbound({"local", c.id, "ext:a", "hi", "GSM-7", 1, std::nullopt, at(0)});
        ASSERT_EQ(tx->claim_outbound(at(0), 1).size(), 1u);
        tx->commit();
    }
    {
        auto tx = b.begin_write();
        EXPECT_EQ(tx->mark_interrupted_sends_unknown(at(1)), 0u) << "instance a is alive and sending it";
        tx->commit();
    }
    const std::int64_t a_id = a->instance_id();
    a.reset();  // a dies: its connection, and its lock, go
    {
        // Its server process lets the lock go a moment later: taking it is that event.
        pq::connection admin(database);
        const std::int64_t lock_class = postgres_store::instance_lock_class;
        admin.q("SELECT pg_advisory_lock($1::integer, $2::integer)", lock_class, a_id);
        admin.q("SELECT pg_advisory_unlock($1::integer, $2::integer)", lock_class, a_id);
    }
    {
        auto tx = b.begin_write();
        EXPECT_EQ(tx->mark_interrupted_sends_unknown(at(2)), 1u);
        tx->commit();
    }
    EXPECT_EQ(b.count_messages().outbound_by_state.at("unknown"), 1);
}

TEST_F(postgres_instances_test, a_later_job_does_not_wait_for_a_contact_another_instance_holds) {
    postgres_store a(database);
    postgres_store b(database);
    std::int64_t x = 0;
    {
        auto tx = a.begin_write();
        x = tx->upsert_contact("ext:x", "local", at(0)).id;
        tx->upsert_contact("ext:y", "local", at(0));
        tx->commit();
    }
    auto ta = a.begin_write();
    ta->savepoint();
    ta->upsert_contact("ext:x", "local", at(1));  // a holds x until it commits
    ta->release();
    auto tb = b.begin_write();
    tb->savepoint();
    tb->upsert_contact("ext:y", "local", at(1));  // b's first job
    tb->release();
    tb->savepoint();
    try {
        tb->upsert_contact("ext:x", "local", at(1));
        ADD_FAILURE() << "b's second job took a contact a holds";
    } catch (const pq::error& e) {
        EXPECT_TRUE(e.is_lock_conflict()) << e.what();
    }
    tb->rollback_to();
    tb->commit();  // what b's first job did stands
    ta->commit();
    // Once a has committed, the job runs (first in b's next transaction, as the writer runs it).
    auto again = b.begin_write();
    again->savepoint();
    EXPECT_EQ(again->upsert_contact("ext:x", "local", at(2)).id, x);
    again->release();
    again->commit();
}

TEST_F(postgres_instances_test, the_writer_defers_a_job_blocked_by_another_instance_and_keeps_the_order) {
    postgres_store a(database);
    postgres_store b(database);
    std::int64_t x = 0;
    {
        auto tx = a.begin_write();
        x = tx->upsert_contact("ext:x", "local", at(0)).id;
        tx->commit();
    }
    auto held = a.begin_write();
    held->upsert_contact("ext:x", "local", at(1));  // instance a holds contact x until it commits

    metrics m;
    writer w(b, m);
    w.start();
    // A first batch holds the writer until both jobs below are queued: they then share a batch.
    std::promise<void> queued;
    std::promise<write_status> first_done;
    w.submit([f = queued.get_future().share()](write_tx&) { f.wait(); },
             [&](write_status s) { first_done.set_value(s); });
    std::vector<std::string> order;
    std::mutex order_mutex;
    std::promise<write_status> y_done;
    std::promise<write_status> x_done;
    auto y_committed = y_done.get_future();
    auto x_committed = x_done.get_future();
    std::atomic<int> x_runs{0};
    // The order they are answered in, each once, after its commit.
    w.submit([&](write_tx& tx) { tx.upsert_contact("ext:y", "local", at(2)); },
             [&](write_status s) {
                 {
                     std::lock_guard lock(order_mutex);
                     order.push_back("y");
                 }
                 y_done.set_value(s);
             });
    w.submit(
        [&](write_tx& tx) {
            ++x_runs;
            EXPECT_EQ(tx.upsert_contact("ext:x", "local", at(2)).id, x);
            tx.insert_inbound({"local", "mx", "ext:x", "hi", x, at(2)});
        },
        [&](write_status s) {
            {
                std::lock_guard lock(order_mutex);
                order.push_back("x");
            }
            x_done.set_value(s);
        });
    queued.set_value();
    EXPECT_EQ(first_done.get_future().get(), write_status::committed);
    // y commits without waiting for instance a; x went back to the queue, and waits for a there.
    EXPECT_EQ(y_committed.get(), write_status::committed);
    held->commit();
    EXPECT_EQ(x_committed.get(), write_status::committed);
    w.stop();
    // The group first ran without savepoints, where x's wait failed it whole; then with them, where
    // x alone rolled back and went back to the queue; then x ran first in a transaction of its own.
    EXPECT_EQ(x_runs.load(), 3) << "x ran again, first in a transaction of its own";
    EXPECT_EQ(order, (std::vector<std::string>{"y", "x"}));
    EXPECT_EQ(b.count_messages().inbound, 1);
}

TEST_F(postgres_instances_test, a_lost_connection_fails_the_batch_and_the_next_one_connects_again) {
    instance i(database);
    auto& [s, m, w] = i;
    auto run = [&w](writer::job j) { return submit_job(w, std::move(j)).get(); };
    // The server drops the writer's connection in the middle of a batch, and again when the batch
    // runs again with savepoints (a restart, a network failure that lasts): it is unavailable (503,
    // the provider retries).
    const auto lost = run([this](write_tx& tx) {
        const auto c = tx.upsert_contact("ext:a", "local", at(0));
        ASSERT_EQ(end_sessions_in_transaction(), 1);
        tx.insert_inbound({"local", "m1", "ext:a", "hi", c.id, at(0)});
    });
    EXPECT_EQ(lost, write_status::unavailable);
    EXPECT_FALSE(w.healthy());
    // The retry: the next batch connects again and commits; nothing of the first is there.
    const auto retried = run([](write_tx& tx) {
        const auto c = tx.upsert_contact("ext:a", "local", at(1));
        EXPECT_TRUE(tx.insert_inbound({"local", "m1", "ext:a", "hi", c.id, at(1)}));
    });
    EXPECT_EQ(retried, write_status::committed);
    EXPECT_TRUE(w.healthy());
    // The second lane's connection, made on its first job, is lost the same way and made again.
    ASSERT_EQ(w.lanes(), 2u);
    auto on_lane_1 = [&w](writer::job j) { return submit_job(w, std::move(j), 1).get(); };
    EXPECT_EQ(on_lane_1([](write_tx& tx) { tx.upsert_contact("ext:b", "local", at(2)); }),
              write_status::committed);
    const auto lost_1 = on_lane_1([this](write_tx& tx) {
        tx.upsert_contact("ext:c", "local", at(3));
        ASSERT_EQ(end_sessions_in_transaction(), 1);
        tx.upsert_contact("ext:d", "local", at(3));
    });
    EXPECT_EQ(lost_1, write_status::unavailable);
    EXPECT_FALSE(w.healthy());
    EXPECT_EQ(on_lane_1([](write_tx& tx) { tx.upsert_contact("ext:c", "local", at(4)); }),
              write_status::committed);
    EXPECT_TRUE(w.healthy());
    w.stop();
    EXPECT_EQ(s.count_messages().inbound, 1);
    // An idle connection the server dropped is found dead on first use and replaced.
    {
        pq::connection admin(database);
        admin.q(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()");
    }
    EXPECT_TRUE(s.ping());
    EXPECT_EQ(s.count_messages().inbound, 1);
    auto tx = s.begin_write();
    EXPECT_TRUE(tx->find_contact("ext:a"));
    tx->commit();
}

// A group runs first without savepoints (store::optimistic_groups) and, if a job fails, again with
// them. Not when its COMMIT lost the connection: the server may have committed before it went, and
// the group run again on a new connection could store everything twice. It is answered unavailable
// (503: the provider retries, and its retry is a duplicate if the COMMIT was done).
TEST_F(postgres_instances_test, a_commit_that_loses_its_connection_is_not_run_again) {
    instance i(database);
    auto& [s, m, w] = i;
    std::atomic<int> runs{0};
    const auto lost = submit_job(w, [&](write_tx& tx) {
                          ++runs;
                          const auto c = tx.upsert_contact("ext:a", "local", at(0));
                          tx.insert_inbound({"local", "m1", "ext:a", "hi", c.id, at(0)});
                          // The job's statements are answered: the connection goes before the COMMIT.
                          ASSERT_EQ(end_sessions_in_transaction(), 1);
                      }).get();
    EXPECT_EQ(lost, write_status::unavailable);
    EXPECT_EQ(runs.load(), 1) << "the group was not run again after its COMMIT failed";
    EXPECT_FALSE(w.healthy());
    // The provider's retry, on a new connection.
    const auto retried = submit_job(w, [](write_tx& tx) {
                             const auto c = tx.upsert_contact("ext:a", "local", at(1));
                             EXPECT_TRUE(tx.insert_inbound({"local", "m1", "ext:a", "hi", c.id, at(1)}));
                         }).get();
    EXPECT_EQ(retried, write_status::committed);
    w.stop();
    EXPECT_EQ(s.count_messages().inbound, 1);
}

// A connection lost before the COMMIT has committed nothing: the group runs again, each job in its
// savepoint, on a new connection, and commits there.
TEST_F(postgres_instances_test, a_group_whose_connection_is_lost_before_its_commit_runs_again) {
    instance i(database);
    auto& [s, m, w] = i;
    std::atomic<int> runs{0};
    const auto status = submit_job(w, [&](write_tx& tx) {
                            const auto c = tx.upsert_contact("ext:a", "local", at(0));
                            if (++runs == 1) {
                                ASSERT_EQ(end_sessions_in_transaction(), 1);
                            }
                            tx.insert_inbound({"local", "m1", "ext:a", "hi", c.id, at(0)});
                        }).get();
    EXPECT_EQ(status, write_status::committed);
    EXPECT_EQ(runs.load(), 2);
    EXPECT_TRUE(w.healthy());
    w.stop();
    EXPECT_EQ(s.count_messages().inbound, 1);
    EXPECT_NE(m.render().find("flowgate_store_group_retries_total 1\n"), std::string::npos);
}

TEST_F(postgres_instances_test, two_instances_cannot_both_give_away_the_last_place) {
    postgres_store a(database);
    postgres_store b(database);
    flows::workshop w;
    w.id = "amman-1";
    w.title = {{"en", "Amman"}};
    w.place = {{"en", "Centre"}};
    w.starts_at = at(1'000'000);
    w.timezone = "Asia/Amman";
    w.capacity = 1;
    std::int64_t p = 0;
    std::int64_t q = 0;
    {
        auto tx = a.begin_write();
        tx->upsert_workshop(w, at(0));
        p = tx->upsert_contact("ext:p", "local", at(0)).id;
        q = tx->upsert_contact("ext:q", "local", at(0)).id;
        tx->commit();
    }
    // Instance a counts the places (0 of 1 taken) and gives p the last one, not yet committed.
    auto ta = a.begin_write();
    ASSERT_EQ(ta->find_workshop("amman-1")->taken, 0);
    ta->set_registration(p, "amman-1", flows::registration_status::registered, at(1));
    // Instance b, in a later job of its batch, may not count them meanwhile: the job runs again.
    auto tb = b.begin_write();
    tb->savepoint();
    tb->upsert_contact("ext:q", "local", at(1));
    tb->release();
    tb->savepoint();
    EXPECT_THROW(tb->find_workshop("amman-1"), pq::error);
    tb->rollback_to();
    tb->commit();
    ta->commit();
    // Run again, it sees the place taken: q goes on the waiting list.
    auto again = b.begin_write();
    EXPECT_EQ(again->find_workshop("amman-1")->taken, 1);
    EXPECT_EQ(again->open_workshops(at(2)).at(0).taken, 1);
    again->set_registration(q, "amman-1", flows::registration_status::waitlisted, at(2));
    again->commit();
}

// SQLite alone: its file and its pragmas.
class sqlite_file_test : public ::testing::Test {
   protected:
    test::temp_dir dir;
    std::string path = dir.file("store.db");
};

TEST_F(sqlite_file_test, migrates_and_asserts_durability_settings) {
    { sqlite_store s(path); }
    sqlite::connection db(path);
    sqlite::statement v(db, "PRAGMA user_version");
    ASSERT_TRUE(v.step());
    EXPECT_EQ(v.column_int64(0), sqlite_store::schema_version());
    sqlite::statement mode(db, "PRAGMA journal_mode");
    ASSERT_TRUE(mode.step());
    EXPECT_EQ(mode.column_text(0), "wal");
    // Reopening an up-to-date database is a no-op.
    EXPECT_NO_THROW(sqlite_store{path});
}

// The writer copies the WAL into the database file between groups (the WAL hook only counts):
// from 250 pages after a small group, from 4000 after a large one (16 jobs or more: the writer is
// busy), each time after the group's jobs are answered and before the next group runs.
TEST_F(sqlite_file_test, the_writer_copies_the_log_into_the_database_between_groups) {
    sqlite_store s(path);
    metrics m;
    writer w(s, m);
    w.start();
    auto submit = [&w](writer::job j) { return submit_job(w, std::move(j)); };
    // 3,000 bytes: a page of the log each.
    auto pages = [](int n) {
        return [n](write_tx& tx) {
            const auto c = tx.upsert_contact("tel:+962791234567", "local", at(0));
            for (int i = 0; i < n; ++i) {
                tx.enqueue_outbound(
                    {"local", c.id, "tel:+962791234567", std::string(3000, 'a'), "GSM-7", 20, {}, at(i)});
            }
        };
    };
    const auto tiny = [](write_tx& tx) { tx.upsert_contact("tel:+962791234568", "local", at(1)); };

    // Sixteen jobs of 100 pages queue while a first job holds the writer: one large group.
    std::promise<void> release;
    auto held = submit([gate = release.get_future().share()](write_tx&) { gate.wait(); });
    std::vector<std::future<write_status>> group;
    for (int i = 0; i < 16; ++i) {
        group.push_back(submit(pages(100)));
    }
    release.set_value();
    ASSERT_EQ(held.get(), write_status::committed);
    for (auto& f : group) {
        ASSERT_EQ(f.get(), write_status::committed);
    }
    // The next group runs after the last one's housekeeping (busy: 1,600 pages are under 4000), so
    // a job of it sees the file as that housekeeping left it.
    std::uintmax_t after_busy = 0;
    ASSERT_EQ(submit([&](write_tx& tx) {
                  after_busy = std::filesystem::file_size(path);
                  tiny(tx);
              }).get(),
              write_status::committed);
    EXPECT_LT(after_busy, 1'000'000u) << "a busy writer copied 1,600 pages";
    // After that small group, the same pages are past 250: copied before the group after it.
    ASSERT_EQ(submit(tiny).get(), write_status::committed);
    EXPECT_GT(std::filesystem::file_size(path), 1600u * 3000u) << "the log was not copied into the file";
    w.stop();
    // Every job's wait was counted once, and the one copy was timed.
    EXPECT_NE(m.render().find("flowgate_store_job_wait_seconds_count 19\n"), std::string::npos);
    EXPECT_NE(m.render().find("flowgate_store_housekeeping_seconds_count 1\n"), std::string::npos);
}

// Writes that do not come through the writer (the CLI's) have no groups to checkpoint between: a
// commit that takes the log past 64 MB copies it at once.
TEST_F(sqlite_file_test, a_commit_past_64_mb_of_log_copies_it_without_the_writer) {
    sqlite_store s(path);
    {
        auto tx = s.begin_write();
        const auto c = tx->upsert_contact("tel:+962791234567", "local", at(0));
        for (int i = 0; i < 3400; ++i) {  // 20,000 bytes: five pages each
            tx->enqueue_outbound(
                {"local", c.id, "tel:+962791234567", std::string(20000, 'a'), "GSM-7", 128, {}, at(i)});
        }
        tx->commit();
    }
    EXPECT_GT(std::filesystem::file_size(path), 3400u * 20000u) << "the log was not copied into the file";
}

TEST_F(sqlite_file_test, refuses_a_database_from_a_newer_flowgate) {
    { sqlite_store s(path); }
    {
        sqlite::connection db(path);
        db.exec("PRAGMA user_version = 999");
    }
    EXPECT_THROW(sqlite_store{path}, std::runtime_error);
}

}  // namespace
}  // namespace flowgate::gateway
