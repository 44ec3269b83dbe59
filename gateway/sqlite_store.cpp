#include "gateway/sqlite_store.hpp"

#include <utility>

#include <algorithm>
#include <array>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "gateway/sqlite_vfs.hpp"
#include "gateway/store_rules.hpp"
#include "handlers/crypto.hpp"
#include "handlers/urn.hpp"

namespace flowgate::gateway {

namespace {

// Ordered migrations: migration i brings the schema to user_version i + 1. Never edit a released one;
// append a new one.
struct migration {
    std::string_view sql;
    // Work SQL cannot do (sealing existing rows), run after `sql` in the same transaction.
    void (*code)(sqlite::connection&, const data_key&) = nullptr;
};

void seal_existing_rows(sqlite::connection& db, const data_key& key);
// The first schema version with participants' data sealed.
constexpr int sealed_version = 7;

constexpr std::array<migration, 10> migrations = {{
    {R"sql(
CREATE TABLE contacts (
    id          INTEGER PRIMARY KEY,
    uuid        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL DEFAULT '',
    language    TEXT NOT NULL DEFAULT '',
    fields      TEXT NOT NULL DEFAULT '{}',
    stopped     INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE TABLE contact_urns (
    id          INTEGER PRIMARY KEY,
    contact_id  INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    urn         TEXT NOT NULL UNIQUE,
    channel_id  TEXT NOT NULL
);
CREATE INDEX contact_urns_contact ON contact_urns(contact_id);
CREATE INDEX contacts_stopped ON contacts(id) WHERE stopped = 1;
CREATE TABLE webhook_calls (
    id          INTEGER PRIMARY KEY,
    contact_id  INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    flow_id     TEXT NOT NULL,
    node_id     TEXT NOT NULL,
    request     TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'queued',
    created_at  INTEGER NOT NULL
);
CREATE TABLE contact_groups (
    contact_id  INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    uuid        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (contact_id, name)
);
CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    uuid            TEXT NOT NULL UNIQUE,
    direction       TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    channel_id      TEXT NOT NULL,
    contact_id      INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    urn             TEXT NOT NULL,
    external_id     TEXT,
    text            TEXT NOT NULL,
    state           TEXT NOT NULL,
    encoding        TEXT,
    segments        INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    error           TEXT,
    reply_to        INTEGER REFERENCES messages(id) ON DELETE SET NULL,
    opt_out_reply   INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX messages_inbound_dedupe ON messages(channel_id, external_id) WHERE direction = 'in';
CREATE INDEX messages_outbound_external ON messages(channel_id, external_id) WHERE direction = 'out';
CREATE INDEX messages_outbox ON messages(next_attempt_at) WHERE direction = 'out' AND state = 'queued';
CREATE INDEX messages_contact ON messages(contact_id);
CREATE INDEX messages_pending_by_contact ON messages(contact_id, id)
    WHERE direction = 'out' AND state IN ('queued', 'sending');
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    uuid        TEXT NOT NULL UNIQUE,
    contact_id  INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    flow_id     TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    exited_at   INTEGER
);
CREATE INDEX runs_contact ON runs(contact_id);
CREATE INDEX runs_flow ON runs(flow_id);
CREATE TABLE results (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    name        TEXT NOT NULL,
    value       TEXT NOT NULL,
    category    TEXT NOT NULL,
    input       TEXT NOT NULL,
    node_id     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (run_id, key)
);
CREATE TABLE sessions (
    contact_id      INTEGER PRIMARY KEY REFERENCES contacts(id) ON DELETE CASCADE,
    run_id          INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    flow_id         TEXT NOT NULL,
    state           TEXT NOT NULL,
    wait_expires_at INTEGER,
    run_expires_at  INTEGER,
    parent_runs     TEXT NOT NULL DEFAULT '[]',
    updated_at      INTEGER NOT NULL
);
CREATE INDEX sessions_wait_expires ON sessions(wait_expires_at) WHERE wait_expires_at IS NOT NULL;
CREATE INDEX sessions_run_expires ON sessions(run_expires_at) WHERE run_expires_at IS NOT NULL;
-- A delivery report can beat our own record of the provider's id (a fast provider answers the
-- send and reports delivery before our commit): it waits here and is applied by mark_sent.
CREATE TABLE early_statuses (
    channel_id  TEXT NOT NULL,
    external_id TEXT NOT NULL,
    state       TEXT NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX early_statuses_key ON early_statuses(channel_id, external_id);
CREATE INDEX early_statuses_age ON early_statuses(received_at);
)sql"},
    // 2: workshops, registrations, reminders; messages that expire.
    {R"sql(
CREATE TABLE workshops (
    id          TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    place       TEXT NOT NULL,
    starts_at   INTEGER NOT NULL,
    timezone    TEXT NOT NULL,
    capacity    INTEGER NOT NULL,
    open        INTEGER NOT NULL DEFAULT 1,
    updated_at  INTEGER NOT NULL
);
CREATE TABLE registrations (
    id          INTEGER PRIMARY KEY,
    workshop_id TEXT NOT NULL REFERENCES workshops(id) ON DELETE CASCADE,
    contact_id  INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    status      TEXT NOT NULL CHECK (status IN ('registered', 'waitlisted', 'cancelled', 'attended')),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (workshop_id, contact_id)
);
CREATE INDEX registrations_contact ON registrations(contact_id);
CREATE INDEX registrations_waitlist ON registrations(workshop_id, updated_at, id) WHERE status = 'waitlisted';
CREATE TABLE workshop_jobs (
    id          INTEGER PRIMARY KEY,
    contact_id  INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    workshop_id TEXT NOT NULL REFERENCES workshops(id) ON DELETE CASCADE,
    flow_id     TEXT NOT NULL,
    due_at      INTEGER NOT NULL,
    expires_at  INTEGER
);
CREATE INDEX workshop_jobs_due ON workshop_jobs(due_at);
CREATE INDEX workshop_jobs_registration ON workshop_jobs(contact_id, workshop_id);
ALTER TABLE messages ADD COLUMN expires_at INTEGER;
CREATE INDEX messages_expiring ON messages(expires_at)
    WHERE direction = 'out' AND state = 'queued' AND expires_at IS NOT NULL;
)sql"},
    // 3: admin API tokens (only their hashes).
    {R"sql(
CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('viewer', 'staff', 'admin')),
    hash        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
)sql"},
    // 4: the audit log of staff actions (never message bodies or numbers).
    {R"sql(
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    token_id    INTEGER NOT NULL,
    token_name  TEXT NOT NULL,
    role        TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL DEFAULT '',
    rows        INTEGER NOT NULL DEFAULT 0
);
)sql"},
    // 5: URNs of erased contacts who had opted out, as hashes: STOP stays honoured after erasure.
    {R"sql(
CREATE TABLE suppressed_urns (
    hash        TEXT PRIMARY KEY,
    created_at  INTEGER NOT NULL
);
)sql"},
    // 6: broadcasts; each of their messages names its broadcast.
    {R"sql(
CREATE TABLE broadcasts (
    id              INTEGER PRIMARY KEY,
    uuid            TEXT NOT NULL UNIQUE,
    token_id        INTEGER NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    send_at         INTEGER NOT NULL,
    channel_id      TEXT NOT NULL DEFAULT '',
    text            TEXT NOT NULL,
    audience        TEXT NOT NULL,
    figures         TEXT NOT NULL,
    recipients      INTEGER NOT NULL,
    total_segments  INTEGER NOT NULL,
    status          TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'cancelled')),
    cancelled_at    INTEGER
);
CREATE INDEX broadcasts_created ON broadcasts(created_at, id);
ALTER TABLE messages ADD COLUMN broadcast_id INTEGER REFERENCES broadcasts(id) ON DELETE SET NULL;
CREATE INDEX messages_broadcast ON messages(broadcast_id, state) WHERE broadcast_id IS NOT NULL;
)sql"},
    // 7: participants' data at rest (docs/security.md, "Data at rest"). URNs are sealed with a keyed
    // hash beside them for lookups; message texts, result values and inputs, sessions and webhook
    // requests are sealed in place. Rows written before are sealed by seal_existing_rows; the
    // suppression hashes of version 5 (plain SHA-256) are kept, marked, until they can go.
    {R"sql(
CREATE TABLE store_key (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    fingerprint TEXT NOT NULL
);
CREATE TABLE contact_urns_sealed (
    id          INTEGER PRIMARY KEY,
    contact_id  INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    urn_hash    TEXT NOT NULL UNIQUE,
    urn         BLOB NOT NULL,
    channel_id  TEXT NOT NULL
);
UPDATE suppressed_urns SET hash = 'sha256:' || hash;
)sql",
     seal_existing_rows},
    // 8: the outbox split by kind, so the sender's claim reads the first due messages of each in
    // order from an index (a participant's answers, then broadcasts) instead of sorting every queued
    // message: with a broadcast of 100,000 queued, each claim sorted them all.
    {R"sql(
DROP INDEX messages_outbox;
CREATE INDEX messages_outbox_direct ON messages(next_attempt_at)
    WHERE direction = 'out' AND state = 'queued' AND broadcast_id IS NULL;
CREATE INDEX messages_outbox_broadcast ON messages(next_attempt_at)
    WHERE direction = 'out' AND state = 'queued' AND broadcast_id IS NOT NULL;
)sql"},
    // 9: outbound messages by the provider's id only once they have one (a delivery report's
    // lookup asks for a given id): every queued reply had an entry, under no id, that each send
    // then moved.
    {R"sql(
DROP INDEX messages_outbound_external;
CREATE INDEX messages_outbound_external ON messages(channel_id, external_id)
    WHERE direction = 'out' AND external_id IS NOT NULL;
)sql"},
    // 10: a contact's messages by direction, channel and time: the claim asks, for each message it
    // takes, when its contact last wrote on its channel (WhatsApp's 24-hour window), and read every
    // message the contact ever had to answer; now it reads one index entry. Still the index of a
    // contact's messages for everything else (an erasure, ON DELETE CASCADE).
    {R"sql(
DROP INDEX messages_contact;
CREATE INDEX messages_contact ON messages(contact_id, direction, channel_id, created_at);
)sql"},
}};

