#include "gateway/pq.hpp"

#include <cstring>

namespace flowgate::gateway::pq {

namespace {

// Type OIDs (pg_type.h, stable across versions).
constexpr Oid bool_oid = 16;
constexpr Oid bytea_oid = 17;
constexpr Oid int8_oid = 20;
constexpr Oid int2_oid = 21;
constexpr Oid int4_oid = 23;
constexpr Oid text_oid = 25;
constexpr Oid json_oid = 114;
constexpr Oid varchar_oid = 1043;
constexpr Oid jsonb_oid = 3802;
constexpr Oid name_oid = 19;
constexpr Oid bpchar_oid = 1042;

std::uint64_t read_be(const char* p, int n) {
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) {
        v = (v << 8) | static_cast<unsigned char>(p[i]);
    }
    return v;
}

// The server's primary message and SQLSTATE: no DETAIL (it quotes values), no HINT.
std::pair<std::string, std::string> describe(PGconn* conn, PGresult* r) {
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    const char* primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    std::string message = primary ? primary : "";
    if (message.empty()) {
        // A client-side failure (the connection broke): libpq's own message names no values.
        message = conn ? PQerrorMessage(conn) : "no connection";
        while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
            message.pop_back();
        }
    }
    return {state ? state : "", message};
}

}  // namespace

bool error::is_resource_error() const {
    if (connection_lost_) {
        return true;
    }
    // 08: connection exception; 53: insufficient resources (disk full, out of memory);
    // 57P01-57P03: the server is shutting down or cannot connect now; 58: system error (I/O).
    const std::string cls = sqlstate_.substr(0, 2);
    return cls == "08" || cls == "53" || cls == "58" || sqlstate_ == "57P01" || sqlstate_ == "57P02" ||
           sqlstate_ == "57P03";
}

bool error::is_lock_conflict() const {
    return sqlstate_ == "55P03" || sqlstate_ == "40P01" || sqlstate_ == "40001";
}

param to_param(std::int64_t v) {
    param p{int8_oid, false, std::string(8, '\0')};
    auto u = static_cast<std::uint64_t>(v);
    for (int i = 7; i >= 0; --i) {
        p.value[static_cast<std::size_t>(i)] = static_cast<char>(u & 0xff);
        u >>= 8;
    }
    return p;
}

param to_param(bool v) { return {bool_oid, false, std::string(1, v ? '\1' : '\0')}; }

param to_param(std::string_view v) { return {text_oid, false, std::string(v)}; }

param to_param(bytes v) { return {bytea_oid, false, std::string(v.data)}; }

bool result::is_command(const char* tag) const {
    return r_ != nullptr && std::strcmp(PQcmdStatus(r_), tag) == 0;
}

std::int64_t result::affected() const {
    const char* n = r_ ? PQcmdTuples(r_) : "";
    return *n ? std::stoll(n) : 0;
}

std::int64_t result::int64(int row, int col) const {
    const char* p = PQgetvalue(r_, row, col);
    switch (PQftype(r_, col)) {
        case int8_oid:
            return static_cast<std::int64_t>(read_be(p, 8));
        case int4_oid:
            return static_cast<std::int32_t>(read_be(p, 4));
        case int2_oid:
            return static_cast<std::int16_t>(read_be(p, 2));
        case bool_oid:
            return *p != 0;
        default:
            throw error("", "column " + std::to_string(col) + " is not an integer");
    }
}

bool result::boolean(int row, int col) const {
    if (PQftype(r_, col) != bool_oid) {
        return int64(row, col) != 0;
    }
    return *PQgetvalue(r_, row, col) != 0;
}

std::string result::text(int row, int col) const {
    const char* p = PQgetvalue(r_, row, col);
    const auto n = static_cast<std::size_t>(PQgetlength(r_, row, col));
    switch (PQftype(r_, col)) {
        case text_oid:
        case varchar_oid:
        case json_oid:
        case name_oid:
        case bpchar_oid:
        case bytea_oid:
            return std::string(p, n);
        case jsonb_oid:
            // Binary jsonb: a version byte, then the text.
            return n > 0 ? std::string(p + 1, n - 1) : std::string{};
        default:
            throw error("", "column " + std::to_string(col) + " is not text");
    }
}

std::string result::blob(int row, int col) const {
    return std::string(PQgetvalue(r_, row, col), static_cast<std::size_t>(PQgetlength(r_, row, col)));
}

