// The SQLite store's read side for contacts (GET /api/v1/contacts): search and one contact.

#include <nlohmann/json.hpp>

#include "gateway/sqlite_store.hpp"

namespace flowgate::gateway {

namespace {

// Columns id, uuid, name, language, stopped, fields, created_at.
constexpr std::string_view contact_columns =
    "SELECT c.id, c.uuid, c.name, c.language, c.stopped, c.fields, c.created_at FROM contacts c ";

contact_details details_from_row(const sqlite::statement& q) {
    contact_details d;
    d.contact = contact_from_row(q);
    d.created_at = from_millis(q.column_int64(6));
    return d;
}

// URNs, oldest first, and groups by name.
void add_urns_and_groups(sqlite::connection& db,
                         const data_key& key,
                         std::vector<contact_details>& contacts) {
    sqlite::statement urns(db, "SELECT urn FROM contact_urns WHERE contact_id = ?1 ORDER BY id");
    sqlite::statement groups(db, "SELECT uuid, name FROM contact_groups WHERE contact_id = ?1 ORDER BY name");
    for (auto& d : contacts) {
        {
            sqlite::reset_guard g(urns);
            urns.bind(1, d.contact.id);
            while (urns.step()) {
                d.urns.push_back(key.open(urns.column_blob(0), sealed_column::contact_urn));
            }
        }
        sqlite::reset_guard g(groups);
        groups.bind(1, d.contact.id);
        while (groups.step()) {
            d.contact.groups.push_back({groups.column_text(0), groups.column_text(1)});
        }
    }
}

}  // namespace

std::vector<contact_details> sqlite_store::find_contacts(const contact_query& q) {
    std::string sql(contact_columns);
    sql += "WHERE c.id > ?1";
    if (!q.urns.empty()) {
        sql +=
            " AND c.id IN (SELECT u.contact_id FROM contact_urns u WHERE u.urn_hash IN (SELECT value FROM "
            "json_each(?2)))";
    }
    if (!q.group.empty()) {
        sql += " AND EXISTS (SELECT 1 FROM contact_groups g WHERE g.contact_id = c.id AND g.name = ?3)";
    }
    if (q.field) {
        sql += " AND json_extract(c.fields, '$.' || json_quote(?4)) = ?5";
    }
    if (q.stopped) {
        sql += " AND c.stopped = ?6";
    }
    if (!q.name_part.empty()) {
        sql += " AND instr(lower(c.name), lower(?7)) > 0";
    }
    sql += " ORDER BY c.id LIMIT ?8";

    std::lock_guard lock(reader_mutex_);
    auto& db = read_db();
    sqlite::statement s(db, sql);
    s.bind(1, q.after);
    if (!q.urns.empty()) {
        // By their keyed hashes: the URNs themselves are sealed.
        std::vector<std::string> hashes;
        for (const auto& urn : q.urns) {
            hashes.push_back(key_.lookup(urn));
        }
        s.bind(2, nlohmann::json(hashes).dump());
    }
    if (!q.group.empty()) {
        s.bind(3, q.group);
    }
    if (q.field) {
        s.bind(4, q.field->first).bind(5, q.field->second);
    }
    if (q.stopped) {
        s.bind(6, *q.stopped ? 1 : 0);
    }
    if (!q.name_part.empty()) {
        s.bind(7, q.name_part);
    }
    s.bind(8, static_cast<std::int64_t>(q.limit));
    std::vector<contact_details> out;
    while (s.step()) {
        out.push_back(details_from_row(s));
    }
    add_urns_and_groups(db, key_, out);
    return out;
}

std::optional<contact_details> sqlite_store::find_contact(const std::string& uuid) {
    std::lock_guard lock(reader_mutex_);
    auto& db = read_db();
    std::vector<contact_details> found;
    {
        sqlite::statement s(db, std::string(contact_columns) + "WHERE c.uuid = ?1");
        s.bind(1, uuid);
        if (!s.step()) {
            return std::nullopt;
        }
        found.push_back(details_from_row(s));
    }
    add_urns_and_groups(db, key_, found);
    sqlite::statement r(db,
                        "SELECT r.workshop_id, r.status FROM registrations r JOIN workshops w ON "
                        "w.id = r.workshop_id WHERE r.contact_id = ?1 ORDER BY w.starts_at, w.id");
    r.bind(1, found.front().contact.id);
    while (r.step()) {
        if (const auto status = flows::registration_status_from(r.column_text(1))) {
            found.front().registrations.emplace_back(r.column_text(0), *status);
        }
    }
    return std::move(found.front());
}

}  // namespace flowgate::gateway