void configure(sqlite::connection& db) {
    db.exec("PRAGMA busy_timeout = 5000");
    db.exec("PRAGMA foreign_keys = ON");
    // Deleted rows are overwritten, not left in free space: an erased contact is gone from the
    // file (older copies in the WAL go at its next checkpoint).
    db.exec("PRAGMA secure_delete = ON");
    // Temporary files in memory. The writer's savepoint per job keeps the pages a job changes in a
    // sub-journal; on disk (SQLite's default, an unlinked file in /var/tmp) that was a pwrite of a
    // page for nearly every row written, four times the WAL's own writes, and it left copies of
    // participants' rows on a disk that no erasure or checkpoint reaches.
    db.exec("PRAGMA temp_store = MEMORY");
}

// How schema version 5 kept a suppressed URN: a plain SHA-256, which anyone can reverse by hashing
// every possible number. Such rows (marked "sha256:" by migration 7) are still honoured; new ones
// are the keyed lookup hash.
std::string legacy_suppression_hash(std::string_view urn) {
    return "sha256:" + handlers::to_hex(handlers::sha256(urn));
}

}  // namespace

sealed_inbound seal_inbound(const data_key& key, std::string_view urn, std::string_view text) {
    return {key.lookup(urn),
            key.seal(urn, sealed_column::message_urn),
            key.seal(text, sealed_column::message_text)};
}

namespace {

bool has_legacy_suppressions(sqlite::connection& db) {
    sqlite::statement q(db, "SELECT 1 FROM suppressed_urns WHERE hash GLOB 'sha256:*' LIMIT 1");
    return q.step();
}

namespace column = sealed_column;

// Seals a column of a table in place, a batch at a time (rows read before any is rewritten).
void seal_column(sqlite::connection& db,
                 const data_key& key,
                 const std::string& table,
                 const std::string& key_column,
                 const std::string& value_column,
                 std::string_view context) {
    sqlite::statement read(db,
                           "SELECT " + key_column + ", " + value_column + " FROM " + table + " WHERE " +
                               key_column + " > ?1 AND typeof(" + value_column + ") = 'text' ORDER BY " +
                               key_column + " LIMIT 500");
    sqlite::statement write(
        db, "UPDATE " + table + " SET " + value_column + " = ?2 WHERE " + key_column + " = ?1");
    std::int64_t after = std::numeric_limits<std::int64_t>::min();
    for (;;) {
        std::vector<std::pair<std::int64_t, std::string>> batch;
        {
            sqlite::reset_guard g(read);
            read.bind(1, after);
            while (read.step()) {
                batch.emplace_back(read.column_int64(0), read.column_text(1));
            }
        }
        if (batch.empty()) {
            return;
        }
        for (const auto& [id, value] : batch) {
            write.bind(1, id).bind_blob(2, key.seal(value, context)).run();
        }
        after = batch.back().first;
    }
}

void seal_existing_rows(sqlite::connection& db, const data_key& key) {
    {
        sqlite::statement read(db, "SELECT id, contact_id, urn, channel_id FROM contact_urns ORDER BY id");
        sqlite::statement write(db,
                                "INSERT INTO contact_urns_sealed (id, contact_id, urn_hash, urn, channel_id) "
                                "VALUES (?1, ?2, ?3, ?4, ?5)");
        while (read.step()) {
            const std::string urn = read.column_text(2);
            write.bind(1, read.column_int64(0))
                .bind(2, read.column_int64(1))
                .bind(3, key.lookup(urn))
                .bind_blob(4, key.seal(urn, column::contact_urn))
                .bind(5, read.column_text(3))
                .run();
        }
    }
    db.exec(
        "DROP TABLE contact_urns; "
        "ALTER TABLE contact_urns_sealed RENAME TO contact_urns; "
        "CREATE INDEX contact_urns_contact ON contact_urns(contact_id);");
    seal_column(db, key, "messages", "id", "urn", column::message_urn);
    seal_column(db, key, "messages", "id", "text", column::message_text);
    seal_column(db, key, "results", "id", "value", column::result_value);
    seal_column(db, key, "results", "id", "input", column::result_input);
    seal_column(db, key, "sessions", "contact_id", "state", column::session_state);
    seal_column(db, key, "webhook_calls", "id", "request", column::webhook_request);
    sqlite::statement fp(db, "INSERT INTO store_key (id, fingerprint) VALUES (1, ?1)");
    fp.bind(1, key.fingerprint()).run();
}

// The sender's claim reads the first `?2` due messages of one kind (`?1` is now) with what the
// sender needs, then moves each from queued to sending (claim_one). A participant's answers go
// before any broadcast's messages: the broadcasts are read only for what room is left, so a
// participant is not kept waiting behind ten thousand of them, and neither kind is sorted. (One
// UPDATE ... WHERE id IN (...) RETURNING did the same in one statement, but its IN list, its
// ORDER BY and its RETURNING each went through a temporary b-tree, every claim.)
std::string due_sql(bool broadcast) {
    return due_messages_sql(sql_dialect::sqlite,
                            broadcast,
                            "?1",
                            "?2",
                            "m.id, m.uuid, m.channel_id, m.contact_id, m.urn, m.text, m.attempts + 1, "
                            "coalesce(m.segments, 1), "
                            // When the contact last wrote on this channel (WhatsApp's 24-hour window).
                            "(SELECT max(i.created_at) FROM messages i WHERE i.contact_id = m.contact_id "
                            "AND i.direction = 'in' AND i.channel_id = m.channel_id)");
}

}  // namespace