std::string result::as_string(int row, int col) const {
    switch (PQftype(r_, col)) {
        case int8_oid:
        case int4_oid:
        case int2_oid:
        case bool_oid:
            return std::to_string(int64(row, col));
        case jsonb_oid:
            return text(row, col);
        default:
            return blob(row, col);
    }
}

connection::connection(std::string url) : url_(std::move(url)) { connect(); }

connection::~connection() { PQfinish(conn_); }

void connection::connect() {
    PQfinish(conn_);
    conn_ = nullptr;
    prepared_.clear();
    deferred_.clear();
    // libpq's parse errors quote the string, which may hold a password: checked first, told apart.
    char* parse_error = nullptr;
    PQconninfoOption* options = PQconninfoParse(url_.c_str(), &parse_error);
    PQfreemem(parse_error);
    if (!options) {
        throw error("08001", "cannot connect to PostgreSQL: the connection string is malformed", true);
    }
    PQconninfoFree(options);
    conn_ = PQconnectdb(url_.c_str());
    if (PQstatus(conn_) != CONNECTION_OK) {
        // libpq's message names the host and the reason, never the password.
        std::string message = PQerrorMessage(conn_);
        while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
            message.pop_back();
        }
        PQfinish(conn_);
        conn_ = nullptr;
        throw error("08001", "cannot connect to PostgreSQL: " + message, true);
    }
    // The server's notices ("relation already exists, skipping") are not ours to print.
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
}

void connection::reconnect() { connect(); }

void connection::fail(PGresult* r, std::string_view context) {
    auto [state, message] = describe(conn_, r);
    PQclear(r);
    const bool lost = !conn_ || PQstatus(conn_) != CONNECTION_OK;
    throw error(state, std::string(context) + ": " + (state.empty() ? "" : state + " ") + message, lost);
}

void connection::exec(std::string_view sql) {
    if (!conn_) {
        throw error("08003", "not connected to PostgreSQL", true);
    }
    sync();
    const std::string s(sql);
    PGresult* r = PQexec(conn_, s.c_str());
    const auto status = PQresultStatus(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        fail(r, "exec");
    }
    PQclear(r);
}

void connection::commit() {
    if (!conn_) {
        throw error("08003", "not connected to PostgreSQL", true);
    }
    // With deferred statements, the COMMIT goes with them: one round trip. If one of them failed,
    // the server skips the COMMIT and the transaction stays open, aborted, for the caller's
    // ROLLBACK.
    result r;
    if (pending()) {
        defer("COMMIT", {}, &r);
        sync();
    } else {
        PGresult* raw = PQexec(conn_, "COMMIT");
        if (PQresultStatus(raw) != PGRES_COMMAND_OK) {
            fail(raw, "commit");
        }
        r = result(raw);
    }
    if (!r.is_command("COMMIT")) {
        throw error("25P02", "commit: the transaction had failed and was rolled back");
    }
}

const std::string& connection::prepare(std::string_view sql, const std::vector<param>& params) {
    if (!conn_) {
        throw error("08003", "not connected to PostgreSQL", true);
    }
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
        sync();  // PQprepare waits for its answer, which pipeline mode does not allow
        prepared p;
        p.name = "s" + std::to_string(prepared_.size() + 1);
        for (const auto& v : params) {
            p.types.push_back(v.type);
        }
        const std::string s(sql);
        PGresult* r =
            PQprepare(conn_, p.name.c_str(), s.c_str(), static_cast<int>(p.types.size()), p.types.data());
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fail(r, "prepare");
        }
        PQclear(r);
        it = prepared_.emplace(s, std::move(p)).first;
    }
    if (it->second.types.size() != params.size()) {
        throw error("", "a statement was run with another number of parameters");
    }
    for (std::size_t i = 0; i < params.size(); ++i) {
        if (params[i].type != it->second.types[i]) {
            throw error("", "a statement was run with parameters of other types");
        }
    }
    return it->second.name;
}

namespace {
struct raw_params {
    std::vector<const char*> values;
    std::vector<int> lengths;
    std::vector<int> formats;

    explicit raw_params(const std::vector<param>& params) {
        for (const auto& p : params) {
            values.push_back(p.null ? nullptr : p.value.data());
            lengths.push_back(static_cast<int>(p.value.size()));
            formats.push_back(1);
        }
    }
};
}  // namespace

