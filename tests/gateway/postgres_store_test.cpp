// What only the PostgreSQL store does (gateway/postgres_store.hpp); what both stores do is tested on
// both elsewhere.
// - Its planner's statistics (analyze_changed_tables): a table that changed by a fifth, and by at
//   least 500 rows, since it was last analyzed is analyzed again by the store itself, not a minute
//   later by autovacuum; a table that changed less is left alone. Without them a new database's
//   claims read every queued message (docs/performance.md, "PostgreSQL").
// - Its advisory locks: a transaction that finds or creates many contacts by number (an import)
//   holds a bounded number of them, since each takes a slot of the server's lock table to the
//   commit.
// - Its deferred statements (pq::connection::defer, libpq's pipeline mode): answered in order at
//   the next statement whose answer is needed, the first error thrown there; and a job's deferred
//   statement that fails fails that job, at its release, not the next one.

#include "gateway/postgres_store.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/types.hpp"
#include "gateway/pq.hpp"
#include "tests/support/postgres.hpp"

namespace flowgate {
namespace {

bool has(const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

class postgres_store_test : public test::postgres_database_test {
   protected:
    void SetUp() override {
        postgres_database_test::SetUp();
        if (IsSkipped()) {
            return;
        }
        store = std::make_unique<gateway::postgres_store>(database);
    }

    // Runs `sql` on a connection of its own, whose statistics are then reported (a backend sends
    // them when it is idle, at most once a second: forced here).
    void write(const std::string& sql) {
        gateway::pq::connection db(database);
        db.exec(sql);
        db.exec("SELECT pg_stat_force_next_flush()");
        db.exec("SELECT 1");
    }

    double estimated_rows(const std::string& table) {
        gateway::pq::connection db(database);
        return std::stod(db.q("SELECT reltuples::text FROM pg_class WHERE relname = $1", table).text(0, 0));
    }

    std::unique_ptr<gateway::postgres_store> store;
};

TEST_F(postgres_store_test, a_table_that_grew_is_analyzed_and_one_that_changed_little_is_not) {
    write(
        "INSERT INTO suppressed_urns (hash, created_at) SELECT 'h' || g, g FROM generate_series(1, 1000) g");
    write(
        "INSERT INTO api_tokens (hash, name, role, created_at) SELECT 'h' || g, 'n', 'staff', g "
        "FROM generate_series(1, 100) g");

    const auto analyzed = store->analyze_changed_tables();
    // Autovacuum, or the store's own thread, may have come first: what matters is that the planner
    // now knows the table.
    EXPECT_EQ(estimated_rows("suppressed_urns"), 1000);
    EXPECT_FALSE(has(analyzed, "api_tokens")) << "100 rows changed: fewer than 500";

    // Analyzed, a table is not analyzed again until it changes again.
    EXPECT_FALSE(has(store->analyze_changed_tables(), "suppressed_urns"));
    write("INSERT INTO suppressed_urns (hash, created_at) SELECT 'i' || g, g FROM generate_series(1, 600) g");
    store->analyze_changed_tables();
    EXPECT_EQ(estimated_rows("suppressed_urns"), 1600) << "600 more: more than a fifth of 1,000";
}

TEST_F(postgres_store_test, a_fifth_is_measured_against_the_table) {
    write(
        "INSERT INTO suppressed_urns (hash, created_at) SELECT 'h' || g, g FROM generate_series(1, 5000) g");
    store->analyze_changed_tables();
    ASSERT_EQ(estimated_rows("suppressed_urns"), 5000);
    write("INSERT INTO suppressed_urns (hash, created_at) SELECT 'i' || g, g FROM generate_series(1, 600) g");
    EXPECT_FALSE(has(store->analyze_changed_tables(), "suppressed_urns"))
        << "600 changed of 5,600: less than a fifth";
}

TEST_F(postgres_store_test, an_import_of_many_contacts_holds_a_bounded_number_of_locks) {
    constexpr int contacts = 600;
    const timestamp now = timestamp(std::chrono::seconds(1800000000));
    auto tx = store->begin_write();
    for (int i = 0; i < contacts; ++i) {
        tx->savepoint();
        tx->upsert_contact("tel:+96279" + std::to_string(1000000 + i), "sms", now);
        tx->release();
    }
    // Seen from another session before the commit: the store's lock classes (urn_lock, urn_lock_all)
    // in this database (other tests' databases share the server).
    gateway::pq::connection other(database);
    const auto per_number = other.q(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::bigint::oid "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        std::int64_t{0x666c6702});
    EXPECT_LE(per_number.int64(0, 0), 256) << "one per number, up to 256; then one for them all";
    const auto all = other.q(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::bigint::oid "
        "AND mode = 'ExclusiveLock' AND granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        std::int64_t{0x666c6704});
    EXPECT_EQ(all.int64(0, 0), 1);
    tx->commit();
    EXPECT_EQ(other.q("SELECT count(*) FROM contact_urns").int64(0, 0), contacts);
}

// Migration 5: ANALYZE keeps no samples of names, fields, sealed values or random identifiers
// (pg_statistic would hold an erased participant's name until the next ANALYZE), and still keeps
// the columns the queries are planned by.
TEST_F(postgres_store_test, the_statistics_hold_no_names_sealed_values_or_identifiers) {
    const timestamp now = timestamp(std::chrono::seconds(1800000000));
    auto tx = store->begin_write();
    for (int i = 0; i < 600; ++i) {
        tx->savepoint();
        const auto c = tx->upsert_contact("tel:+96279" + std::to_string(2000000 + i), "sms", now);
        tx->set_contact_name(c.id, "Name " + std::to_string(i % 7));
        tx->insert_inbound({"sms",
                            "SM" + std::to_string(i),
                            "tel:+96279" + std::to_string(2000000 + i),
                            "hello",
                            c.id,
                            now});
        tx->release();
    }
    tx->commit();
    write("ANALYZE contacts; ANALYZE contact_urns; ANALYZE messages");
    gateway::pq::connection db(database);
    auto has_statistics = [&db](const std::string& table, const std::string& column) {
        return db.q("SELECT count(*) FROM pg_stats WHERE schemaname = current_schema() AND tablename = $1 "
                    "AND attname = $2",
                    table,
                    column)
                   .int64(0, 0) > 0;
    };
    for (const auto& [table, column] : std::vector<std::pair<std::string, std::string>>{
             {"contacts", "name"},
             {"contacts", "fields"},
             {"contacts", "uuid"},
             {"contact_urns", "urn"},
             {"messages", "urn"},
             {"messages", "text"},
             {"messages", "uuid"},
         }) {
        EXPECT_FALSE(has_statistics(table, column)) << table << "." << column;
    }
    EXPECT_TRUE(has_statistics("contacts", "stopped"));
    EXPECT_TRUE(has_statistics("contact_urns", "urn_hash"));
    EXPECT_TRUE(has_statistics("messages", "state"));
}

TEST_F(postgres_store_test, deferred_statements_are_answered_in_order_and_the_first_error_is_thrown) {
    gateway::pq::connection db(database);
    db.exec("CREATE TABLE t (id bigint PRIMARY KEY)");
    db.q("SELECT count(*) FROM t");  // prepared once per connection, which waits for its answer
    gateway::pq::result first, second;
    db.d_into(first, "INSERT INTO t VALUES ($1) RETURNING id", std::int64_t{1});
    db.d_into(second, "INSERT INTO t VALUES ($1) RETURNING id", std::int64_t{2});
    EXPECT_TRUE(db.pending());
    EXPECT_TRUE(first.empty()) << "not answered yet";
    const auto count = db.q("SELECT count(*) FROM t");  // after them, in the same round trip
    EXPECT_FALSE(db.pending());
    EXPECT_EQ(first.int64(0, 0), 1);
    EXPECT_EQ(second.int64(0, 0), 2);
    EXPECT_EQ(count.int64(0, 0), 2);

    db.d("INSERT INTO t VALUES ($1)", std::int64_t{3});
    db.d("INSERT INTO t VALUES ($1)", std::int64_t{1});  // a duplicate
    db.d("INSERT INTO t VALUES ($1)", std::int64_t{4});
    try {
        db.sync();
        ADD_FAILURE() << "the duplicate was not reported";
    } catch (const gateway::pq::error& e) {
        EXPECT_TRUE(e.is_unique_violation()) << e.what();
        EXPECT_FALSE(e.is_resource_error());
    }
    EXPECT_FALSE(db.pending());
    EXPECT_EQ(db.q("SELECT count(*) FROM t").int64(0, 0), 2)
        << "the three ran as one transaction, which failed: 3 rolled back, 4 never run";

    db.exec("BEGIN");
    db.d("INSERT INTO t VALUES ($1)", std::int64_t{5});
    db.commit();  // the COMMIT goes with the deferred insert
    EXPECT_EQ(db.q("SELECT count(*) FROM t").int64(0, 0), 3);
    db.exec("BEGIN");
    db.d("INSERT INTO t VALUES ($1)", std::int64_t{5});
    EXPECT_THROW(db.commit(), gateway::pq::error);
    db.exec("ROLLBACK");
    EXPECT_EQ(db.q("SELECT count(*) FROM t").int64(0, 0), 3);
}

TEST_F(postgres_store_test, a_deferred_statement_that_fails_fails_its_own_job_only) {
    const timestamp now = timestamp(std::chrono::seconds(1800000000));
    auto tx = store->begin_write();
    tx->savepoint();
    const auto a = tx->upsert_contact("tel:+962791000001", "sms", now);
    tx->release();

    tx->savepoint();
    const auto b = tx->upsert_contact("tel:+962791000002", "sms", now);
    tx->set_contact_name(b.id, "B");
    tx->save_result(
        a.id + b.id + 1000, "city", {"City", "Amman", "Amman", "Amman", "ask_city", now});  // no such run
    EXPECT_THROW(tx->release(), gateway::pq::error) << "the job's own release reports it";
    tx->rollback_to();

    tx->savepoint();
    const auto c = tx->upsert_contact("tel:+962791000003", "sms", now);
    tx->set_contact_name(c.id, "C");
    tx->release();
    tx->commit();

    gateway::pq::connection other(database);
    EXPECT_EQ(other.q("SELECT count(*) FROM contacts WHERE id = $1", a.id).int64(0, 0), 1);
    EXPECT_EQ(other.q("SELECT count(*) FROM contacts WHERE id = $1", b.id).int64(0, 0), 0) << "rolled back";
    EXPECT_EQ(other.q("SELECT name FROM contacts WHERE id = $1", c.id).text(0, 0), "C");
}

}  // namespace
}  // namespace flowgate