struct sqlite_store::statements {
    statements(sqlite::connection& db, const data_key& key)
        : db(db),
          key(key),
          savepoint(db, "SAVEPOINT event"),
          release(db, "RELEASE event"),
          rollback_to(db, "ROLLBACK TO event"),
          find_contact(db,
                       "SELECT c.id, c.uuid, c.name, c.language, c.stopped, c.fields FROM contact_urns u "
                       "JOIN contacts c ON c.id = u.contact_id WHERE u.urn_hash = ?1"),
          insert_contact(db, "INSERT INTO contacts (uuid, created_at, updated_at) VALUES (?1, ?2, ?2)"),
          insert_urn(
              db, "INSERT INTO contact_urns (contact_id, urn_hash, urn, channel_id) VALUES (?1, ?2, ?3, ?4)"),
          set_name(db, "UPDATE contacts SET name = ?2 WHERE id = ?1"),
          set_stopped(db, "UPDATE contacts SET stopped = ?2, updated_at = ?3 WHERE id = ?1"),
          set_language(db, "UPDATE contacts SET language = ?2, updated_at = ?3 WHERE id = ?1"),
          set_field(db,
                    "UPDATE contacts SET fields = CASE WHEN ?3 = '' THEN json_remove(fields, '$.' || "
                    "json_quote(?2)) "
                    "ELSE json_set(fields, '$.' || json_quote(?2), ?3) END WHERE id = ?1"),
          add_group(db,
                    "INSERT INTO contact_groups (contact_id, name, uuid) VALUES (?1, ?2, ?3) "
                    "ON CONFLICT (contact_id, name) DO NOTHING"),
          remove_group(
              db,
              "DELETE FROM contact_groups WHERE contact_id = ?1 AND (name = ?2 OR (?3 != '' AND uuid = ?3))"),
          remove_groups(db, "DELETE FROM contact_groups WHERE contact_id = ?1"),
          load_groups(db, "SELECT uuid, name FROM contact_groups WHERE contact_id = ?1 ORDER BY name"),
          enqueue_webhook(db,
                          "INSERT INTO webhook_calls (contact_id, flow_id, node_id, request, created_at) "
                          "VALUES (?1, ?2, ?3, ?4, ?5)"),
          claim_webhooks(
              db,
              "UPDATE webhook_calls SET state = 'sending' WHERE id IN (SELECT id FROM webhook_calls "
              "WHERE state = 'queued' ORDER BY id LIMIT ?1) RETURNING id, contact_id, flow_id, node_id, "
              "request"),
          finish_webhook(db, "DELETE FROM webhook_calls WHERE id = ?1"),
          insert_inbound(
              db,
              "INSERT INTO messages (uuid, direction, channel_id, contact_id, urn, external_id, text, "
              "state, created_at, updated_at) VALUES (?1, 'in', ?2, ?3, ?4, ?5, ?6, 'handled', ?7, ?7) "
              "ON CONFLICT (channel_id, external_id) WHERE direction = 'in' DO NOTHING"),
          load_session(
              db, "SELECT run_id, state, run_expires_at, parent_runs FROM sessions WHERE contact_id = ?1"),
          save_session(
              db,
              "INSERT INTO sessions (contact_id, run_id, flow_id, state, wait_expires_at, run_expires_at, "
              "updated_at, parent_runs) VALUES (?1, ?2, ?3, ?4, ?5, ?7, ?6, ?8) "
              "ON CONFLICT (contact_id) DO UPDATE SET "
              "run_id = excluded.run_id, flow_id = excluded.flow_id, state = excluded.state, "
              "wait_expires_at = excluded.wait_expires_at, run_expires_at = excluded.run_expires_at, "
              "parent_runs = excluded.parent_runs, updated_at = excluded.updated_at"),
          delete_session(db, "DELETE FROM sessions WHERE contact_id = ?1"),
          due_sessions(db,
                       "SELECT contact_id FROM sessions WHERE wait_expires_at <= ?1 UNION "
                       "SELECT contact_id FROM sessions WHERE run_expires_at <= ?1 LIMIT ?2"),
          next_due(
              db,
              "SELECT min(t) FROM (SELECT min(wait_expires_at) AS t FROM sessions WHERE wait_expires_at > ?1 "
              "UNION ALL SELECT min(run_expires_at) FROM sessions WHERE run_expires_at > ?1 "
              "UNION ALL SELECT min(due_at) FROM workshop_jobs WHERE due_at > ?1 "
              "UNION ALL SELECT min(next_attempt_at) FROM messages WHERE direction = 'out' "
              "AND state = 'queued' AND broadcast_id IS NULL AND next_attempt_at > ?1 "
              "UNION ALL SELECT min(next_attempt_at) FROM messages WHERE direction = 'out' "
              "AND state = 'queued' AND broadcast_id IS NOT NULL AND next_attempt_at > ?1)"),
          contact_by_id(db,
                        "SELECT c.id, c.uuid, c.name, c.language, c.stopped, c.fields, u.urn, u.channel_id "
                        "FROM contacts c JOIN contact_urns u ON u.contact_id = c.id WHERE c.id = ?1 "
                        "ORDER BY u.id LIMIT 1"),
          start_run(db,
                    "INSERT INTO runs (uuid, contact_id, flow_id, status, created_at, updated_at) "
                    "VALUES (?1, ?2, ?3, 'active', ?4, ?4)"),
          end_run(db, "UPDATE runs SET status = ?2, updated_at = ?3, exited_at = ?3 WHERE id = ?1"),
          save_result(db,
                      "INSERT INTO results (run_id, key, name, value, category, input, node_id, created_at) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (run_id, key) DO UPDATE SET "
                      "name = excluded.name, value = excluded.value, category = excluded.category, "
                      "input = excluded.input, node_id = excluded.node_id, created_at = excluded.created_at"),
          touch_run(db, "UPDATE runs SET updated_at = ?2 WHERE id = ?1"),
          enqueue(
              db,
              "INSERT INTO messages (uuid, direction, channel_id, contact_id, urn, text, state, encoding, "
              "segments, next_attempt_at, reply_to, created_at, updated_at, opt_out_reply, expires_at, "
              "broadcast_id) VALUES (?1, 'out', ?2, ?3, ?4, ?5, 'queued', ?6, ?7, coalesce(?11, ?8), ?9, ?8, "
              "?8, ?10, ?12, ?13)"),
          expire_queued(
              db,
              "UPDATE messages SET state = 'expired', error = 'past_validity', next_attempt_at = NULL, "
              "updated_at = ?1 WHERE direction = 'out' AND state = 'queued' AND expires_at IS NOT NULL "
              "AND expires_at <= ?1"),
          upsert_workshop(
              db,
              "INSERT INTO workshops (id, title, place, starts_at, timezone, capacity, open, updated_at) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO UPDATE SET "
              "title = excluded.title, place = excluded.place, starts_at = excluded.starts_at, "
              "timezone = excluded.timezone, capacity = excluded.capacity, open = excluded.open, "
              "updated_at = excluded.updated_at"),
          find_workshop(db,
                        "SELECT w.id, w.title, w.place, w.starts_at, w.timezone, w.capacity, w.open, "
                        "(SELECT count(*) FROM registrations r WHERE r.workshop_id = w.id "
                        "AND r.status IN ('registered', 'attended')) FROM workshops w WHERE w.id = ?1"),
          open_workshops(db,
                         "SELECT w.id, w.title, w.place, w.starts_at, w.timezone, w.capacity, w.open, "
                         "(SELECT count(*) FROM registrations r WHERE r.workshop_id = w.id "
                         "AND r.status IN ('registered', 'attended')) FROM workshops w "
                         "WHERE w.open = 1 AND w.starts_at > ?1 ORDER BY w.starts_at, w.id"),
          find_registration(db,
                            "SELECT status FROM registrations WHERE contact_id = ?1 AND workshop_id = ?2"),
          set_registration(
              db,
              "INSERT INTO registrations (workshop_id, contact_id, status, created_at, updated_at) "
              "VALUES (?2, ?1, ?3, ?4, ?4) ON CONFLICT (workshop_id, contact_id) DO UPDATE SET "
              "status = excluded.status, updated_at = excluded.updated_at"),
          first_waitlisted(db,
                           "SELECT r.contact_id FROM registrations r JOIN contacts c ON c.id = r.contact_id "
                           "WHERE r.workshop_id = ?1 AND r.status = 'waitlisted' AND c.stopped = 0 "
                           "ORDER BY r.updated_at, r.id LIMIT 1"),
          registered_contacts(
              db, "SELECT contact_id FROM registrations WHERE workshop_id = ?1 AND status = 'registered'"),
          schedule_job(db,
                       "INSERT INTO workshop_jobs (contact_id, workshop_id, flow_id, due_at, expires_at) "
                       "VALUES (?1, ?2, ?3, ?4, ?5)"),
          cancel_jobs(db, "DELETE FROM workshop_jobs WHERE contact_id = ?1 AND workshop_id = ?2"),
          take_jobs(db,
                    "DELETE FROM workshop_jobs WHERE id IN (SELECT id FROM workshop_jobs WHERE due_at <= ?1 "
                    "ORDER BY due_at, id LIMIT ?2) RETURNING id, contact_id, workshop_id, flow_id, due_at, "
                    "expires_at"),
          fail_stopped(
              db,
              "UPDATE messages SET state = 'failed', error = 'contact_stopped', next_attempt_at = NULL, "
              "updated_at = ?1 WHERE direction = 'out' AND state = 'queued' AND opt_out_reply = 0 "
              "AND contact_id IN (SELECT id FROM contacts WHERE stopped = 1)"),
          cancel_queued(
              db,
              "UPDATE messages SET state = 'failed', error = 'contact_stopped', next_attempt_at = NULL, "
              "updated_at = ?2 WHERE direction = 'out' AND state = 'queued' AND opt_out_reply = 0 "
              "AND contact_id = ?1"),
          fail_stopped_send(
              db,
              "UPDATE messages SET state = 'failed', error = 'contact_stopped', next_attempt_at = NULL, "
              "updated_at = ?2 WHERE id = ?1 AND state = 'sending' AND opt_out_reply = 0 "
              // EXISTS, not IN (SELECT ...): an IN list is built in a temporary b-tree each time the
              // statement runs, which was two thirds of this one's cost.
              "AND EXISTS (SELECT 1 FROM contacts c WHERE c.id = messages.contact_id AND c.stopped = 1)"),
          still_sending(db, "SELECT 1 FROM messages WHERE id = ?1 AND state = 'sending'"),
          due_direct(db, due_sql(false)),
          due_broadcast(db, due_sql(true)),
          claim_one(db,
                    "UPDATE messages SET state = 'sending', attempts = attempts + 1, updated_at = ?2 "
                    "WHERE id = ?1"),
          mark_sent(db,
                    "UPDATE messages SET state = 'sent', external_id = NULLIF(?2, ''), error = NULL, "
                    "next_attempt_at = NULL, updated_at = ?3 WHERE id = ?1 AND state = 'sending'"),
          mark_retry(
              db,
              "UPDATE messages SET state = 'queued', next_attempt_at = ?2, error = ?3, updated_at = ?4 "
              "WHERE id = ?1 AND state = 'sending'"),
          mark_failed(
              db,
              "UPDATE messages SET state = 'failed', error = ?2, next_attempt_at = NULL, updated_at = ?3 "
              "WHERE id = ?1 AND state = 'sending'"),
          // Two indexed lookups: with an OR, SQLite would scan every message of the channel for
          // each report (a broadcast's ten thousand delivery reports).
          find_out(db,
                   "SELECT id, state FROM messages WHERE uuid = ?2 AND direction = 'out' AND channel_id = ?1 "
                   "UNION ALL SELECT id, state FROM messages WHERE direction = 'out' AND channel_id = ?1 "
                   "AND external_id = ?2 LIMIT 1"),
          set_state(
              db,
              "UPDATE messages SET state = ?2, updated_at = ?3, error = coalesce(nullif(?4, ''), error) "
              "WHERE id = ?1"),
          keep_early(db,
                     "INSERT INTO early_statuses (channel_id, external_id, state, received_at) "
                     "VALUES (?1, ?2, ?3, ?4)"),
          purge_early(db, "DELETE FROM early_statuses WHERE received_at < ?1"),
          find_early(db,
                     "SELECT e.state FROM early_statuses e JOIN messages m ON m.channel_id = e.channel_id "
                     "AND m.external_id = e.external_id WHERE m.id = ?1 ORDER BY e.rowid"),
          drop_early(db,
                     "DELETE FROM early_statuses WHERE (channel_id, external_id) IN "
                     "(SELECT channel_id, external_id FROM messages WHERE id = ?1)"),
          interrupted(db,
                      "UPDATE messages SET state = 'unknown', updated_at = ?1 WHERE direction = 'out' "
                      "AND state = 'sending'"),
          // One lookup of the key's index per hash. `hash IN (?1, ?2, ?3, ?4)` built a temporary
          // b-tree of the four values first, each time: about 12% of what a new contact cost the writer.
          find_suppressed(db,
                          "SELECT EXISTS (SELECT 1 FROM suppressed_urns WHERE hash = ?1) "
                          "OR EXISTS (SELECT 1 FROM suppressed_urns WHERE hash = ?2) "
                          "OR EXISTS (SELECT 1 FROM suppressed_urns WHERE hash = ?3) "
                          "OR EXISTS (SELECT 1 FROM suppressed_urns WHERE hash = ?4)"),
          legacy_suppressions(has_legacy_suppressions(db)) {}

