// What only the PostgreSQL store does (gateway/postgres_store.hpp); what both stores do is tested on
// both elsewhere.
// - Its planner's statistics (analyze_changed_tables): a table that changed by a fifth, and by at
//   least 500 rows, since it was last analyzed is analyzed again by the store itself, not a minute
//   later by autovacuum; a table that changed less is left alone. Without them a new database's
//   claims read every queued message (docs/performance.md, "PostgreSQL").
// - Its advisory locks: a transaction that finds or creates many contacts by number (an import)
//   holds a bounded number of them, since each takes a slot of the server's lock table to the
//   commit.

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

class postgres_store_test : public ::testing::Test {
   protected:
    void SetUp() override {
        std::string why_not;
        database = test::new_database(test::backend::postgres, "", why_not);
        if (database.empty()) {
            GTEST_SKIP() << why_not;
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

    std::string database;
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

}  // namespace
}  // namespace flowgate
