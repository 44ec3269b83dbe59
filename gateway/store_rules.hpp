#pragma once
// Rules every store applies the same way: a message state by name, which way a status callback
// may move a message, a session's parent runs as stored, and the SQL of the claim and the
// retention purge (written once for both dialects: `now` and `cutoff` name the statement's
// parameter, "?1" or "$1").

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/types.hpp"

namespace flowgate::gateway {

inline std::optional<msg_state> state_from_string(std::string_view s) {
    for (auto st : {msg_state::queued,
                    msg_state::sending,
                    msg_state::sent,
                    msg_state::delivered,
                    msg_state::failed,
                    msg_state::unknown,
                    msg_state::expired}) {
        if (s == to_string(st)) {
            return st;
        }
    }
    return std::nullopt;
}

// Whether a status callback may move a message from `from` to `to`: only forward. A report may
// skip states (delivered before sent) and may settle an unknown send; failed, delivered and
// expired are final.
inline bool is_forward(msg_state from, msg_state to) {
    auto rank = [](msg_state s) {
        switch (s) {
            case msg_state::queued:
                return 0;
            case msg_state::sending:
            case msg_state::unknown:
                return 1;
            case msg_state::sent:
                return 2;
            case msg_state::delivered:
            case msg_state::failed:
            case msg_state::expired:
                return 3;
        }
        return 3;
    };
    return rank(to) > rank(from);
}

// How a store's SQL differs in the claim.
enum class sql_dialect { sqlite, postgres };

// The condition on an outbound message `m` that it may be claimed now: one contact's messages go out
// in order, one at a time, so not while an earlier one of theirs is queued or sending...
inline std::string claimable_sql(std::string_view now, sql_dialect dialect) {
    return "NOT EXISTS (SELECT 1 FROM messages p WHERE p.direction = 'out' "
           "AND p.state IN ('queued', 'sending') AND p.contact_id = m.contact_id AND p.id < m.id "
           // ...except a first attempt held back by quiet hours: answers do not wait for it.
           "AND NOT (p.state = 'queued' AND p.attempts = 0 AND p.next_attempt_at > " +
           std::string(now) + ")" +
           // PostgreSQL turns NOT EXISTS into an anti-join, which it may plan as one read of every
           // pending message for each message claimed: it did while a new database had no
           // statistics yet (210 ms a claim with 8,700 queued, against 0.2 ms). OFFSET 0 keeps it a
           // subquery asked for each message, which reads that contact's entries of
           // messages_pending_by_contact only, whatever the statistics say. SQLite asks it so anyway.
           (dialect == sql_dialect::postgres ? " OFFSET 0)" : ")");
}

// The claim's read of one kind of due message: a participant's (kind 0) or a broadcast's (kind 1),
// the first `limit` in order from that kind's own index (messages_outbox_direct,
// messages_outbox_broadcast), as rows (id, kind, due_at), or as `columns` of `m` when given. Each
// store adds its own locking or nesting around it.
inline std::string due_messages_sql(sql_dialect dialect,
                                    bool broadcast,
                                    std::string_view now,
                                    std::string_view limit,
                                    std::string_view columns = {}) {
    const std::string read = columns.empty() ? "m.id, " + std::string(broadcast ? "1" : "0") +
                                                   " AS kind, m.next_attempt_at AS due_at"
                                             : std::string(columns);
    return "SELECT " + read +
           " FROM messages m WHERE m.direction = 'out' "
           "AND m.state = 'queued' AND m.broadcast_id " +
           (broadcast ? "IS NOT NULL" : "IS NULL") + " AND m.next_attempt_at <= " + std::string(now) +
           " AND " + claimable_sql(now, dialect) + " ORDER BY m.next_attempt_at, m.id LIMIT " +
           std::string(limit);
}

// Retention: the messages whose text and URN may go, stored before `cutoff` and settled (nothing
// will read them again: a queued or sending message will).
inline std::string purgeable_messages_sql(std::string_view cutoff) {
    return "created_at < " + std::string(cutoff) +
           " AND length(text) > 0 AND (direction = 'in' OR state NOT IN ('queued', 'sending'))";
}

// Retention: the ids of the runs that finished before `cutoff` and are no longer anyone's
// conversation (a run still in a session is kept).
inline std::string finished_runs_sql(std::string_view cutoff) {
    return "SELECT id FROM runs WHERE status <> 'active' AND coalesce(exited_at, updated_at) < " +
           std::string(cutoff) + " AND id NOT IN (SELECT run_id FROM sessions)";
}

// A session's parent runs (the flows that entered this one) as the sessions table keeps them: a
// JSON array of run ids. Most sessions have none, "[]", which is neither built nor parsed.
inline std::string parent_runs_json(const std::vector<std::int64_t>& ids) {
    return ids.empty() ? "[]" : nlohmann::json(ids).dump();
}

// What parent_runs_json wrote; anything else (not an array, not integers) reads as no parents.
inline std::vector<std::int64_t> parent_runs_from_json(std::string_view text) {
    std::vector<std::int64_t> ids;
    if (text == "[]") {
        return ids;
    }
    const auto parsed = nlohmann::json::parse(text, nullptr, false);
    if (parsed.is_array()) {
        for (const auto& id : parsed) {
            if (id.is_number_integer()) {
                ids.push_back(id.get<std::int64_t>());
            }
        }
    }
    return ids;
}

}  // namespace flowgate::gateway