    sqlite::connection& db;
    const data_key& key;
    sqlite::statement savepoint, release, rollback_to;
    sqlite::statement find_contact, insert_contact, insert_urn, set_name, set_stopped, set_language;
    sqlite::statement set_field, add_group, remove_group, remove_groups, load_groups;
    sqlite::statement enqueue_webhook, claim_webhooks, finish_webhook;
    sqlite::statement insert_inbound;
    sqlite::statement load_session, save_session, delete_session, due_sessions, next_due, contact_by_id;
    sqlite::statement start_run, end_run, save_result, touch_run;
    sqlite::statement enqueue, expire_queued, upsert_workshop, find_workshop, open_workshops;
    sqlite::statement find_registration, set_registration, first_waitlisted, registered_contacts;
    sqlite::statement schedule_job, cancel_jobs, take_jobs;
    sqlite::statement fail_stopped, cancel_queued, fail_stopped_send, still_sending;
    sqlite::statement due_direct, due_broadcast, claim_one, mark_sent, mark_retry, mark_failed;
    sqlite::statement find_out, set_state, keep_early, purge_early, find_early, drop_early, interrupted;
    sqlite::statement find_suppressed;
    // Whether any suppression is still kept the schema-5 way (legacy_suppression_hash). None is
    // written any more, so a database without them at the start never has any: a new contact's
    // check then skips those two SHA-256s.
    const bool legacy_suppressions;
    // A contact may have been stopped since the claim last failed the queued messages of stopped
    // contacts (fail_stopped): set by set_contact_stopped and by any rollback, so the sweep, which
    // reads every stopped contact, runs only when it can find something.
    bool stop_sweep_due = true;
};

contact_record contact_from_row(const sqlite::statement& q) {
    contact_record c;
    c.id = q.column_int64(0);
    c.uuid = q.column_text(1);
    c.name = q.column_text(2);
    c.language = q.column_text(3);
    c.stopped = q.column_int64(4) != 0;
    const auto fields = nlohmann::json::parse(q.column_text(5), nullptr, false);
    if (fields.is_object()) {
        for (const auto& [k, v] : fields.items()) {
            if (v.is_string()) {
                c.fields[k] = v.get<std::string>();
            }
        }
    }
    return c;
}

namespace {

class sqlite_write_tx final : public write_tx {
   public:
    explicit sqlite_write_tx(sqlite_store::statements& s)
        : s_(s), tx_(s.db, sqlite::transaction::mode::immediate) {}

    ~sqlite_write_tx() override {
        if (!committed_) {
            s_.stop_sweep_due = true;  // a sweep rolled back with the rest
        }
    }

    void savepoint() override { s_.savepoint.run(); }
    void release() override { s_.release.run(); }
    void rollback_to() override {
        s_.rollback_to.run();
        s_.release.run();
        started_ = {};
        s_.stop_sweep_due = true;
    }
    void commit() override {
        tx_.commit();
        committed_ = true;
    }

    std::optional<contact_record> find_by_urn(const std::string& urn) {
        auto& q = s_.find_contact;
        sqlite::reset_guard g(q);
        q.bind(1, lookup_(urn));
        if (!q.step()) {
            return std::nullopt;
        }
        auto c = contact_from_row(q);
        q.reset();
        c.groups = groups_of(c.id);
        return c;
    }

    void remember_lookup(const std::string& urn, const std::string& lookup) override {
        lookup_.remember(urn, lookup);
    }

    contact_record upsert_contact(const std::string& urn,
                                  const std::string& channel_id,
                                  timestamp now) override {
        if (auto c = find_by_urn(urn)) {
            return *c;
        }
        // The same number under the other scheme (SMS and WhatsApp): the same person.
        if (const auto sibling = handlers::same_number_urn(urn)) {
            if (auto c = find_by_urn(*sibling)) {
                add_urn(c->id, urn, channel_id);
                return *c;
            }
        }
        contact_record c;
        c.uuid = handlers::random_uuid();
        s_.insert_contact.bind(1, c.uuid).bind(2, to_millis(now)).run();
        c.id = s_.db.last_insert_rowid();
        add_urn(c.id, urn, channel_id);
        if (is_suppressed(urn)) {
            // An erased contact's opt-out outlives them: importing or writing again opts no one in.
            set_contact_stopped(c.id, true, now);
            c.stopped = true;
        }
        return c;
    }

    void add_urn(std::int64_t contact_id, const std::string& urn, const std::string& channel_id) {
        s_.insert_urn.bind(1, contact_id)
            .bind(2, lookup_(urn))
            .bind_blob(3, s_.key.seal(urn, column::contact_urn))
            .bind(4, channel_id)
            .run();
    }

    bool is_suppressed(const std::string& urn) {
        auto& q = s_.find_suppressed;
        sqlite::reset_guard g(q);
        const std::string sibling = handlers::same_number_urn(urn).value_or(urn);
        const std::string hash = lookup_(urn);
        const std::string sibling_hash = lookup_(sibling);
        q.bind(1, hash).bind(2, sibling_hash);
        if (s_.legacy_suppressions) {
            q.bind(3, legacy_suppression_hash(urn)).bind(4, legacy_suppression_hash(sibling));
        } else {
            q.bind(3, hash).bind(4, sibling_hash);
        }
        return q.step() && q.column_int64(0) != 0;
    }

    std::optional<contact_record> find_contact(const std::string& urn) override {
        if (auto c = find_by_urn(urn)) {
            return c;
        }
        if (const auto sibling = handlers::same_number_urn(urn)) {
            return find_by_urn(*sibling);
        }
        return std::nullopt;
    }

    std::optional<std::int64_t> contact_id(const std::string& uuid) override {
        sqlite::statement q(s_.db, "SELECT id FROM contacts WHERE uuid = ?1");
        q.bind(1, uuid);
        if (!q.step()) {
            return std::nullopt;
        }
        return q.column_int64(0);
    }

    std::vector<std::pair<std::string, flows::registration_status>> contact_registrations(
        std::int64_t contact_id) override {
        sqlite::statement q(
            s_.db, "SELECT workshop_id, status FROM registrations WHERE contact_id = ?1 ORDER BY id");
        q.bind(1, contact_id);
        std::vector<std::pair<std::string, flows::registration_status>> out;
        while (q.step()) {
            if (const auto status = flows::registration_status_from(q.column_text(1))) {
                out.emplace_back(q.column_text(0), *status);
            }
        }
        return out;
    }

    purge_counts purge_before(timestamp cutoff) override {
        purge_counts out;
        const std::int64_t before = to_millis(cutoff);
        // Empty blobs, not sealed empty strings: a purged value is visibly gone.
        sqlite::statement texts(
            s_.db, "UPDATE messages SET text = X'', urn = X'' WHERE " + purgeable_messages_sql("?1"));
        texts.bind(1, before).run();
        out.message_texts = static_cast<std::size_t>(s_.db.changes());
        // Results first, so the purge does not depend on foreign keys cascading (as erase_contact).
        const std::string finished = finished_runs_sql("?1");
        sqlite::statement results(s_.db, "DELETE FROM results WHERE run_id IN (" + finished + ")");
        results.bind(1, before).run();
        sqlite::statement runs(s_.db, "DELETE FROM runs WHERE id IN (" + finished + ")");
        runs.bind(1, before).run();
        out.runs = static_cast<std::size_t>(s_.db.changes());
        sqlite::statement early(s_.db, "DELETE FROM early_statuses WHERE received_at < ?1");
        early.bind(1, before).run();
        return out;
    }

