#include "gateway/sqlite.hpp"

#include <bit>
#include <cstdint>

namespace flowgate::gateway::sqlite {

bool error::is_resource_error() const {
    const int primary = code_ & 0xff;
    return primary == SQLITE_FULL || primary == SQLITE_IOERR || primary == SQLITE_BUSY ||
           primary == SQLITE_LOCKED || primary == SQLITE_CANTOPEN || primary == SQLITE_READONLY;
}

// Before SQLite initialises: no memory statistics. Keeping them takes a global mutex around each
// of SQLite's allocations, on every connection, and nothing here reads them.
// (sqlite3_vfs_find initialises the library too: the writer's VFS is looked up before its
// connection opens, which for a while left the statistics on.)
void configure_library() {
    static const bool once = [] {
        sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);  // SQLITE_MISUSE if already initialised
        return true;
    }();
    (void)once;
}

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
    parameters_ = sqlite3_bind_parameter_count(stmt_);
}

void statement::mark_bound(int index) {
    if (index >= 1 && index <= 64) {
        bound_ |= std::uint64_t{1} << (index - 1);
    }
}

void statement::null_unbound() {
    if (parameters_ > 64) {
        return;  // reset() cleared them all
    }
    const std::uint64_t all = parameters_ == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << parameters_) - 1;
    for (std::uint64_t missing = all & ~bound_; missing != 0; missing &= missing - 1) {
        const int index = std::countr_zero(missing) + 1;
        if (const int rc = sqlite3_bind_null(stmt_, index); rc != SQLITE_OK) {
            db_.fail(rc, "bind");
        }
    }
}

statement::~statement() { sqlite3_finalize(stmt_); }

statement& statement::bind(int index, std::int64_t value) {
    if (const int rc = sqlite3_bind_int64(stmt_, index, value); rc != SQLITE_OK) {
        db_.fail(rc, "bind");
    }
    mark_bound(index);
    return *this;
}

statement& statement::bind(int index, double value) {
    if (const int rc = sqlite3_bind_double(stmt_, index, value); rc != SQLITE_OK) {
        db_.fail(rc, "bind");
    }
    mark_bound(index);
    return *this;
}

statement& statement::bind(int index, std::string_view value) {
    if (const int rc =
            sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
        rc != SQLITE_OK) {
        db_.fail(rc, "bind");
    }
    mark_bound(index);
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
    mark_bound(index);
    return *this;
}

statement& statement::bind_null(int index) {
    if (const int rc = sqlite3_bind_null(stmt_, index); rc != SQLITE_OK) {
        db_.fail(rc, "bind");
    }
    mark_bound(index);
    return *this;
}

bool statement::step() {
    if (fresh_) {
        fresh_ = false;
        null_unbound();
    }
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
    if (parameters_ > 64) {
        sqlite3_clear_bindings(stmt_);
    }
    bound_ = 0;
    fresh_ = true;
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
