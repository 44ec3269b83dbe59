#pragma once
// The PostgreSQL store (docs/architecture.md, "PostgreSQL and several instances"): the same
// interface and the same data-at-rest rules as the SQLite store, for several `flowgate serve`
// processes on one database. Its schema has its own migrations (schema_migrations), run at start
// under an advisory lock. Each instance writes through one connection (its writer thread) and
// reads through another.
//
// Several instances: a contact's conversation is changed only under a row lock on the contact
// (FOR NO KEY UPDATE, held to the commit), so one contact's events are applied one at a time
// whichever instance got them; outbox, timer, workshop-job and webhook claims take their rows with
// FOR UPDATE SKIP LOCKED; a claimed send names its instance (claimed_by), and an instance holds a
// session-level advisory lock on its id for as long as its writer connection lives: sends left
// 'sending' by an instance whose lock is gone become 'unknown', never those of a live one.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "gateway/data_key.hpp"
#include "gateway/pq.hpp"
#include "gateway/store.hpp"

namespace flowgate::gateway {

class postgres_store final : public store {
   public:
    // Connects (the URL is never logged or put in an error), migrates and checks the data key.
    // Throws pq::error, or std::runtime_error for a database written by a newer flowgate or under
    // another key.
    // `writers`: how many write connections (the writer's lanes, write_lanes()).
    explicit postgres_store(const std::string& url,
                            data_key key = data_key::throwaway(),
                            std::size_t writers = config::store_config::default_writers);
    ~postgres_store() override;

    std::unique_ptr<write_tx> begin_write() override { return begin_write_on(0); }
    std::size_t write_lanes() const override { return writers_.size(); }
    bool optimistic_groups() const override { return true; }
    std::unique_ptr<write_tx> begin_write_on(std::size_t lane) override;
    bool ping() override;
    sealed_inbound seal_inbound(std::string_view urn, std::string_view text) const override;
    message_counts count_messages() override;
    std::optional<api_token> find_token(const std::string& token_hash) override;
    std::vector<workshop_summary> list_workshops() override;
    std::optional<std::vector<registration_row>> list_registrations(const std::string& workshop_id) override;
    std::vector<api_token_info> list_tokens() override;
    std::vector<audit_entry> list_audit(std::size_t limit, std::int64_t before) override;
    std::vector<flow_run_row> list_flow_runs(const std::string& flow_id, bool identified) override;
    std::vector<contact_details> find_contacts(const contact_query& q) override;
    std::optional<contact_details> find_contact(const std::string& uuid) override;
    broadcast_audience_rows broadcast_contacts(const broadcast_audience& audience) override;
    std::vector<broadcast_record> list_broadcasts(std::size_t limit) override;
    std::optional<broadcast_record> find_broadcast(const std::string& uuid) override;
    void export_messages(const std::function<void(const message_export_row&)>& row) override;
    void close() override;

    // The schema version this code writes.
    static int schema_version();
    // This instance's id, as its claims name it (positive; unique among live instances).
    std::int32_t instance_id() const { return instance_id_; }
    // The instance's lock, held while it lives: pg_advisory_lock(instance_lock_class, instance_id()).
    static constexpr std::int32_t instance_lock_class = 0x666c6703;

    // Shared by the read side and the write transaction (postgres_read.cpp).
    static std::optional<broadcast_record> read_broadcast(pq::connection& db, const std::string& uuid);

    // ANALYZE of this schema's tables that changed by a fifth, and by at least `min_changes` rows,
    // since they were last analyzed (by this, by another instance or by autovacuum); their names.
    // PostgreSQL plans every query from those statistics, and without them (a new database, a
    // table that grew from a few rows to thousands in a minute) it took a claim of the outbox for
    // a read of every queued message: 100 to 300 ms a claim with 9,000 queued, against 0.2 ms.
    // Autovacuum looks once a minute; a thread of this store looks every two seconds, on a
    // connection of its own, so neither the writer nor a reader waits. Public for the tests.
    std::vector<std::string> analyze_changed_tables(std::int64_t min_changes = 500);

   private:
    // Runs `f` on the read connection under reader_mutex_, connecting again first if it was lost.
    void read(const std::function<void(pq::connection&)>& f);
    // The same with reader_mutex_ already held.
    void read_locked(const std::function<void(pq::connection&)>& f);
    // Lane `lane`'s writer connection, connected (again, after a loss); lane 0's holds the
    // instance's lock.
    pq::connection& writer(std::size_t lane);
    // A new connection, configured (configure()).
    std::unique_ptr<pq::connection> connect() const;
    // Connects lane `lane`'s again (and takes the instance's lock again on lane 0's).
    void reconnect_writer(std::size_t lane);

    std::string url_;
    data_key key_;
    std::int32_t instance_id_ = 0;
    std::vector<std::unique_ptr<pq::connection>> writers_;  // [0] holds the instance's lock
    // When the sends of instances that are gone were last looked for (claim_outbound).
    std::chrono::steady_clock::time_point last_recovery_{};
    std::mutex reader_mutex_;
    std::unique_ptr<pq::connection> reader_;
    bool closed_ = false;

    // analyze_changed_tables' connection (made on first use) and thread.
    void keep_statistics();
    std::mutex statistics_mutex_;
    std::unique_ptr<pq::connection> statistics_;
    std::condition_variable statistics_wake_;
    bool statistics_stop_ = false;
    std::thread statistics_thread_;

    friend class postgres_write_tx;
};

}  // namespace flowgate::gateway
