#pragma once
// A thin RAII layer over SQLite: connection, statement (prepared once, reset after use) and
// transaction (rolled back in its destructor unless committed). Errors throw sqlite::error; bound
// values never appear in error messages.

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace flowgate::gateway::sqlite {

class error : public std::runtime_error {
   public:
    error(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
    int code() const { return code_; }
    // Disk full or an I/O error: the caller answers 503 and the provider retries.
    bool is_resource_error() const;

   private:
    int code_;
};

// Sets SQLite up for this process before its first use: it must run before anything initialises
// the library (opening a connection, finding or registering a VFS), or it is silently too late.
// Idempotent; connection's constructor and gathering_vfs() call it.
void configure_library();

class connection {
   public:
    explicit connection(const std::string& path, bool read_only = false, const char* vfs = nullptr);
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    void exec(std::string_view sql);
    sqlite3* handle() const { return db_; }
    std::int64_t last_insert_rowid() const;
    int changes() const;
    [[noreturn]] void fail(int code, std::string_view context) const;

   private:
    sqlite3* db_ = nullptr;
};

class statement {
   public:
    statement(connection& db, std::string_view sql);
    ~statement();
    statement(const statement&) = delete;
    statement& operator=(const statement&) = delete;

    // Parameters are 1-based, as in SQLite.
    statement& bind(int index, std::int64_t value);
    statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
    statement& bind(int index, double value);
    statement& bind(int index, std::string_view value);
    statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
    statement& bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }
    statement& bind_blob(int index, std::string_view value);
    statement& bind_null(int index);
    template <class T>
    statement& bind(int index, const std::optional<T>& value) {
        return value ? bind(index, *value) : bind_null(index);
    }

    // true: a row is available; false: done.
    bool step();
    // Runs to completion (for writes) and resets.
    void run();
    void reset();

    std::int64_t column_int64(int index) const;
    double column_double(int index) const;
    std::string column_text(int index) const;
    std::string column_blob(int index) const;
    bool column_is_null(int index) const;

   private:
    void mark_bound(int index);
    void null_unbound();

    connection& db_;
    sqlite3_stmt* stmt_ = nullptr;
    // A parameter not bound since the last reset is NULL, as SQLite's sqlite3_clear_bindings would
    // make it, but without freeing every bound value's buffer: a statement used again binds its
    // texts and blobs into the buffers its last use left (the writer binds about 18 of them a
    // webhook, in about 8 statements, and freed and allocated each one). Parameters 1 to 64 are
    // tracked one bit each; a statement with more is cleared as before.
    int parameters_ = 0;
    std::uint64_t bound_ = 0;
    bool fresh_ = true;  // no step since the last reset
};

// A statement's reset-on-scope-exit, so an exception leaves it reusable.
class reset_guard {
   public:
    explicit reset_guard(statement& s) : s_(s) {}
    ~reset_guard() { s_.reset(); }

   private:
    statement& s_;
};

class transaction {
   public:
    enum class mode { deferred, immediate };
    explicit transaction(connection& db, mode m = mode::immediate);
    ~transaction();
    void commit();

   private:
    connection& db_;
    bool done_ = false;
};

}  // namespace flowgate::gateway::sqlite
