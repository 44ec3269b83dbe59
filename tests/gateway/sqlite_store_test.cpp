#include "gateway/sqlite_store.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "gateway/sqlite.hpp"
#include "tests/support/process.hpp"

namespace flowgate::gateway {
namespace {

timestamp at(std::int64_t ms) { return from_millis(ms); }

class store_test : public ::testing::Test {
   protected:
    test::temp_dir dir;
    std::string path = dir.file("store.db");
};

TEST_F(store_test, migrates_and_asserts_durability_settings) {
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

TEST_F(store_test, refuses_a_database_from_a_newer_flowgate) {
    { sqlite_store s(path); }
    {
        sqlite::connection db(path);
        db.exec("PRAGMA user_version = 999");
    }
    EXPECT_THROW(sqlite_store{path}, std::runtime_error);
}

TEST_F(store_test, inbound_is_deduplicated_per_channel) {
    sqlite_store s(path);
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

TEST_F(store_test, outbox_claims_retries_and_settles) {
    sqlite_store s(path);
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

TEST_F(store_test, claims_respect_the_limit_and_each_contacts_order) {
    sqlite_store s(path);
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

TEST_F(store_test, answers_go_before_a_broadcast_already_queued) {
    sqlite_store s(path);
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

TEST_F(store_test, a_report_that_beats_the_send_record_is_applied_when_it_lands) {
    sqlite_store s(path);
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

TEST_F(store_test, status_callbacks_never_move_backwards) {
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
        test::temp_dir d;
        sqlite_store s(d.file("s.db"));
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

TEST_F(store_test, one_number_on_sms_and_whatsapp_is_one_contact) {
    sqlite_store s(path);
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

TEST_F(store_test, a_failure_report_keeps_the_provider_error_code) {
    sqlite_store s(path);
    {
        auto tx = s.begin_write();
        const auto c = tx->upsert_contact("ext:a", "local", at(0));
        tx->enqueue_outbound({"local", c.id, "ext:a", "hi", "GSM-7", 1, std::nullopt, at(0)});
        const auto m = tx->claim_outbound(at(0), 1).at(0);
        tx->mark_sent(m.id, "prov-1", at(1));
        EXPECT_TRUE(tx->apply_status("local", "prov-1", msg_state::failed, at(2), "30003"));
        tx->commit();
    }
    sqlite::connection db(path);
    sqlite::statement q(db, "SELECT state, error FROM messages WHERE direction = 'out'");
    ASSERT_TRUE(q.step());
    EXPECT_EQ(q.column_text(0), "failed");
    EXPECT_EQ(q.column_text(1), "30003");
}

TEST_F(store_test, interrupted_sends_become_unknown) {
    sqlite_store s(path);
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

TEST_F(store_test, sessions_and_results_round_trip) {
    sqlite_store s(path);
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

TEST_F(store_test, contact_fields_and_groups) {
    sqlite_store s(path);
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

TEST_F(store_test, uncommitted_transaction_rolls_back) {
    sqlite_store s(path);
    {
        auto tx = s.begin_write();
        const auto c = tx->upsert_contact("ext:a", "local", at(0));
        tx->insert_inbound({"local", "m1", "ext:a", "x", c.id, at(0)});
    }
    EXPECT_EQ(s.count_messages().inbound, 0);
}

TEST_F(store_test, savepoint_rolls_back_one_event_only) {
    sqlite_store s(path);
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

}  // namespace
}  // namespace flowgate::gateway