    void erase_contact(std::int64_t contact_id, timestamp now) override {
        bool stopped = false;
        {
            sqlite::statement q(s_.db, "SELECT stopped FROM contacts WHERE id = ?1");
            q.bind(1, contact_id);
            if (!q.step()) {
                return;
            }
            stopped = q.column_int64(0) != 0;
        }
        std::vector<std::string> urns;
        {
            sqlite::statement q(s_.db, "SELECT urn FROM contact_urns WHERE contact_id = ?1");
            q.bind(1, contact_id);
            while (q.step()) {
                urns.push_back(s_.key.open(q.column_blob(0), column::contact_urn));
            }
        }
        for (const auto& urn : urns) {
            if (stopped) {
                sqlite::statement q(s_.db,
                                    "INSERT INTO suppressed_urns (hash, created_at) VALUES (?1, ?2) "
                                    "ON CONFLICT (hash) DO NOTHING");
                q.bind(1, lookup_(urn)).bind(2, to_millis(now)).run();
            } else {
                // They had opted in again (START) since an earlier erasure: that stands.
                sqlite::statement q(s_.db, "DELETE FROM suppressed_urns WHERE hash IN (?1, ?2, ?3, ?4)");
                const std::string sibling = handlers::same_number_urn(urn).value_or(urn);
                q.bind(1, lookup_(urn))
                    .bind(2, lookup_(sibling))
                    .bind(3, legacy_suppression_hash(urn))
                    .bind(4, legacy_suppression_hash(sibling))
                    .run();
            }
        }
        // Children first, so the erasure does not depend on foreign keys cascading.
        static constexpr std::string_view deletes[] = {
            "DELETE FROM early_statuses WHERE (channel_id, external_id) IN (SELECT channel_id, external_id "
            "FROM messages WHERE contact_id = ?1 AND direction = 'out' AND external_id IS NOT NULL)",
            "DELETE FROM sessions WHERE contact_id = ?1",
            "DELETE FROM results WHERE run_id IN (SELECT id FROM runs WHERE contact_id = ?1)",
            "DELETE FROM runs WHERE contact_id = ?1",
            "DELETE FROM messages WHERE contact_id = ?1",
            "DELETE FROM webhook_calls WHERE contact_id = ?1",
            "DELETE FROM workshop_jobs WHERE contact_id = ?1",
            "DELETE FROM registrations WHERE contact_id = ?1",
            "DELETE FROM contact_groups WHERE contact_id = ?1",
            "DELETE FROM contact_urns WHERE contact_id = ?1",
            "DELETE FROM contacts WHERE id = ?1",
        };
        for (const auto sql : deletes) {
            sqlite::statement q(s_.db, sql);
            q.bind(1, contact_id).run();
        }
    }

    void set_contact_name(std::int64_t contact_id, const std::string& name) override {
        s_.set_name.bind(1, contact_id).bind(2, name).run();
    }

    void set_contact_stopped(std::int64_t contact_id, bool stopped, timestamp now) override {
        s_.set_stopped.bind(1, contact_id).bind(2, stopped ? 1 : 0).bind(3, to_millis(now)).run();
        s_.stop_sweep_due = s_.stop_sweep_due || stopped;
    }

    void set_contact_language(std::int64_t contact_id, const std::string& language, timestamp now) override {
        s_.set_language.bind(1, contact_id).bind(2, language).bind(3, to_millis(now)).run();
    }

    void set_contact_field(std::int64_t contact_id,
                           const std::string& key,
                           const std::string& value) override {
        s_.set_field.bind(1, contact_id).bind(2, key).bind(3, value).run();
    }

    void add_contact_group(std::int64_t contact_id, const flows::group_ref& group) override {
        s_.add_group.bind(1, contact_id)
            .bind(2, group.name.empty() ? group.uuid : group.name)
            .bind(3, group.uuid)
            .run();
    }

    void remove_contact_group(std::int64_t contact_id, const flows::group_ref& group) override {
        s_.remove_group.bind(1, contact_id).bind(2, group.name).bind(3, group.uuid).run();
    }

    void remove_all_contact_groups(std::int64_t contact_id) override {
        s_.remove_groups.bind(1, contact_id).run();
    }

    void enqueue_webhook(const webhook_record& w, timestamp now) override {
        const auto& call = w.call;
        nlohmann::json request{
            {"method", call.method}, {"url", call.url}, {"headers", call.headers}, {"body", call.body}};
        s_.enqueue_webhook.bind(1, w.contact_id)
            .bind(2, call.flow_id)
            .bind(3, call.node_id)
            .bind_blob(4, s_.key.seal(request.dump(), column::webhook_request))
            .bind(5, to_millis(now))
            .run();
    }

    std::vector<webhook_record> claim_webhooks(std::size_t limit) override {
        auto& q = s_.claim_webhooks;
        sqlite::reset_guard g(q);
        q.bind(1, static_cast<std::int64_t>(limit));
        std::vector<webhook_record> out;
        while (q.step()) {
            webhook_record r;
            r.id = q.column_int64(0);
            r.contact_id = q.column_int64(1);
            r.call.flow_id = q.column_text(2);
            r.call.node_id = q.column_text(3);
            const auto req =
                nlohmann::json::parse(s_.key.open(q.column_blob(4), column::webhook_request), nullptr, false);
            if (req.is_object()) {
                r.call.method = req.value("method", "GET");
                r.call.url = req.value("url", "");
                r.call.body = req.value("body", "");
                if (const auto h = req.find("headers"); h != req.end() && h->is_array()) {
                    r.call.headers = h->get<std::vector<std::pair<std::string, std::string>>>();
                }
            }
            out.push_back(std::move(r));
        }
        return out;
    }

    void finish_webhook(std::int64_t id) override { s_.finish_webhook.bind(1, id).run(); }

    std::vector<flows::group_ref> groups_of(std::int64_t contact_id) {
        auto& q = s_.load_groups;
        sqlite::reset_guard g(q);
        q.bind(1, contact_id);
        std::vector<flows::group_ref> out;
        while (q.step()) {
            out.push_back({q.column_text(0), q.column_text(1)});
        }
        return out;
    }

    std::optional<std::int64_t> insert_inbound(const inbound_record& m) override {
        s_.insert_inbound.bind(1, handlers::time_ordered_uuid(to_millis(m.received_at)))
            .bind(2, m.channel_id)
            .bind(3, m.contact_id)
            .bind_blob(4, message_urn_.remember(m.urn, m.sealed != nullptr ? &m.sealed->urn : nullptr))
            .bind(5, m.external_id)
            .bind_blob(6, m.sealed != nullptr ? m.sealed->text : s_.key.seal(m.text, column::message_text))
            .bind(7, to_millis(m.received_at))
            .run();
        if (s_.db.changes() == 0) {
            return std::nullopt;
        }
        return s_.db.last_insert_rowid();
    }

    std::optional<stored_session> load_session(std::int64_t contact_id) override {
        auto& q = s_.load_session;
        sqlite::reset_guard g(q);
        q.bind(1, contact_id);
        if (!q.step()) {
            return std::nullopt;
        }
        stored_session s;
        s.run_id = q.column_int64(0);
        s.session = flows::session_from_json(
            nlohmann::json::parse(s_.key.open(q.column_blob(1), column::session_state)));
        if (!q.column_is_null(2)) {
            s.run_expires_at = from_millis(q.column_int64(2));
        }
        s.parent_runs = parent_runs_from_json(q.column_text(3));
        return s;
    }

    std::vector<std::int64_t> due_sessions(timestamp now, std::size_t limit) override {
        auto& q = s_.due_sessions;
        sqlite::reset_guard g(q);
        q.bind(1, to_millis(now)).bind(2, static_cast<std::int64_t>(limit));
        std::vector<std::int64_t> out;
        while (q.step()) {
            out.push_back(q.column_int64(0));
        }
        return out;
    }

    std::optional<contact_address> load_contact(std::int64_t contact_id) override {
        auto& q = s_.contact_by_id;
        sqlite::reset_guard g(q);
        q.bind(1, contact_id);
        if (!q.step()) {
            return std::nullopt;
        }
        contact_address a{
            contact_from_row(q), s_.key.open(q.column_blob(6), column::contact_urn), q.column_text(7)};
        q.reset();
        a.contact.groups = groups_of(a.contact.id);
        return a;
    }

    void save_session(std::int64_t contact_id, const stored_session& s, timestamp now) override {
        std::optional<std::int64_t> expires;
        if (s.session.wait_expires_at) {
            expires = to_millis(*s.session.wait_expires_at);
        }
        s_.save_session.bind(1, contact_id)
            .bind(2, s.run_id)
            .bind(3, s.session.flow_id)
            .bind_blob(4, s_.key.seal(flows::to_json(s.session).dump(), column::session_state))
            .bind(5, expires)
            .bind(6, to_millis(now))
            .bind(7, s.run_expires_at ? std::optional(to_millis(*s.run_expires_at)) : std::nullopt)
            .bind(8, parent_runs_json(s.parent_runs))
            .run();
        if (!started_.is(s.run_id, now)) {
            s_.touch_run.bind(1, s.run_id).bind(2, to_millis(now)).run();
        }
    }

    void delete_session(std::int64_t contact_id) override { s_.delete_session.bind(1, contact_id).run(); }

