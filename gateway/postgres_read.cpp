// The PostgreSQL store's read side: summaries, tokens, workshops, results, contacts, broadcasts and
// the message export, on the read connection.

#include <nlohmann/json.hpp>
#include <set>

#include "gateway/postgres_store.hpp"
#include "gateway/sqlite_store.hpp"  // sealed_column
#include "handlers/urn.hpp"

namespace flowgate::gateway {

namespace {

using json = nlohmann::json;

// Columns id, uuid, name, language, stopped, fields (text), created_at.
constexpr std::string_view contact_columns =
    "SELECT c.id, c.uuid, c.name, c.language, c.stopped, c.fields::text, c.created_at FROM contacts c ";

contact_details details_from(const pq::result& r, int i) {
    contact_details d;
    d.contact.id = r.int64(i, 0);
    d.contact.uuid = r.text(i, 1);
    d.contact.name = r.text(i, 2);
    d.contact.language = r.text(i, 3);
    d.contact.stopped = r.boolean(i, 4);
    const auto fields = json::parse(r.text(i, 5), nullptr, false);
    if (fields.is_object()) {
        for (const auto& [k, v] : fields.items()) {
            if (v.is_string()) {
                d.contact.fields[k] = v.get<std::string>();
            }
        }
    }
    d.created_at = from_millis(r.int64(i, 6));
    return d;
}

// URNs, oldest first, and groups by name.
void add_urns_and_groups(pq::connection& db, const data_key& key, std::vector<contact_details>& contacts) {
    for (auto& d : contacts) {
        const auto urns =
            db.q("SELECT urn FROM contact_urns WHERE contact_id = $1 ORDER BY id", d.contact.id);
        for (int i = 0; i < urns.rows(); ++i) {
            d.urns.push_back(key.open(urns.blob(i, 0), sealed_column::contact_urn));
        }
        const auto groups =
            db.q("SELECT uuid, name FROM contact_groups WHERE contact_id = $1 ORDER BY name", d.contact.id);
        for (int i = 0; i < groups.rows(); ++i) {
            d.contact.groups.push_back({groups.text(i, 0), groups.text(i, 1)});
        }
    }
}

constexpr std::string_view broadcast_columns =
    "SELECT b.id, b.uuid, b.token_id, b.created_by, b.created_at, b.send_at, b.channel_id, b.text, "
    "b.audience, b.figures, b.recipients, b.total_segments, b.status, "
    "(SELECT count(*) FROM messages m WHERE m.broadcast_id = b.id AND m.state IN ('queued', 'sending')) "
    "FROM broadcasts b ";

broadcast_record broadcast_from(const pq::result& r, int i) {
    broadcast_record b;
    b.id = r.int64(i, 0);
    b.uuid = r.text(i, 1);
    b.token_id = r.int64(i, 2);
    b.created_by = r.text(i, 3);
    b.created_at = from_millis(r.int64(i, 4));
    b.send_at = from_millis(r.int64(i, 5));
    b.channel_id = r.text(i, 6);
    const auto text = json::parse(r.text(i, 7), nullptr, false);
    if (text.is_object()) {
        for (const auto& [lang, t] : text.items()) {
            if (t.is_string()) {
                b.text[lang] = t.get<std::string>();
            }
        }
    }
    b.audience = json::parse(r.text(i, 8), nullptr, false);
    b.figures = json::parse(r.text(i, 9), nullptr, false);
    b.recipients = r.int64(i, 10);
    b.total_segments = r.int64(i, 11);
    b.cancelled = r.text(i, 12) == "cancelled";
    b.pending = r.int64(i, 13);
    return b;
}

// The ids of the contacts an audience names, as a SELECT with parameters $1 and $2.
std::string audience_select(const broadcast_audience& a) {
    using kind = broadcast_audience::kind;
    switch (a.type) {
        case kind::urns:
            return "SELECT unnest(string_to_array($1, ',')::bigint[])";
        case kind::group:
            return "SELECT contact_id FROM contact_groups WHERE name = $1 OR (uuid != '' AND uuid = $1)";
        case kind::workshop:
            return "SELECT contact_id FROM registrations WHERE workshop_id = $1 AND status = $2";
        case kind::flow:
            if (a.non_responders) {
                return "SELECT r.contact_id FROM runs r WHERE r.flow_id = $1 AND r.status != 'completed' "
                       "AND r.id = (SELECT max(l.id) FROM runs l WHERE l.contact_id = r.contact_id "
                       "AND l.flow_id = $1)";
            }
            return "SELECT contact_id FROM runs WHERE flow_id = $1";
        case kind::all:
            break;
    }
    return "SELECT id FROM contacts";
}

}  // namespace

message_counts postgres_store::count_messages() {
    message_counts counts;
    read([&](pq::connection& db) {
        counts = {};
        const auto r = db.q("SELECT direction, state, count(*) FROM messages GROUP BY direction, state");
        for (int i = 0; i < r.rows(); ++i) {
            const std::int64_t n = r.int64(i, 2);
            if (r.text(i, 0) == "in") {
                counts.inbound += n;
            } else {
                counts.outbound += n;
                counts.outbound_by_state[r.text(i, 1)] += n;
            }
        }
    });
    return counts;
}

std::optional<api_token> postgres_store::find_token(const std::string& token_hash) {
    std::optional<api_token> out;
    read([&](pq::connection& db) {
        const auto r =
            db.q("SELECT id, name, role FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL", token_hash);
        out.reset();
        if (!r.empty()) {
            if (const auto role = api_role_from(r.text(0, 2))) {
                out = api_token{r.int64(0, 0), r.text(0, 1), *role};
            }
        }
    });
    return out;
}

std::vector<workshop_summary> postgres_store::list_workshops() {
    std::vector<workshop_summary> out;
    read([&](pq::connection& db) {
        const auto r = db.q(
            "SELECT w.id, w.title, w.place, w.starts_at, w.timezone, w.capacity, w.open, "
            "count(r.id) FILTER (WHERE r.status IN ('registered', 'attended')), "
            "count(r.id) FILTER (WHERE r.status = 'waitlisted'), "
            "count(r.id) FILTER (WHERE r.status = 'cancelled') "
            "FROM workshops w LEFT JOIN registrations r ON r.workshop_id = w.id "
            "GROUP BY w.id ORDER BY w.starts_at, w.id");
        out.clear();
        for (int i = 0; i < r.rows(); ++i) {
            workshop_summary s;
            s.workshop.id = r.text(i, 0);
            s.workshop.title = json::parse(r.text(i, 1)).get<flows::lang_text>();
            s.workshop.place = json::parse(r.text(i, 2)).get<flows::lang_text>();
            s.workshop.starts_at = from_millis(r.int64(i, 3));
            s.workshop.timezone = r.text(i, 4);
            s.workshop.capacity = static_cast<int>(r.int64(i, 5));
            s.workshop.open = r.boolean(i, 6);
            s.workshop.taken = static_cast<int>(r.int64(i, 7));
            s.waitlisted = static_cast<int>(r.int64(i, 8));
            s.cancelled = static_cast<int>(r.int64(i, 9));
            out.push_back(std::move(s));
        }
    });
    return out;
}

std::optional<std::vector<registration_row>> postgres_store::list_registrations(
    const std::string& workshop_id) {
    std::optional<std::vector<registration_row>> out;
    read([&](pq::connection& db) {
        out.reset();
        // One statement: the workshop's existence and its rows from one snapshot.
        const auto r = db.q(
            "SELECT c.uuid, c.name, c.language, r.status, r.created_at, r.updated_at "
            "FROM workshops w LEFT JOIN registrations r ON r.workshop_id = w.id "
            "LEFT JOIN contacts c ON c.id = r.contact_id WHERE w.id = $1 ORDER BY r.updated_at, r.id",
            workshop_id);
        if (r.empty()) {
            return;
        }
        out.emplace();
        for (int i = 0; i < r.rows(); ++i) {
            if (r.is_null(i, 0)) {
                continue;  // the workshop, with no registrations
            }
            registration_row row;
            row.contact_uuid = r.text(i, 0);
            row.contact_name = r.text(i, 1);
            row.language = r.text(i, 2);
            row.status =
                flows::registration_status_from(r.text(i, 3)).value_or(flows::registration_status::cancelled);
            row.created_at = from_millis(r.int64(i, 4));
            row.updated_at = from_millis(r.int64(i, 5));
            out->push_back(std::move(row));
        }
    });
    return out;
}

std::vector<api_token_info> postgres_store::list_tokens() {
    std::vector<api_token_info> out;
    read([&](pq::connection& db) {
        const auto r = db.q("SELECT id, name, role, created_at, revoked_at FROM api_tokens ORDER BY id");
        out.clear();
        for (int i = 0; i < r.rows(); ++i) {
            api_token_info t;
            t.token = api_token{
                r.int64(i, 0), r.text(i, 1), api_role_from(r.text(i, 2)).value_or(api_role::viewer)};
            t.created_at = from_millis(r.int64(i, 3));
            if (const auto revoked = r.opt_int64(i, 4)) {
                t.revoked_at = from_millis(*revoked);
            }
            out.push_back(std::move(t));
        }
    });
    return out;
}

std::vector<audit_entry> postgres_store::list_audit(std::size_t limit, std::int64_t before) {
    std::vector<audit_entry> out;
    read([&](pq::connection& db) {
        const auto r = db.q(
            "SELECT id, at, token_id, token_name, role, action, target, rows FROM audit_log "
            "WHERE $1 = 0 OR id < $1 ORDER BY id DESC LIMIT $2",
            before,
            limit);
        out.clear();
        for (int i = 0; i < r.rows(); ++i) {
            out.push_back(audit_entry{r.int64(i, 0),
                                      from_millis(r.int64(i, 1)),
                                      r.int64(i, 2),
                                      r.text(i, 3),
                                      api_role_from(r.text(i, 4)).value_or(api_role::viewer),
                                      r.text(i, 5),
                                      r.text(i, 6),
                                      r.int64(i, 7)});
        }
    });
    return out;
}

std::vector<flow_run_row> postgres_store::list_flow_runs(const std::string& flow_id, bool identified) {
    std::vector<flow_run_row> out;
    read([&](pq::connection& db) {
        // One statement, so the runs and their results are one snapshot. The contact's name and URN
        // are read only when asked for.
        const auto r = db.q(
            "SELECT r.id, c.uuid, r.status, r.created_at, r.exited_at, "
            "CASE WHEN $2 THEN c.name ELSE '' END, "
            "CASE WHEN $2 THEN (SELECT u.urn FROM contact_urns u WHERE u.contact_id = c.id ORDER BY u.id "
            "LIMIT 1) END, "
            "s.key, s.name, s.value, s.category, s.input, s.node_id, s.created_at "
            "FROM runs r JOIN contacts c ON c.id = r.contact_id "
            "LEFT JOIN results s ON s.run_id = r.id "
            "WHERE r.flow_id = $1 ORDER BY r.id, s.id",
            flow_id,
            identified);
        out.clear();
        for (int i = 0; i < r.rows(); ++i) {
            const std::int64_t run_id = r.int64(i, 0);
            if (out.empty() || out.back().id != run_id) {
                flow_run_row row;
                row.id = run_id;
                row.contact_uuid = r.text(i, 1);
                row.status = r.text(i, 2);
                row.started_at = from_millis(r.int64(i, 3));
                if (const auto exited = r.opt_int64(i, 4)) {
                    row.exited_at = from_millis(*exited);
                }
                row.contact_name = r.text(i, 5);
                if (!r.is_null(i, 6)) {
                    row.urn = key_.open(r.blob(i, 6), sealed_column::contact_urn);
                }
                out.push_back(std::move(row));
            }
            if (r.is_null(i, 7)) {
                continue;
            }
            flows::result_value v;
            v.name = r.text(i, 8);
            v.value = key_.open(r.blob(i, 9), sealed_column::result_value);
            v.category = r.text(i, 10);
            v.input = key_.open(r.blob(i, 11), sealed_column::result_input);
            v.node_id = r.text(i, 12);
            v.created_at = from_millis(r.int64(i, 13));
            out.back().values.emplace(r.text(i, 7), std::move(v));
        }
    });
    return out;
}

std::vector<contact_details> postgres_store::find_contacts(const contact_query& q) {
    // Only fixed fragments are joined; every value is a parameter. Unused parameters are still
    // sent, so each combination of filters is one prepared statement.
    std::string sql(contact_columns);
    sql += "WHERE c.id > $1";
    if (!q.urns.empty()) {
        // By their keyed hashes: the URNs themselves are sealed.
        sql +=
            " AND c.id IN (SELECT u.contact_id FROM contact_urns u WHERE u.urn_hash = "
            "ANY(string_to_array($2, "
            "',')))";
    }
    if (!q.group.empty()) {
        sql += " AND EXISTS (SELECT 1 FROM contact_groups g WHERE g.contact_id = c.id AND g.name = $3)";
    }
    if (q.field) {
        sql += " AND c.fields ->> $4 = $5";
    }
    if (q.stopped) {
        sql += " AND c.stopped = $6";
    }
    if (!q.name_part.empty()) {
        sql += " AND strpos(lower(c.name), lower($7)) > 0";
    }
    sql += " ORDER BY c.id LIMIT $8";
    std::string hashes;
    for (const auto& urn : q.urns) {
        hashes += (hashes.empty() ? "" : ",") + key_.lookup(urn);
    }
    std::vector<contact_details> out;
    read([&](pq::connection& db) {
        std::vector<pq::param> params{pq::to_param(q.after),
                                      pq::to_param(hashes),
                                      pq::to_param(q.group),
                                      pq::to_param(q.field ? q.field->first : std::string{}),
                                      pq::to_param(q.field ? q.field->second : std::string{}),
                                      pq::to_param(q.stopped.value_or(false)),
                                      pq::to_param(q.name_part),
                                      pq::to_param(q.limit)};
        const auto r = db.query(sql, params);
        out.clear();
        for (int i = 0; i < r.rows(); ++i) {
            out.push_back(details_from(r, i));
        }
        add_urns_and_groups(db, key_, out);
    });
    return out;
}

std::optional<contact_details> postgres_store::find_contact(const std::string& uuid) {
    std::optional<contact_details> out;
    read([&](pq::connection& db) {
        out.reset();
        const auto r = db.q(std::string(contact_columns) + "WHERE c.uuid = $1", uuid);
        if (r.empty()) {
            return;
        }
        std::vector<contact_details> found{details_from(r, 0)};
        add_urns_and_groups(db, key_, found);
        const auto regs = db.q(
            "SELECT r.workshop_id, r.status FROM registrations r JOIN workshops w ON w.id = r.workshop_id "
            "WHERE r.contact_id = $1 ORDER BY w.starts_at, w.id",
            found.front().contact.id);
        for (int i = 0; i < regs.rows(); ++i) {
            if (const auto status = flows::registration_status_from(regs.text(i, 1))) {
                found.front().registrations.emplace_back(regs.text(i, 0), *status);
            }
        }
        out = std::move(found.front());
    });
    return out;
}

std::optional<broadcast_record> postgres_store::read_broadcast(pq::connection& db, const std::string& uuid) {
    const auto r = db.q(std::string(broadcast_columns) + "WHERE b.uuid = $1", uuid);
    if (r.empty()) {
        return std::nullopt;
    }
    auto b = broadcast_from(r, 0);
    const auto counts = db.q(
        "SELECT state, coalesce(state = 'failed' AND error = 'cancelled', false), count(*) "
        "FROM messages WHERE broadcast_id = $1 GROUP BY 1, 2",
        b.id);
    for (int i = 0; i < counts.rows(); ++i) {
        b.messages[counts.boolean(i, 1) ? "cancelled" : counts.text(i, 0)] += counts.int64(i, 2);
    }
    return b;
}

broadcast_audience_rows postgres_store::broadcast_contacts(const broadcast_audience& a) {
    broadcast_audience_rows out;
    read([&](pq::connection& db) {
        out = {};
        std::string first;
        if (a.type == broadcast_audience::kind::urns) {
            // Each URN as stored, or the same number under the other scheme (SMS and WhatsApp).
            std::set<std::int64_t> ids;
            for (const auto& urn : a.urns) {
                std::optional<std::int64_t> id;
                for (const auto& candidate :
                     {std::optional<std::string>(urn), handlers::same_number_urn(urn)}) {
                    if (!candidate || id) {
                        continue;
                    }
                    const auto r = db.q("SELECT contact_id FROM contact_urns WHERE urn_hash = $1",
                                        key_.lookup(*candidate));
                    if (!r.empty()) {
                        id = r.int64(0, 0);
                    }
                }
                if (id) {
                    ids.insert(*id);
                } else {
                    ++out.unknown;
                }
            }
            for (const auto id : ids) {
                first += (first.empty() ? "" : ",") + std::to_string(id);
            }
        } else if (a.type == broadcast_audience::kind::group) {
            first = a.group;
        } else if (a.type == broadcast_audience::kind::workshop) {
            first = a.workshop_id;
        } else if (a.type == broadcast_audience::kind::flow) {
            first = a.flow_id;
        }
        const std::string sql =
            "SELECT c.id, c.uuid, c.language, c.stopped, "
            "coalesce(CASE WHEN jsonb_typeof(c.fields -> 'timezone') = 'string' "
            "THEN c.fields ->> 'timezone' END, ''), u.urn, u.channel_id "
            "FROM contacts c LEFT JOIN contact_urns u ON u.contact_id = c.id WHERE c.id IN (" +
            audience_select(a) + ") ORDER BY c.id, u.id";
        std::vector<pq::param> params;
        if (a.type != broadcast_audience::kind::all) {
            params.push_back(pq::to_param(first));
        }
        if (a.type == broadcast_audience::kind::workshop) {
            params.push_back(pq::to_param(std::string(flows::to_string(a.status))));
        }
        const auto r = db.query(sql, params);
        for (int i = 0; i < r.rows(); ++i) {
            const std::int64_t id = r.int64(i, 0);
            if (out.contacts.empty() || out.contacts.back().id != id) {
                broadcast_contact c;
                c.id = id;
                c.uuid = r.text(i, 1);
                c.language = r.text(i, 2);
                c.stopped = r.boolean(i, 3);
                c.timezone = r.text(i, 4);
                out.contacts.push_back(std::move(c));
            }
            if (!r.is_null(i, 5)) {
                out.contacts.back().urns.emplace_back(key_.open(r.blob(i, 5), sealed_column::contact_urn),
                                                      r.text(i, 6));
            }
        }
    });
    return out;
}

std::vector<broadcast_record> postgres_store::list_broadcasts(std::size_t limit) {
    std::vector<broadcast_record> out;
    read([&](pq::connection& db) {
        const auto r =
            db.q(std::string(broadcast_columns) + "ORDER BY b.created_at DESC, b.id DESC LIMIT $1", limit);
        out.clear();
        for (int i = 0; i < r.rows(); ++i) {
            out.push_back(broadcast_from(r, i));
        }
    });
    return out;
}

std::optional<broadcast_record> postgres_store::find_broadcast(const std::string& uuid) {
    std::optional<broadcast_record> out;
    read([&](pq::connection& db) { out = read_broadcast(db, uuid); });
    return out;
}

void postgres_store::export_messages(const std::function<void(const message_export_row&)>& row) {
    read([&](pq::connection& db) {
        // One statement: one snapshot, streamed a row at a time. The text and URN columns are never
        // read.
        message_export_row m;
        db.for_each(
            "SELECT m.uuid, m.direction, m.channel_id, coalesce(m.external_id, ''), m.state, c.uuid, "
            "coalesce(r.uuid, ''), m.attempts, m.created_at, m.updated_at "
            "FROM messages m JOIN contacts c ON c.id = m.contact_id "
            "LEFT JOIN messages r ON r.id = m.reply_to ORDER BY m.id",
            {},
            [&](const pq::result& r) {
                m.uuid = r.text(0, 0);
                m.direction = r.text(0, 1);
                m.channel_id = r.text(0, 2);
                m.external_id = r.text(0, 3);
                m.state = r.text(0, 4);
                m.contact_uuid = r.text(0, 5);
                m.reply_to = r.text(0, 6);
                m.attempts = static_cast<int>(r.int64(0, 7));
                m.created_at = from_millis(r.int64(0, 8));
                m.updated_at = from_millis(r.int64(0, 9));
                row(m);
            });
    });
}

}  // namespace flowgate::gateway
