#include "gateway/sqlite.hpp"

namespace flowgate::gateway::sqlite {

bool error::is_resource_error() const {
    const int primary = code_ & 0xff;
    return primary == SQLITE_FULL || primary == SQLITE_IOERR || primary == SQLITE_BUSY ||
           primary == SQLITE_LOCKED || primary == SQLITE_CANTOPEN || primary == SQLITE_READONLY;
}

namespace {
// Before SQLite initialises (its first open): no memory statistics. Keeping them took a global
// mutex around each of SQLite's ~100 allocations per webhook, on every connection, and nothing
// here reads them.
void configure_library() {
    static const bool once = [] {
        sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);  // SQLITE_MISUSE if already initialised: harmless
        return true;
    }();
    (void)once;
}
}  // namespace

connection::connection(const std::string& path, bool read_only, const char* vfs) {
    configure_library();
    const int flags =
        (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX;
    const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, vfs);
    if (rc != SQLITE_OK) {
        const std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
        sqlite3_close(db_);
        db_ = nullptr;
        throw error(rc, "cannot open database " + path + ": " + msg);
    }
    sqlite3_extended_result_codes(db_, 1);
}

connection::~connection() { sqlite3_close_v2(db_); }

void connection::fail(int code, std::string_view context) const {
    throw error(code, std::string(context) + ": " + sqlite3_errmsg(db_));
}

void connection::exec(std::string_view sql) {
    const std::string s(sql);
    const int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
        fail(rc, "exec");
    }
}

std::int64_t connection::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
int connection::changes() const { return sqlite3_changes(db_); }

statement::statement(connection& db, std::string_view sql) : db_(db) {
    const int rc = sqlite3_prepare_v3(
        db.handle(), sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
    if (rc != SQLITE_OK) {
        db.fail(rc, "prepare");
    }
}

statement::~statement() { sqlite3_finalize(stmt_); }

statement& statement::bind(int index, std::int64_t value) {
    if (const int rc = sqlite3_bind_int64(stmt_, index, value); rc != SQLITE_OK) {
        db_.fail(rc, "bind");
    }
    return *this;
}

statement& statement::bind(int index, double value) {
    if (const int rc = sqlite3_bind_double(stmt_, index, value); rc != SQLITE_OK) {
        db_.fail(rc, "bind");
    }
    return *this;
}

statement& statement::bind(int index, std::string_view value) {
    if (const int rc =
            sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
        rc != SQLITE_OK) {
        db_.fail(rc, "bind");
    }
    return *this;
}

statement& statement::bind_blob(int index, std::string_view value) {
    // A zero-length blob still binds as a blob, not as NULL.
    static const char empty = 0;
    if (const int rc = sqlite3_bind_blob(stmt_,
                                         index,
                                         value.empty() ? &empty : value.data(),
                                         static_cast<int>(value.size()),
                                         SQLITE_TRANSIENT);
        rc != SQLITE_OK) {
        db_.fail(rc, "bind");
    }
    return *this;
}

statement& statement::bind_null(int index) {
    if (const int rc = sqlite3_bind_null(stmt_, index); rc != SQLITE_OK) {
        db_.fail(rc, "bind");
    }
    return *this;
}

bool statement::step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) {
        return true;
    }
    if (rc == SQLITE_DONE) {
        return false;
    }
    db_.fail(rc, "step");
}

void statement::run() {
    reset_guard guard(*this);
    while (step()) {
    }
}

void statement::reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

std::int64_t statement::column_int64(int index) const { return sqlite3_column_int64(stmt_, index); }
double statement::column_double(int index) const { return sqlite3_column_double(stmt_, index); }
std::string statement::column_text(int index) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, index));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, index))) : std::string{};
}
std::string statement::column_blob(int index) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, index));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, index))) : std::string{};
}
bool statement::column_is_null(int index) const { return sqlite3_column_type(stmt_, index) == SQLITE_NULL; }

transaction::transaction(connection& db, mode m) : db_(db) {
    db_.exec(m == mode::immediate ? "BEGIN IMMEDIATE" : "BEGIN");
}

transaction::~transaction() {
    if (!done_) {
        sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
}

void transaction::commit() {
    db_.exec("COMMIT");
    done_ = true;
}

}  // namespace flowgate::gateway::sqlite
