#pragma once
// The SQLite store: WAL, synchronous=FULL, busy_timeout, user_version migrations, one writer.

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "gateway/data_key.hpp"
#include "gateway/sqlite.hpp"
#include "gateway/store.hpp"

namespace flowgate::gateway {

// A contact from the columns id, uuid, name, language, stopped, fields (in that order).
contact_record contact_from_row(const sqlite::statement& q);

// The columns that hold sealed values (data_key::seal), each named as its context: a value moved to
// another column does not open.
namespace sealed_column {
constexpr std::string_view contact_urn = "contact_urns.urn";
constexpr std::string_view message_urn = "messages.urn";
constexpr std::string_view message_text = "messages.text";
constexpr std::string_view result_value = "results.value";
constexpr std::string_view result_input = "results.input";
constexpr std::string_view session_state = "sessions.state";
constexpr std::string_view webhook_request = "webhook_calls.request";
}  // namespace sealed_column

// store::seal_inbound for both stores: the URN's lookup hash, the URN and the text sealed.
sealed_inbound seal_inbound(const data_key& key, std::string_view urn, std::string_view text);

class sqlite_store final : public store {
   public:
    // Opens (creating if needed) and migrates, sealing participants' data under `key` (the
    // throwaway key by default: tests). Throws sqlite::error, or std::runtime_error for a database
    // written by a newer flowgate or under another key.
    explicit sqlite_store(const std::string& path, data_key key = data_key::throwaway());
    ~sqlite_store() override;

    std::unique_ptr<write_tx> begin_write() override;
    bool ping() override;
    message_counts count_messages() override;
    std::optional<api_token> find_token(const std::string& token_hash) override;
    std::vector<workshop_summary> list_workshops() override;
    std::optional<std::vector<registration_row>> list_registrations(const std::string& workshop_id) override;
    std::vector<api_token_info> list_tokens() override;
    std::vector<audit_entry> list_audit(std::size_t limit, std::int64_t before) override;
    // gateway/sqlite_results.cpp
    std::vector<flow_run_row> list_flow_runs(const std::string& flow_id, bool identified) override;
    // Contacts (sqlite_contacts.cpp).
    std::vector<contact_details> find_contacts(const contact_query& q) override;
    std::optional<contact_details> find_contact(const std::string& uuid) override;
    broadcast_audience_rows broadcast_contacts(const broadcast_audience& audience) override;
    std::vector<broadcast_record> list_broadcasts(std::size_t limit) override;
    std::optional<broadcast_record> find_broadcast(const std::string& uuid) override;
    // gateway/sqlite_export.cpp
    void export_messages(const std::function<void(const message_export_row&)>& row) override;
    bool checkpoint() override;
    bool between_groups(bool busy) override;
    bool optimistic_groups() const override { return true; }
    sealed_inbound seal_inbound(std::string_view urn, std::string_view text) const override {
        return gateway::seal_inbound(key_, urn, text);
    }
    void close() override;

    // The schema version this code writes.
    static int schema_version();
    // The SQL of the migration to schema version `version` (tests build older databases with it).
    static std::string_view migration_sql(int version);

    struct statements;

    // Shared by the read side and the write transaction (gateway/sqlite_broadcasts.cpp).
    static std::optional<broadcast_record> read_broadcast(sqlite::connection& db, const std::string& uuid);

   private:
    // The read connection (the writer's when the database is in memory), for read-side queries.
    // Hold reader_mutex_ while using it.
    sqlite::connection& read_db() { return reader_ ? *reader_ : *writer_; }

    std::string path_;
    data_key key_;
    std::unique_ptr<sqlite::connection> writer_;
    int wal_pages_ = 0;  // frames in the log after the writer's last commit (its WAL hook's count)
    // Past this many pages (64 MB of 4 KiB pages) a commit checkpoints at once, writer or not.
    static constexpr int max_wal_pages = 16384;
    std::unique_ptr<statements> stmts_;
    std::mutex reader_mutex_;
    std::unique_ptr<sqlite::connection> reader_;
};

}  // namespace flowgate::gateway
