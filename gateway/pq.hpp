#pragma once
// A thin RAII layer over libpq: a connection whose statements are prepared once (by their SQL) and
// run with typed, binary parameters and binary results, and a result that frees itself. Errors
// throw pq::error carrying the SQLSTATE and the server's primary message only: never the
// connection string (it may hold a password), never a bound value, never the DETAIL line (which
// quotes key values).

#include <libpq-fe.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace flowgate::gateway::pq {

class error : public std::runtime_error {
   public:
    error(std::string sqlstate, const std::string& what, bool connection_lost = false)
        : std::runtime_error(what), sqlstate_(std::move(sqlstate)), connection_lost_(connection_lost) {}
    const std::string& sqlstate() const { return sqlstate_; }
    // The connection is gone, the server is shutting down or out of resources: the transaction is
    // in doubt; the caller answers 503 and the provider retries.
    bool is_resource_error() const;
    // A lock another transaction holds was not granted in time (lock_timeout), or a deadlock was
    // broken: the job may run again in a transaction of its own.
    bool is_lock_conflict() const;
    bool is_unique_violation() const { return sqlstate_ == "23505"; }

   private:
    std::string sqlstate_;
    bool connection_lost_;
};

// A value sent as bytea (sealed values); a std::string is sent as text.
struct bytes {
    std::string_view data;
};

// One parameter, in PostgreSQL's binary format, with its type.
struct param {
    Oid type = 0;
    bool null = false;
    std::string value;
};

param to_param(std::int64_t v);
inline param to_param(int v) { return to_param(static_cast<std::int64_t>(v)); }
inline param to_param(std::size_t v) { return to_param(static_cast<std::int64_t>(v)); }
param to_param(bool v);
param to_param(std::string_view v);
inline param to_param(const std::string& v) { return to_param(std::string_view(v)); }
inline param to_param(const char* v) { return to_param(std::string_view(v)); }
param to_param(bytes v);
template <class T>
param to_param(const std::optional<T>& v) {
    if (v) {
        return to_param(*v);
    }
    param p = to_param(T{});
    p.null = true;
    p.value.clear();
    return p;
}

class result {
   public:
    result() = default;
    explicit result(PGresult* r) : r_(r) {}
    ~result() { PQclear(r_); }
    result(result&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
    result& operator=(result&& o) noexcept {
        std::swap(r_, o.r_);
        return *this;
    }
    result(const result&) = delete;
    result& operator=(const result&) = delete;

    int rows() const { return r_ ? PQntuples(r_) : 0; }
    int columns() const { return r_ ? PQnfields(r_) : 0; }
    bool empty() const { return rows() == 0; }
    // Whether the statement's command tag is `tag` ("COMMIT": not a failed transaction's ROLLBACK).
    bool is_command(const char* tag) const;
    // Rows changed by an INSERT, UPDATE or DELETE.
    std::int64_t affected() const;
    bool is_null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
    std::int64_t int64(int row, int col) const;
    bool boolean(int row, int col) const;
    std::string text(int row, int col) const;  // text, varchar, json as text
    std::string blob(int row, int col) const;  // bytea
    // Any column: a number in decimal (a boolean as 1 or 0), anything else as its bytes.
    std::string as_string(int row, int col) const;
    std::optional<std::int64_t> opt_int64(int row, int col) const {
        return is_null(row, col) ? std::nullopt : std::optional(int64(row, col));
    }

   private:
    PGresult* r_ = nullptr;
};

class connection {
   public:
    // `url`: a libpq connection URI or key=value string. Never stored in an error message.
    explicit connection(std::string url);
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    // Statements without parameters, several separated by ';' allowed (schema, BEGIN, SET).
    void exec(std::string_view sql);
    // One statement with parameters, prepared on first use on this connection.
    result query(std::string_view sql, const std::vector<param>& params);
    template <class... A>
    result q(std::string_view sql, const A&... a) {
        return query(sql, std::vector<param>{to_param(a)...});
    }
    // A statement whose answer is not needed at once: sent in libpq's pipeline mode, without waiting
    // for the server, and answered at the next sync() (which query(), exec(), for_each() and
    // commit() do first). Its rows, if `out` is given, are put there by that sync; an error of any
    // deferred statement is thrown by it, and the statements after the failed one are not run
    // (the server skips them). So a job's statements go in one round trip instead of one each.
    // `out` must live until that sync: the caller syncs before it leaves the scope of `out`, and
    // nothing deferred is left behind by a throw from here or from a sync.
    void defer(std::string_view sql, const std::vector<param>& params, result* out = nullptr);
    template <class... A>
    void d(std::string_view sql, const A&... a) {
        defer(sql, std::vector<param>{to_param(a)...});
    }
    template <class... A>
    void d_into(result& out, std::string_view sql, const A&... a) {
        defer(sql, std::vector<param>{to_param(a)...}, &out);
    }
    // Waits for every deferred statement's answer (one round trip); throws the first error.
    void sync();
    // The same, for a transaction about to be rolled back: statement errors are not thrown (the
    // rollback undoes the statements anyway), only a lost connection.
    void discard();
    bool pending() const { return !deferred_.empty(); }
    // Streams the rows one at a time (single-row mode): nothing is gathered in memory.
    void for_each(std::string_view sql,
                  const std::vector<param>& params,
                  const std::function<void(const result&)>& row);
    // COMMIT, checked: an aborted transaction's COMMIT is a ROLLBACK, which throws here.
    void commit();

    // Whether the connection is still up as far as libpq knows.
    bool ok() const { return conn_ && PQstatus(conn_) == CONNECTION_OK; }
    // Connects again (prepared statements are forgotten). Throws pq::error.
    void reconnect();

   private:
    void connect();
    [[noreturn]] void fail(PGresult* r, std::string_view context);
    // Reads the deferred statements' answers; the first error, if any (the connection is then
    // usable again, out of pipeline mode, unless it was lost).
    std::optional<error> drain();
    const std::string& prepare(std::string_view sql, const std::vector<param>& params);

    std::string url_;
    PGconn* conn_ = nullptr;
    struct prepared {
        std::string name;
        std::vector<Oid> types;
    };
    std::map<std::string, prepared, std::less<>> prepared_;
    static constexpr std::size_t max_deferred = 256;
    std::vector<result*> deferred_;  // in the order sent; nullptr: the rows are not wanted
};

}  // namespace flowgate::gateway::pq