result connection::query(std::string_view sql, const std::vector<param>& params) {
    if (pending()) {
        // After the deferred statements, in the same round trip.
        result r;
        defer(sql, params, &r);
        sync();
        return r;
    }
    const std::string& name = prepare(sql, params);
    const raw_params raw(params);
    PGresult* r = PQexecPrepared(conn_,
                                 name.c_str(),
                                 static_cast<int>(params.size()),
                                 raw.values.data(),
                                 raw.lengths.data(),
                                 raw.formats.data(),
                                 1);
    const auto status = PQresultStatus(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        fail(r, "query");
    }
    return result(r);
}

void connection::defer(std::string_view sql, const std::vector<param>& params, result* out) {
    if (deferred_.size() >= max_deferred) {
        // A long run of them (a broadcast's messages) is answered in parts: the answers wait in
        // the server's socket while libpq writes, and must not fill it.
        sync();
    }
    const std::string* name = nullptr;
    try {
        name = &prepare(sql, params);
    } catch (...) {
        // Nothing deferred outlives the throw: its rows' places may be the caller's locals.
        drain();
        throw;
    }
    if (!pending() && PQenterPipelineMode(conn_) != 1) {
        fail(nullptr, "query");
    }
    const raw_params raw(params);
    if (!PQsendQueryPrepared(conn_,
                             name->c_str(),
                             static_cast<int>(params.size()),
                             raw.values.data(),
                             raw.lengths.data(),
                             raw.formats.data(),
                             1)) {
        // Not sent: what was sent before still has answers to be read.
        auto [state, message] = describe(conn_, nullptr);
        const error sent_error(state, "query: " + message, !ok());
        const auto earlier = drain();
        throw earlier ? *earlier : sent_error;
    }
    deferred_.push_back(out);
}

std::optional<error> connection::drain() {
    if (!pending()) {
        return std::nullopt;
    }
    const auto outs = std::move(deferred_);
    deferred_.clear();
    std::optional<error> failed;
    auto lost = [&] {
        if (!failed || !failed->is_resource_error()) {
            auto [state, message] = describe(conn_, nullptr);
            failed.emplace(state, "query: " + message, true);
        }
        return failed;
    };
    if (PQpipelineSync(conn_) != 1) {
        return lost();
    }
    for (result* out : outs) {
        // One statement's result, then a null.
        while (PGresult* r = PQgetResult(conn_)) {
            const auto status = PQresultStatus(r);
            if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
                if (out != nullptr) {
                    *out = result(r);
                } else {
                    PQclear(r);
                }
            } else if (status == PGRES_PIPELINE_ABORTED) {
                PQclear(r);  // skipped by the server after an earlier error
            } else {
                auto [state, message] = describe(conn_, r);
                PQclear(r);
                if (!failed) {
                    failed.emplace(state, "query: " + (state.empty() ? "" : state + " ") + message, !ok());
                }
            }
            if (!ok()) {
                return lost();
            }
        }
        if (!ok()) {
            return lost();
        }
    }
    PGresult* r = PQgetResult(conn_);
    const bool synced = r != nullptr && PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    PQclear(r);
    if (!synced || PQexitPipelineMode(conn_) != 1) {
        return lost();
    }
    return failed;
}

void connection::sync() {
    if (auto failed = drain()) {
        throw *failed;
    }
}

void connection::discard() {
    if (auto failed = drain(); failed && failed->is_resource_error()) {
        throw *failed;
    }
}

void connection::for_each(std::string_view sql,
                          const std::vector<param>& params,
                          const std::function<void(const result&)>& row) {
    sync();
    const std::string& name = prepare(sql, params);
    const raw_params raw(params);
    if (!PQsendQueryPrepared(conn_,
                             name.c_str(),
                             static_cast<int>(params.size()),
                             raw.values.data(),
                             raw.lengths.data(),
                             raw.formats.data(),
                             1) ||
        !PQsetSingleRowMode(conn_)) {
        fail(nullptr, "query");
    }
    std::optional<error> failed;
    while (PGresult* r = PQgetResult(conn_)) {
        const auto status = PQresultStatus(r);
        if (status == PGRES_SINGLE_TUPLE && !failed) {
            const result one(r);
            try {
                row(one);
            } catch (...) {
                // Drain the connection before the exception leaves: it must stay usable.
                while (PGresult* rest = PQgetResult(conn_)) {
                    PQclear(rest);
                }
                throw;
            }
        } else if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
            PQclear(r);
        } else if (!failed) {
            auto [state, message] = describe(conn_, r);
            PQclear(r);
            failed.emplace(state, "query: " + message, !ok());
        } else {
            PQclear(r);
        }
    }
    if (failed) {
        throw *failed;
    }
}

}  // namespace flowgate::gateway::pq