    std::int64_t start_run(std::int64_t contact_id, const std::string& flow_id, timestamp now) override {
        s_.start_run.bind(1, handlers::time_ordered_uuid(to_millis(now)))
            .bind(2, contact_id)
            .bind(3, flow_id)
            .bind(4, to_millis(now))
            .run();
        started_.remember(s_.db.last_insert_rowid(), now);
        return started_.id;
    }

    void end_run(std::int64_t run_id, flows::run_status status, timestamp now) override {
        s_.end_run.bind(1, run_id).bind(2, flows::to_string(status)).bind(3, to_millis(now)).run();
    }

    void save_result(std::int64_t run_id, const std::string& key, const flows::result_value& v) override {
        s_.save_result.bind(1, run_id)
            .bind(2, key)
            .bind(3, v.name)
            .bind_blob(4, s_.key.seal(v.value, column::result_value))
            .bind(5, v.category)
            .bind_blob(6, s_.key.seal(v.input, column::result_input))
            .bind(7, v.node_id)
            .bind(8, to_millis(v.created_at))
            .run();
    }

    std::int64_t enqueue_outbound(const new_outbound& m) override {
        s_.enqueue.bind(1, handlers::time_ordered_uuid(to_millis(m.created_at)))
            .bind(2, m.channel_id)
            .bind(3, m.contact_id)
            .bind_blob(4, message_urn_(m.urn))
            .bind_blob(5, s_.key.seal(m.text, column::message_text))
            .bind(6, m.encoding)
            .bind(7, m.segments)
            .bind(8, to_millis(m.created_at))
            .bind(9, m.reply_to)
            .bind(10, m.opt_out_reply ? 1 : 0)
            .bind(11, m.not_before ? std::optional(to_millis(*m.not_before)) : std::nullopt)
            .bind(12, m.expires_at ? std::optional(to_millis(*m.expires_at)) : std::nullopt)
            .bind(13, m.broadcast_id)
            .run();
        return s_.db.last_insert_rowid();
    }

    std::int64_t insert_broadcast(const broadcast_record& b) override {
        sqlite::statement q(
            s_.db,
            "INSERT INTO broadcasts (uuid, token_id, created_by, created_at, send_at, channel_id, text, "
            "audience, figures, recipients, total_segments) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
            "?11)");
        q.bind(1, b.uuid)
            .bind(2, b.token_id)
            .bind(3, b.created_by)
            .bind(4, to_millis(b.created_at))
            .bind(5, to_millis(b.send_at))
            .bind(6, b.channel_id)
            .bind(7, nlohmann::json(b.text).dump())
            .bind(8, b.audience.dump())
            .bind(9, b.figures.dump())
            .bind(10, b.recipients)
            .bind(11, b.total_segments)
            .run();
        return s_.db.last_insert_rowid();
    }

    std::optional<broadcast_record> find_broadcast(const std::string& uuid) override {
        return sqlite_store::read_broadcast(s_.db, uuid);
    }

    std::size_t cancel_broadcast(std::int64_t id, timestamp now) override {
        sqlite::statement cancel(s_.db,
                                 "UPDATE messages SET state = 'failed', error = 'cancelled', "
                                 "next_attempt_at = NULL, updated_at = ?2 WHERE broadcast_id = ?1 "
                                 "AND state = 'queued'");
        cancel.bind(1, id).bind(2, to_millis(now)).run();
        const auto n = static_cast<std::size_t>(s_.db.changes());
        sqlite::statement mark(s_.db,
                               "UPDATE broadcasts SET status = 'cancelled', cancelled_at = ?2 WHERE id = ?1");
        mark.bind(1, id).bind(2, to_millis(now)).run();
        return n;
    }

    std::size_t cancel_queued(std::int64_t contact_id, timestamp now) override {
        s_.cancel_queued.bind(1, contact_id).bind(2, to_millis(now)).run();
        return static_cast<std::size_t>(s_.db.changes());
    }

    void upsert_workshop(const flows::workshop& w, timestamp now) override {
        s_.upsert_workshop.bind(1, w.id)
            .bind(2, nlohmann::json(w.title).dump())
            .bind(3, nlohmann::json(w.place).dump())
            .bind(4, to_millis(w.starts_at))
            .bind(5, w.timezone)
            .bind(6, static_cast<std::int64_t>(w.capacity))
            .bind(7, w.open ? 1 : 0)
            .bind(8, to_millis(now))
            .run();
    }

    // Columns id, title, place, starts_at, timezone, capacity, open, taken.
    static flows::workshop workshop_from_row(const sqlite::statement& q) {
        flows::workshop w;
        w.id = q.column_text(0);
        w.title = nlohmann::json::parse(q.column_text(1)).get<flows::lang_text>();
        w.place = nlohmann::json::parse(q.column_text(2)).get<flows::lang_text>();
        w.starts_at = from_millis(q.column_int64(3));
        w.timezone = q.column_text(4);
        w.capacity = static_cast<int>(q.column_int64(5));
        w.open = q.column_int64(6) != 0;
        w.taken = static_cast<int>(q.column_int64(7));
        return w;
    }

    std::optional<timestamp> next_due(timestamp now) override {
        auto& q = s_.next_due;
        sqlite::reset_guard g(q);
        q.bind(1, to_millis(now));
        if (!q.step() || q.column_is_null(0)) {
            return std::nullopt;
        }
        return from_millis(q.column_int64(0));
    }

    std::optional<flows::workshop> find_workshop(const std::string& id) override {
        auto& q = s_.find_workshop;
        sqlite::reset_guard g(q);
        q.bind(1, id);
        if (!q.step()) {
            return std::nullopt;
        }
        return workshop_from_row(q);
    }

    std::vector<flows::workshop> open_workshops(timestamp now) override {
        auto& q = s_.open_workshops;
        sqlite::reset_guard g(q);
        q.bind(1, to_millis(now));
        std::vector<flows::workshop> out;
        while (q.step()) {
            out.push_back(workshop_from_row(q));
        }
        return out;
    }

    std::optional<flows::registration_status> registration(std::int64_t contact_id,
                                                           const std::string& workshop_id) override {
        auto& q = s_.find_registration;
        sqlite::reset_guard g(q);
        q.bind(1, contact_id).bind(2, workshop_id);
        if (!q.step()) {
            return std::nullopt;
        }
        return flows::registration_status_from(q.column_text(0));
    }

    void set_registration(std::int64_t contact_id,
                          const std::string& workshop_id,
                          flows::registration_status status,
                          timestamp now) override {
        s_.set_registration.bind(1, contact_id)
            .bind(2, workshop_id)
            .bind(3, flows::to_string(status))
            .bind(4, to_millis(now))
            .run();
    }

    std::optional<std::int64_t> first_waitlisted(const std::string& workshop_id) override {
        auto& q = s_.first_waitlisted;
        sqlite::reset_guard g(q);
        q.bind(1, workshop_id);
        if (!q.step()) {
            return std::nullopt;
        }
        return q.column_int64(0);
    }

    std::vector<std::int64_t> registered_contacts(const std::string& workshop_id) override {
        auto& q = s_.registered_contacts;
        sqlite::reset_guard g(q);
        q.bind(1, workshop_id);
        std::vector<std::int64_t> out;
        while (q.step()) {
            out.push_back(q.column_int64(0));
        }
        return out;
    }

    void schedule_workshop_job(const workshop_job& job) override {
        s_.schedule_job.bind(1, job.contact_id)
            .bind(2, job.workshop_id)
            .bind(3, job.flow_id)
            .bind(4, to_millis(job.due_at))
            .bind(5, job.expires_at ? std::optional(to_millis(*job.expires_at)) : std::nullopt)
            .run();
    }

    void cancel_workshop_jobs(std::int64_t contact_id, const std::string& workshop_id) override {
        s_.cancel_jobs.bind(1, contact_id).bind(2, workshop_id).run();
    }

    std::vector<workshop_job> take_due_workshop_jobs(timestamp now, std::size_t limit) override {
        auto& q = s_.take_jobs;
        sqlite::reset_guard g(q);
        q.bind(1, to_millis(now)).bind(2, static_cast<std::int64_t>(limit));
        std::vector<workshop_job> out;
        while (q.step()) {
            workshop_job j;
            j.id = q.column_int64(0);
            j.contact_id = q.column_int64(1);
            j.workshop_id = q.column_text(2);
            j.flow_id = q.column_text(3);
            j.due_at = from_millis(q.column_int64(4));
            if (!q.column_is_null(5)) {
                j.expires_at = from_millis(q.column_int64(5));
            }
            out.push_back(std::move(j));
        }
        // RETURNING gives no order: the oldest first, as they fell due.
        std::sort(out.begin(), out.end(), [](const workshop_job& a, const workshop_job& b) {
            return std::pair(a.due_at, a.id) < std::pair(b.due_at, b.id);
        });
        return out;
    }

    std::vector<outbound_record> claim_outbound(timestamp now, std::size_t limit) override {
        if (s_.stop_sweep_due) {
            s_.fail_stopped.bind(1, to_millis(now)).run();
            s_.stop_sweep_due = false;
        }
        s_.expire_queued.bind(1, to_millis(now)).run();
        std::vector<outbound_record> out;
        read_due(s_.due_direct, now, limit, out);
        if (out.size() < limit) {
            read_due(s_.due_broadcast, now, limit - out.size(), out);
        }
        for (const auto& r : out) {
            s_.claim_one.bind(1, r.id).bind(2, to_millis(now)).run();
        }
        return out;
    }

