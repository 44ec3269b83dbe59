// The SQLite store's broadcasts (read side; the writes are sqlite_write_tx's in sqlite_store.cpp).

#include <set>

#include "gateway/sqlite_store.hpp"
#include "handlers/urn.hpp"

namespace flowgate::gateway {

namespace {

using json = nlohmann::json;

constexpr std::string_view broadcast_columns =
    "SELECT b.id, b.uuid, b.token_id, b.created_by, b.created_at, b.send_at, b.channel_id, b.text, "
    "b.audience, b.figures, b.recipients, b.total_segments, b.status, "
    "(SELECT count(*) FROM messages m WHERE m.broadcast_id = b.id AND m.state IN ('queued', 'sending')) "
    "FROM broadcasts b ";

// Columns as broadcast_columns selects them.
broadcast_record broadcast_from_row(const sqlite::statement& q) {
    broadcast_record b;
    b.id = q.column_int64(0);
    b.uuid = q.column_text(1);
    b.token_id = q.column_int64(2);
    b.created_by = q.column_text(3);
    b.created_at = from_millis(q.column_int64(4));
    b.send_at = from_millis(q.column_int64(5));
    b.channel_id = q.column_text(6);
    const auto text = json::parse(q.column_text(7), nullptr, false);
    if (text.is_object()) {
        for (const auto& [lang, t] : text.items()) {
            if (t.is_string()) {
                b.text[lang] = t.get<std::string>();
            }
        }
    }
    b.audience = json::parse(q.column_text(8), nullptr, false);
    b.figures = json::parse(q.column_text(9), nullptr, false);
    b.recipients = q.column_int64(10);
    b.total_segments = q.column_int64(11);
    b.cancelled = q.column_text(12) == "cancelled";
    b.pending = q.column_int64(13);
    return b;
}

// The ids of the contacts an audience names, as a SELECT with parameters ?1 and ?2.
std::string audience_select(const broadcast_audience& a) {
    using kind = broadcast_audience::kind;
    switch (a.type) {
        case kind::urns:
            return "SELECT value FROM json_each(?1)";
        case kind::group:
            return "SELECT contact_id FROM contact_groups WHERE name = ?1 OR (uuid != '' AND uuid = ?1)";
        case kind::workshop:
            return "SELECT contact_id FROM registrations WHERE workshop_id = ?1 AND status = ?2";
        case kind::flow:
            if (a.non_responders) {
                // Whose latest run of the flow did not complete (still active, expired,
                // interrupted, failed).
                return "SELECT r.contact_id FROM runs r WHERE r.flow_id = ?1 AND r.status != 'completed' "
                       "AND r.id = (SELECT max(l.id) FROM runs l WHERE l.contact_id = r.contact_id "
                       "AND l.flow_id = ?1)";
            }
            return "SELECT contact_id FROM runs WHERE flow_id = ?1";
        case kind::all:
            break;
    }
    return "SELECT id FROM contacts";
}

}  // namespace

std::optional<broadcast_record> sqlite_store::read_broadcast(sqlite::connection& db,
                                                             const std::string& uuid) {
    sqlite::statement q(db, std::string(broadcast_columns) + "WHERE b.uuid = ?1");
    q.bind(1, uuid);
    if (!q.step()) {
        return std::nullopt;
    }
    auto b = broadcast_from_row(q);
    sqlite::statement counts(db,
                             "SELECT state, coalesce(state = 'failed' AND error = 'cancelled', 0), count(*) "
                             "FROM messages WHERE broadcast_id = ?1 GROUP BY 1, 2");
    counts.bind(1, b.id);
    while (counts.step()) {
        const bool cancelled = counts.column_int64(1) != 0;
        b.messages[cancelled ? "cancelled" : counts.column_text(0)] += counts.column_int64(2);
    }
    return b;
}

broadcast_audience_rows sqlite_store::broadcast_contacts(const broadcast_audience& a) {
    std::lock_guard lock(reader_mutex_);
    auto& db = read_db();
    broadcast_audience_rows out;
    std::string first_parameter;
    if (a.type == broadcast_audience::kind::urns) {
        // Each URN as stored, or the same number under the other scheme (SMS and WhatsApp).
        sqlite::statement find(db, "SELECT contact_id FROM contact_urns WHERE urn_hash = ?1");
        std::set<std::int64_t> ids;
        for (const auto& urn : a.urns) {
            std::optional<std::int64_t> id;
            for (const auto& candidate : {std::optional<std::string>(urn), handlers::same_number_urn(urn)}) {
                if (!candidate || id) {
                    continue;
                }
                sqlite::reset_guard g(find);
                find.bind(1, key_.lookup(*candidate));
                if (find.step()) {
                    id = find.column_int64(0);
                }
            }
            if (id) {
                ids.insert(*id);
            } else {
                ++out.unknown;
            }
        }
        first_parameter = json(ids).dump();
    } else if (a.type == broadcast_audience::kind::group) {
        first_parameter = a.group;
    } else if (a.type == broadcast_audience::kind::workshop) {
        first_parameter = a.workshop_id;
    } else if (a.type == broadcast_audience::kind::flow) {
        first_parameter = a.flow_id;
    }
    sqlite::statement q(db,
                        "SELECT c.id, c.uuid, c.language, c.stopped, "
                        "coalesce(CASE WHEN json_type(c.fields, '$.timezone') = 'text' "
                        "THEN json_extract(c.fields, '$.timezone') END, ''), u.urn, u.channel_id "
                        "FROM contacts c LEFT JOIN contact_urns u ON u.contact_id = c.id WHERE c.id IN (" +
                            audience_select(a) + ") ORDER BY c.id, u.id");
    if (a.type != broadcast_audience::kind::all) {
        q.bind(1, first_parameter);
    }
    if (a.type == broadcast_audience::kind::workshop) {
        q.bind(2, flows::to_string(a.status));
    }
    while (q.step()) {
        const std::int64_t id = q.column_int64(0);
        if (out.contacts.empty() || out.contacts.back().id != id) {
            broadcast_contact c;
            c.id = id;
            c.uuid = q.column_text(1);
            c.language = q.column_text(2);
            c.stopped = q.column_int64(3) != 0;
            c.timezone = q.column_text(4);
            out.contacts.push_back(std::move(c));
        }
        if (!q.column_is_null(5)) {
            out.contacts.back().urns.emplace_back(key_.open(q.column_blob(5), sealed_column::contact_urn),
                                                  q.column_text(6));
        }
    }
    return out;
}

std::vector<broadcast_record> sqlite_store::list_broadcasts(std::size_t limit) {
    std::lock_guard lock(reader_mutex_);
    sqlite::statement q(read_db(),
                        std::string(broadcast_columns) + "ORDER BY b.created_at DESC, b.id DESC LIMIT ?1");
    q.bind(1, static_cast<std::int64_t>(limit));
    std::vector<broadcast_record> out;
    while (q.step()) {
        out.push_back(broadcast_from_row(q));
    }
    return out;
}

std::optional<broadcast_record> sqlite_store::find_broadcast(const std::string& uuid) {
    std::lock_guard lock(reader_mutex_);
    return read_broadcast(read_db(), uuid);
}

}  // namespace flowgate::gateway