    // Appends up to `limit` due messages of one kind (due_sql) to `out`, as they will be once
    // claimed.
    void read_due(sqlite::statement& q, timestamp now, std::size_t limit, std::vector<outbound_record>& out) {
        sqlite::reset_guard g(q);
        q.bind(1, to_millis(now)).bind(2, static_cast<std::int64_t>(limit));
        while (q.step()) {
            outbound_record r;
            r.id = q.column_int64(0);
            r.uuid = q.column_text(1);
            r.channel_id = q.column_text(2);
            r.contact_id = q.column_int64(3);
            r.urn = s_.key.open(q.column_blob(4), column::message_urn);
            r.text = s_.key.open(q.column_blob(5), column::message_text);
            r.state = msg_state::sending;
            r.attempts = static_cast<int>(q.column_int64(6));
            r.segments = static_cast<int>(q.column_int64(7));
            if (!q.column_is_null(8)) {
                r.last_inbound_at = from_millis(q.column_int64(8));
            }
            out.push_back(std::move(r));
        }
    }

    bool confirm_send(std::int64_t id, timestamp now) override {
        s_.fail_stopped_send.bind(1, id).bind(2, to_millis(now)).run();
        if (s_.db.changes() > 0) {
            return false;
        }
        auto& q = s_.still_sending;
        sqlite::reset_guard g(q);
        q.bind(1, id);
        return q.step();
    }

    void mark_sent(std::int64_t id, const std::string& provider_id, timestamp now) override {
        s_.mark_sent.bind(1, id).bind(2, provider_id).bind(3, to_millis(now)).run();
        if (provider_id.empty() || s_.db.changes() == 0) {
            return;
        }
        // Reports that arrived before this commit apply now, forward only, in arrival order.
        msg_state state = msg_state::sent;
        bool early = false;
        {
            auto& q = s_.find_early;
            sqlite::reset_guard g(q);
            q.bind(1, id);
            while (q.step()) {
                early = true;
                const auto reported = state_from_string(q.column_text(0));
                if (reported && is_forward(state, *reported)) {
                    state = *reported;
                }
            }
        }
        if (early) {
            if (state != msg_state::sent) {
                s_.set_state.bind(1, id).bind(2, to_string(state)).bind(3, to_millis(now)).bind(4, "").run();
            }
            s_.drop_early.bind(1, id).run();
        }
    }

    void mark_retry(std::int64_t id,
                    timestamp next_attempt,
                    const std::string& error,
                    timestamp now) override {
        s_.mark_retry.bind(1, id)
            .bind(2, to_millis(next_attempt))
            .bind(3, error)
            .bind(4, to_millis(now))
            .run();
    }

    void mark_failed(std::int64_t id, const std::string& error, timestamp now) override {
        s_.mark_failed.bind(1, id).bind(2, error).bind(3, to_millis(now)).run();
    }

    bool apply_status(const std::string& channel_id,
                      const std::string& message_id,
                      msg_state state,
                      timestamp now,
                      const std::string& error) override {
        std::int64_t id = 0;
        msg_state current;
        {
            auto& q = s_.find_out;
            sqlite::reset_guard g(q);
            q.bind(1, channel_id).bind(2, message_id);
            if (!q.step()) {
                // Perhaps a report for a send whose outcome we have not recorded yet: keep it a
                // day for mark_sent, then let it go.
                q.reset();
                s_.purge_early.bind(1, to_millis(now - std::chrono::hours(24))).run();
                s_.keep_early.bind(1, channel_id)
                    .bind(2, message_id)
                    .bind(3, to_string(state))
                    .bind(4, to_millis(now))
                    .run();
                return false;
            }
            id = q.column_int64(0);
            current = state_from_string(q.column_text(1)).value_or(msg_state::unknown);
        }
        if (!is_forward(current, state)) {
            return false;
        }
        s_.set_state.bind(1, id).bind(2, to_string(state)).bind(3, to_millis(now)).bind(4, error).run();
        return true;
    }

    std::int64_t create_token(const std::string& name,
                              api_role role,
                              const std::string& token_hash,
                              timestamp now) override {
        sqlite::statement q(s_.db,
                            "INSERT INTO api_tokens (name, role, hash, created_at) VALUES (?1, ?2, ?3, ?4)");
        q.bind(1, name).bind(2, to_string(role)).bind(3, token_hash).bind(4, to_millis(now)).run();
        return s_.db.last_insert_rowid();
    }

    bool revoke_token(std::int64_t id, timestamp now) override {
        sqlite::statement q(s_.db,
                            "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL");
        q.bind(1, id).bind(2, to_millis(now)).run();
        return s_.db.changes() > 0;
    }

    void add_audit(const audit_entry& e) override {
        sqlite::statement q(s_.db,
                            "INSERT INTO audit_log (at, token_id, token_name, role, action, target, rows) "
                            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
        q.bind(1, to_millis(e.at))
            .bind(2, e.token_id)
            .bind(3, e.token_name)
            .bind(4, to_string(e.role))
            .bind(5, e.action)
            .bind(6, e.target)
            .bind(7, e.rows)
            .run();
    }

    std::size_t mark_interrupted_sends_unknown(timestamp now) override {
        s_.interrupted.bind(1, to_millis(now)).run();
        return static_cast<std::size_t>(s_.db.changes());
    }

   private:
    sqlite_store::statements& s_;
    sqlite::transaction tx_;
    lookup_memo lookup_{s_.key};
    seal_memo message_urn_{s_.key, column::message_urn};
    started_run started_;
    bool committed_ = false;
};

void migrate(sqlite::connection& db, const std::string& path, const data_key& key) {
    int version = 0;
    {
        sqlite::statement q(db, "PRAGMA user_version");
        if (q.step()) {
            version = static_cast<int>(q.column_int64(0));
        }
    }
    const int latest = static_cast<int>(migrations.size());
    if (version > latest) {
        throw std::runtime_error(path + " has schema version " + std::to_string(version) +
                                 ", newer than this flowgate (" + std::to_string(latest) +
                                 "); upgrade flowgate");
    }
    if (version == latest) {
        return;
    }
    {
        sqlite::transaction tx(db, sqlite::transaction::mode::immediate);
        for (int v = version; v < latest; ++v) {
            const auto& m = migrations[static_cast<std::size_t>(v)];
            db.exec(m.sql);
            if (m.code) {
                m.code(db, key);
            }
        }
        db.exec("PRAGMA user_version = " + std::to_string(latest));
        tx.commit();
    }
    if (version > 0 && version < sealed_version) {
        // Rows were sealed in place: rewrite the file and empty the WAL so that no page still holds
        // them in plain text (secure_delete zeroes freed pages; VACUUM leaves no stale copy).
        db.exec("VACUUM");
        db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    }
}

// Refuses a database written under another key: lookups would miss, and nothing would open.
void check_key(sqlite::connection& db, const std::string& path, const data_key& key) {
    sqlite::statement q(db, "SELECT fingerprint FROM store_key WHERE id = 1");
    if (!q.step()) {
        throw std::runtime_error(path + " has no data key fingerprint; it is damaged");
    }
    const std::string stored = q.column_text(0);
    if (stored == key.fingerprint()) {
        return;
    }
    if (stored == data_key::throwaway().fingerprint()) {
        throw std::runtime_error(path +
                                 " was written with \"data_key\": \"none\" (a throwaway database): "
                                 "start a new database for /data_key");
    }
    throw std::runtime_error(path + " was written with another data key: /data_key must be the key " +
                             "it was written with");
}

}  // namespace

int sqlite_store::schema_version() { return static_cast<int>(migrations.size()); }

std::string_view sqlite_store::migration_sql(int version) {
    return migrations.at(static_cast<std::size_t>(version - 1)).sql;
}

sqlite_store::sqlite_store(const std::string& path, data_key key) : path_(path), key_(std::move(key)) {
    // The writer's WAL frames go to the file in a few large writes at each commit's sync, not two
    // a frame (gateway/sqlite_vfs.hpp). The readers read through SQLite's own VFS.
    writer_ = std::make_unique<sqlite::connection>(path, false, sqlite::gathering_vfs());
    configure(*writer_);
    {
        sqlite::statement q(*writer_, "PRAGMA journal_mode = WAL");
        const bool stepped = q.step();
        // An in-memory database reports "memory"; a file must be in WAL.
        if (!stepped || (q.column_text(0) != "wal" && path != ":memory:")) {
            throw std::runtime_error("cannot put " + path + " in WAL mode");
        }
    }
    // FULL: a commit is durable across power loss before the provider gets its 2xx.
    writer_->exec("PRAGMA synchronous = FULL");
    writer_->exec("PRAGMA journal_size_limit = " + std::to_string(max_wal_pages * 4096));
    // SQLite's own auto-checkpoint runs inside the COMMIT that fills the log past 1000 pages: the
    // group's answers waited for it (about 4 ms), and a failed checkpoint (the disk is full) was
    // reported as the failure of that COMMIT, though the transaction is durably in the WAL, so the
    // writer would answer 503 for a stored message. The hook only counts; between_groups copies.
    sqlite3_wal_hook(
        writer_->handle(),
        [](void* self, sqlite3* db, const char* name, int pages) -> int {
            static_cast<sqlite_store*>(self)->wal_pages_ = pages;
            // A safety net for writes that do not come through the writer (the CLI's): the log
            // does not grow past journal_size_limit's 64 MB. The result is ignored, as above.
            if (pages >= max_wal_pages) {
                sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
            }
            return SQLITE_OK;
        },
        this);
    migrate(*writer_, path, key_);
    check_key(*writer_, path, key_);
    stmts_ = std::make_unique<statements>(*writer_, key_);
    if (path != ":memory:") {
        reader_ = std::make_unique<sqlite::connection>(path, true);
        configure(*reader_);
    }
}

sqlite_store::~sqlite_store() { close(); }

std::unique_ptr<write_tx> sqlite_store::begin_write() {
    if (!stmts_) {
        throw std::runtime_error("store is closed");
    }
    return std::make_unique<sqlite_write_tx>(*stmts_);
}

bool sqlite_store::ping() {
    // /healthz asks from an I/O thread. A read in progress (a broadcast's audience, an export) shows
    // the store answering; waiting for it would hold the thread, and the webhooks it serves, for as
    // long as the read takes.
    std::unique_lock lock(reader_mutex_, std::try_to_lock);
    if (!lock.owns_lock()) {
        return true;
    }
    if (!reader_) {
        return stmts_ != nullptr;
    }
    try {
        sqlite::statement q(*reader_, "SELECT 1 FROM sqlite_schema LIMIT 1");
        q.step();
        return true;
    } catch (const sqlite::error&) {
        return false;
    }
}

message_counts sqlite_store::count_messages() {
    std::lock_guard lock(reader_mutex_);
    sqlite::connection& db = read_db();
    message_counts counts;
    sqlite::statement q(db, "SELECT direction, state, count(*) FROM messages GROUP BY direction, state");
    while (q.step()) {
        const std::string direction = q.column_text(0);
        const std::int64_t n = q.column_int64(2);
        if (direction == "in") {
            counts.inbound += n;
        } else {
            counts.outbound += n;
            counts.outbound_by_state[q.column_text(1)] += n;
        }
    }
    return counts;
}

const char* to_string(api_role r) {
    switch (r) {
        case api_role::viewer:
            return "viewer";
        case api_role::staff:
            return "staff";
        case api_role::admin:
            return "admin";
    }
    return "viewer";
}

std::optional<api_role> api_role_from(std::string_view s) {
    for (const auto r : {api_role::viewer, api_role::staff, api_role::admin}) {
        if (s == to_string(r)) {
            return r;
        }
    }
    return std::nullopt;
}

std::optional<api_token> sqlite_store::find_token(const std::string& token_hash) {
    std::lock_guard lock(reader_mutex_);
    sqlite::connection& db = read_db();
    sqlite::statement q(db, "SELECT id, name, role FROM api_tokens WHERE hash = ?1 AND revoked_at IS NULL");
    q.bind(1, token_hash);
    if (!q.step()) {
        return std::nullopt;
    }
    const auto role = api_role_from(q.column_text(2));
    if (!role) {
        return std::nullopt;
    }
    return api_token{q.column_int64(0), q.column_text(1), *role};
}

std::vector<workshop_summary> sqlite_store::list_workshops() {
    std::lock_guard lock(reader_mutex_);
    sqlite::connection& db = read_db();
    sqlite::statement q(db,
                        "SELECT w.id, w.title, w.place, w.starts_at, w.timezone, w.capacity, w.open, "
                        "count(r.id) FILTER (WHERE r.status IN ('registered', 'attended')), "
                        "count(r.id) FILTER (WHERE r.status = 'waitlisted'), "
                        "count(r.id) FILTER (WHERE r.status = 'cancelled') "
                        "FROM workshops w LEFT JOIN registrations r ON r.workshop_id = w.id "
                        "GROUP BY w.id ORDER BY w.starts_at, w.id");
    std::vector<workshop_summary> out;
    while (q.step()) {
        workshop_summary s;
        s.workshop.id = q.column_text(0);
        s.workshop.title = nlohmann::json::parse(q.column_text(1)).get<flows::lang_text>();
        s.workshop.place = nlohmann::json::parse(q.column_text(2)).get<flows::lang_text>();
        s.workshop.starts_at = from_millis(q.column_int64(3));
        s.workshop.timezone = q.column_text(4);
        s.workshop.capacity = static_cast<int>(q.column_int64(5));
        s.workshop.open = q.column_int64(6) != 0;
        s.workshop.taken = static_cast<int>(q.column_int64(7));
        s.waitlisted = static_cast<int>(q.column_int64(8));
        s.cancelled = static_cast<int>(q.column_int64(9));
        out.push_back(std::move(s));
    }
    return out;
}

std::optional<std::vector<registration_row>> sqlite_store::list_registrations(
    const std::string& workshop_id) {
    std::lock_guard lock(reader_mutex_);
    sqlite::connection& db = read_db();
    {
        sqlite::statement exists(db, "SELECT 1 FROM workshops WHERE id = ?1");
        exists.bind(1, workshop_id);
        if (!exists.step()) {
            return std::nullopt;
        }
    }
    sqlite::statement q(
        db,
        "SELECT c.uuid, c.name, c.language, r.status, r.created_at, r.updated_at "
        "FROM registrations r JOIN contacts c ON c.id = r.contact_id WHERE r.workshop_id = ?1 "
        "ORDER BY r.updated_at, r.id");
    q.bind(1, workshop_id);
    std::vector<registration_row> out;
    while (q.step()) {
        registration_row r;
        r.contact_uuid = q.column_text(0);
        r.contact_name = q.column_text(1);
        r.language = q.column_text(2);
        r.status =
            flows::registration_status_from(q.column_text(3)).value_or(flows::registration_status::cancelled);
        r.created_at = from_millis(q.column_int64(4));
        r.updated_at = from_millis(q.column_int64(5));
        out.push_back(std::move(r));
    }
    return out;
}

std::vector<api_token_info> sqlite_store::list_tokens() {
    std::lock_guard lock(reader_mutex_);
    sqlite::statement q(read_db(),
                        "SELECT id, name, role, created_at, revoked_at FROM api_tokens ORDER BY id");
    std::vector<api_token_info> out;
    while (q.step()) {
        api_token_info t;
        t.token = api_token{
            q.column_int64(0), q.column_text(1), api_role_from(q.column_text(2)).value_or(api_role::viewer)};
        t.created_at = from_millis(q.column_int64(3));
        if (!q.column_is_null(4)) {
            t.revoked_at = from_millis(q.column_int64(4));
        }
        out.push_back(std::move(t));
    }
    return out;
}

std::vector<audit_entry> sqlite_store::list_audit(std::size_t limit, std::int64_t before) {
    std::lock_guard lock(reader_mutex_);
    sqlite::statement q(read_db(),
                        "SELECT id, at, token_id, token_name, role, action, target, rows FROM audit_log "
                        "WHERE ?1 = 0 OR id < ?1 ORDER BY id DESC LIMIT ?2");
    q.bind(1, before).bind(2, static_cast<std::int64_t>(limit));
    std::vector<audit_entry> out;
    while (q.step()) {
        out.push_back(audit_entry{q.column_int64(0),
                                  from_millis(q.column_int64(1)),
                                  q.column_int64(2),
                                  q.column_text(3),
                                  api_role_from(q.column_text(4)).value_or(api_role::viewer),
                                  q.column_text(5),
                                  q.column_text(6),
                                  q.column_int64(7)});
    }
    return out;
}

bool sqlite_store::between_groups(bool busy) {
    // A checkpoint costs a sync of the log and of the database file plus a copy of each page in
    // the log, and the jobs that arrive meanwhile wait for it. With time to spare: from 250 pages,
    // 2 to 5 ms (mostly the two syncs), so that no job waits long behind one (at SQLite's usual
    // 1000, longer, and the group piled up behind it took as long again). Busy: from 4000 pages, so that the
    // log is copied a quarter as often; a page written several times in between is copied once, and the file
    // is synced once instead of four times.
    constexpr int light_pages = 250;
    constexpr int busy_pages = 4000;
    if (wal_pages_ < (busy ? busy_pages : light_pages)) {
        return false;
    }
    wal_pages_ = 0;  // the next commit's hook counts again
    // PASSIVE: copies what no reader still needs and never waits. A failure loses nothing (the
    // frames stay in the WAL, replayed on the next open); the next group tries again.
    sqlite3_wal_checkpoint_v2(writer_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    return true;
}

bool sqlite_store::checkpoint() {
    if (!writer_) {
        return false;
    }
    const int rc =
        sqlite3_wal_checkpoint_v2(writer_->handle(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
    // SQLITE_BUSY: a reader still uses the log; the pages are copied later, at a later checkpoint.
    if (rc != SQLITE_OK) {
        return false;
    }
    wal_pages_ = 0;  // the log is empty: nothing for between_groups to copy
    return true;
}

void sqlite_store::close() {
    std::lock_guard lock(reader_mutex_);
    stmts_.reset();
    reader_.reset();
    // A failed checkpoint loses nothing: the WAL is replayed on the next open.
    checkpoint();
    writer_.reset();
}

}  // namespace flowgate::gateway
