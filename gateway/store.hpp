#pragma once
// The store interface, implemented by SQLite (gateway/sqlite_store.hpp) and PostgreSQL
// (gateway/postgres_store.hpp); the same tests run on both.
// Writes happen inside a write_tx, which one writer at a time owns (the writer thread batches
// many events into one transaction: group commit). Nothing here is told a plaintext phone number
// for logging, and implementations never log bound values.

#include <utility>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/types.hpp"
#include "flows/engine.hpp"
#include "flows/model.hpp"

namespace flowgate::gateway {

struct contact_record {
    std::int64_t id = 0;
    std::string uuid;
    std::string name;
    std::string language;
    bool stopped = false;
    std::map<std::string, std::string> fields;
    std::vector<flows::group_ref> groups;
};

// An inbound message's URN and text sealed, and the URN's lookup hash, made by store::seal_inbound
// on the I/O thread that took the request: AES-GCM and HMAC that the single writer then need not do.
struct sealed_inbound {
    std::string urn_lookup;  // data_key::lookup(urn)
    std::string urn;         // sealed for messages.urn
    std::string text;        // sealed for messages.text
};

// The run a write transaction started last, and when. A session saved for that run at that
// moment does not touch the run (start_run has just written its updated_at): a new conversation's
// first step is one statement fewer.
struct started_run {
    std::int64_t id = 0;
    timestamp at{};
    void remember(std::int64_t run, timestamp now) {
        id = run;
        at = now;
    }
    bool is(std::int64_t run, timestamp now) const { return id != 0 && id == run && at == now; }
};

struct inbound_record {
    std::string channel_id;
    std::string external_id;
    std::string urn;
    std::string text;
    std::int64_t contact_id = 0;
    timestamp received_at{};
    // The same URN and text, already sealed; null: insert_inbound seals them.
    const sealed_inbound* sealed = nullptr;
};

struct new_outbound {
    std::string channel_id;
    std::int64_t contact_id = 0;
    std::string urn;
    std::string text;
    std::string encoding;  // "GSM-7" | "UCS-2"
    int segments = 0;
    std::optional<std::int64_t> reply_to;  // the inbound message that caused it
    timestamp created_at{};
    // The one message that may go to a contact who opted out: the confirmation of their STOP.
    bool opt_out_reply = false;
    // Not sent before this (quiet hours); unset: at once.
    std::optional<timestamp> not_before = std::nullopt;
    // Not sent from this time on: it expires instead (a reminder once its workshop has started).
    std::optional<timestamp> expires_at = std::nullopt;
    // The broadcast it is part of (the store's id of it), if any.
    std::optional<std::int64_t> broadcast_id = std::nullopt;
};

struct outbound_record {
    std::int64_t id = 0;
    std::string uuid;
    std::string channel_id;
    std::int64_t contact_id = 0;
    std::string urn;
    std::string text;
    msg_state state = msg_state::queued;
    int attempts = 0;
    std::optional<timestamp> last_inbound_at;  // the contact's last message to us on this channel
    int segments = 1;                          // what the message costs against a channel's rate
};

// A flow's HTTP call, kept until it is made and its result applied (the request may hold
// personal data: the row is deleted once done).
struct webhook_record {
    std::int64_t id = 0;
    std::int64_t contact_id = 0;
    flows::webhook_call call;
};

// A flow to start for a contact about a workshop at a time: a reminder, or the news of a place
// from the waiting list.
struct workshop_job {
    std::int64_t id = 0;
    std::int64_t contact_id = 0;
    std::string workshop_id;
    std::string flow_id;
    timestamp due_at{};
    std::optional<timestamp> expires_at;  // dropped if it could not start before this
};

struct stored_session {
    std::int64_t run_id = 0;                // the innermost run (a subflow's, while one runs)
    std::vector<std::int64_t> parent_runs;  // the runs waiting for it, outermost first
    flows::session session;
    std::optional<timestamp> run_expires_at;  // when the run ends as expired
};

// A contact with the URN and channel to reach them on (for messages that answer no message:
// timeouts, reminders).
struct contact_address {
    contact_record contact;
    std::string urn;
    std::string channel_id;
};

// Admin API tokens (`flowgate token create`): only a hash of the token is stored.
enum class api_role { viewer, staff, admin };  // each role may do what the ones before it may
const char* to_string(api_role r);
std::optional<api_role> api_role_from(std::string_view s);

struct api_token {
    std::int64_t id = 0;
    std::string name;
    api_role role = api_role::viewer;
};

// A token as admins see it: never the token or its hash.
struct api_token_info {
    api_token token;
    timestamp created_at{};
    std::optional<timestamp> revoked_at;
};

// A workshop with its registrations counted, for staff.
struct workshop_summary {
    flows::workshop workshop;  // `taken`: places given
    int waitlisted = 0;
    int cancelled = 0;
};

// One registration as staff see it: the contact by UUID and name, never a number.
struct registration_row {
    std::string contact_uuid;
    std::string contact_name;
    std::string language;
    flows::registration_status status = flows::registration_status::registered;
    timestamp created_at{};
    timestamp updated_at{};
};

// One staff action through the admin API: who, what, which object, how many rows. Never message
// bodies or numbers.
struct audit_entry {
    std::int64_t id = 0;
    timestamp at{};
    std::int64_t token_id = 0;
    std::string token_name;
    api_role role = api_role::viewer;
    std::string action;  // "workshop.create", "contacts.import", "results.export_identified", ...
    std::string target;  // the object's id: a workshop id, a contact UUID, a flow id; may be empty
    std::int64_t rows = 0;
};

// One run of a flow with its saved results: a row of the results export (RapidPro's shape).
// `contact_name` and `urn` are filled only for an identified export (admin only); otherwise they
// are not even read.
struct flow_run_row {
    std::int64_t id = 0;
    std::string contact_uuid;
    std::string contact_name;
    std::string urn;     // the contact's first URN, in full
    std::string status;  // "active", or how the run ended: "completed", "expired", "interrupted", "failed"
    timestamp started_at{};
    std::optional<timestamp> exited_at;
    std::map<std::string, flows::result_value> values;  // by result key
};

// Which contacts staff are looking for (GET /api/v1/contacts): every filter given must hold.
struct contact_query {
    std::vector<std::string> urns;  // owns any of these (a number under both schemes); empty: any
    std::string group;              // in the group of this name; empty: any
    std::optional<std::pair<std::string, std::string>> field;  // this field has this value
    std::optional<bool> stopped;
    std::string name_part;   // the name contains it (ASCII letters compared without case)
    std::int64_t after = 0;  // keyset paging: only contacts with a higher id, in id order
    std::size_t limit = 50;
};

// A contact as staff see it (the API masks the URNs).
struct contact_details {
    contact_record contact;  // with groups and fields
    std::vector<std::string> urns;
    timestamp created_at{};
    // Workshop id and status (filled in by find_contact only).
    std::vector<std::pair<std::string, flows::registration_status>> registrations;
};

// Who a broadcast is for (docs/api.md, "Broadcasts"): exactly one kind, already validated.
struct broadcast_audience {
    enum class kind { urns, group, workshop, flow, all };
    kind type = kind::all;
    std::vector<std::string> urns;  // normalised ("tel:+962791234567"), each once
    std::string group;              // a group's name or RapidPro UUID
    std::string workshop_id;
    flows::registration_status status = flows::registration_status::registered;
    std::string flow_id;  // a loaded flow's id
    // With a flow: only contacts whose latest run of it did not complete; otherwise every
    // contact who ever started it.
    bool non_responders = false;
};

// A contact a broadcast's audience names, with every URN they have (oldest first) and the channel
// each was last used on.
struct broadcast_contact {
    std::int64_t id = 0;
    std::string uuid;
    std::string language;
    bool stopped = false;
    std::string timezone;  // the contact field "timezone" as written; "" when not set
    std::vector<std::pair<std::string, std::string>> urns;  // (urn, channel id)
};

struct broadcast_audience_rows {
    std::vector<broadcast_contact> contacts;  // each contact once, by id
    std::int64_t unknown = 0;                 // URNs given that no contact has (a `urns` audience)
};

// A broadcast as stored: what staff asked for and the figures its plan gave.
struct broadcast_record {
    std::int64_t id = 0;  // the store's
    std::string uuid;     // the API's
    std::int64_t token_id = 0;
    std::string created_by;  // the token's name
    timestamp created_at{};
    timestamp send_at{};     // when it was to go out (the request's time, or its creation's)
    std::string channel_id;  // "" for each contact's own channel
    flows::lang_text text;
    nlohmann::json audience;  // as asked for, URNs masked
    nlohmann::json figures;   // recipients, opted_out, unreachable, unknown, languages, ...
    std::int64_t recipients = 0;
    std::int64_t total_segments = 0;
    bool cancelled = false;
    // Its messages still queued or being sent (read with it).
    std::int64_t pending = 0;
    // Its messages by state ("queued", "sent", ...), with the failed ones that a cancel failed
    // apart as "cancelled". Read only for one broadcast (find_broadcast).
    std::map<std::string, std::int64_t> messages;
};

// One stored message as `flowgate export messages` lists it: what identifies it and where it
// stands, never its text or the contact's number.
struct message_export_row {
    std::string uuid;       // ours
    std::string direction;  // "in" | "out"
    std::string channel_id;
    std::string external_id;  // the provider's id; "" when it has none (yet)
    std::string state;  // "handled" for inbound; queued, sending, sent, delivered, failed, unknown, expired
    std::string contact_uuid;
    std::string reply_to;  // the uuid of the inbound message an outbound one answers; "" if none
    int attempts = 0;
    timestamp created_at{};
    timestamp updated_at{};
};

// What a retention purge (write_tx::purge_before) took away.
struct purge_counts {
    std::size_t message_texts = 0;  // texts (and URNs) of settled messages emptied
    std::size_t runs = 0;           // finished runs deleted, with their results
};

struct message_counts {
    std::int64_t inbound = 0;
    std::int64_t outbound = 0;
    std::map<std::string, std::int64_t> outbound_by_state;
};

class write_tx {
   public:
    virtual ~write_tx() = default;

    // Savepoints isolate one event inside a group commit: a failing event rolls back alone.
    virtual void savepoint() = 0;
    virtual void release() = 0;
    virtual void rollback_to() = 0;
    virtual void commit() = 0;
    // A job starts without a savepoint (store::optimistic_groups): whatever savepoint() does
    // besides making the savepoint (forgetting what the last job read ahead, a later job's shorter
    // wait for another instance's lock).
    virtual void next_job() {}

    // The contact that owns `urn` (or the same number under the other scheme), created on first
    // contact — opted out from the start when the URN belonged to an erased contact who had opted
    // out (erase_contact).
    virtual contact_record upsert_contact(const std::string& urn,
                                          const std::string& channel_id,
                                          timestamp now) = 0;
    // `lookup` is data_key::lookup(urn), worked out beforehand (sealed_inbound): this transaction
    // uses it instead of computing it again.
    virtual void remember_lookup(const std::string& urn, const std::string& lookup) = 0;
    virtual void set_contact_name(std::int64_t contact_id, const std::string& name) = 0;
    virtual void set_contact_stopped(std::int64_t contact_id, bool stopped, timestamp now) = 0;
    virtual void set_contact_language(std::int64_t contact_id,
                                      const std::string& language,
                                      timestamp now) = 0;
    // An empty value clears the field.
    virtual void set_contact_field(std::int64_t contact_id,
                                   const std::string& key,
                                   const std::string& value) = 0;
    // Idempotent: adding a group twice or removing one the contact is not in changes nothing.
    virtual void add_contact_group(std::int64_t contact_id, const flows::group_ref& group) = 0;
    virtual void remove_contact_group(std::int64_t contact_id, const flows::group_ref& group) = 0;
    virtual void remove_all_contact_groups(std::int64_t contact_id) = 0;

    // The new message's id, or nullopt when (channel, external id) is already stored.
    virtual std::optional<std::int64_t> insert_inbound(const inbound_record& message) = 0;

    virtual std::optional<stored_session> load_session(std::int64_t contact_id) = 0;
    virtual void save_session(std::int64_t contact_id, const stored_session& s, timestamp now) = 0;
    virtual void delete_session(std::int64_t contact_id) = 0;
    // The earliest time after `now` at which something falls due: a wait's timeout, a run's
    // expiry, a workshop job, a queued message held back (simulate's virtual clock jumps to it).
    virtual std::optional<timestamp> next_due(timestamp now) = 0;
    // Contacts whose session's wait timed out or whose run expired by `now`.
    virtual std::vector<std::int64_t> due_sessions(timestamp now, std::size_t limit) = 0;
    virtual std::optional<contact_address> load_contact(std::int64_t contact_id) = 0;

    virtual std::int64_t start_run(std::int64_t contact_id, const std::string& flow_id, timestamp now) = 0;
    virtual void end_run(std::int64_t run_id, flows::run_status status, timestamp now) = 0;
    virtual void save_result(std::int64_t run_id,
                             const std::string& key,
                             const flows::result_value& value) = 0;

    // Workshops (config "workshops"), added or changed in place; `taken` is counted, not stored.
    virtual void upsert_workshop(const flows::workshop& w, timestamp now) = 0;
    virtual std::optional<flows::workshop> find_workshop(const std::string& id) = 0;
    // Open and not started at `now`, soonest first.
    virtual std::vector<flows::workshop> open_workshops(timestamp now) = 0;
    virtual std::optional<flows::registration_status> registration(std::int64_t contact_id,
                                                                   const std::string& workshop_id) = 0;
    virtual void set_registration(std::int64_t contact_id,
                                  const std::string& workshop_id,
                                  flows::registration_status status,
                                  timestamp now) = 0;
    // The contact longest on the workshop's waiting list, passing over contacts who opted out
    // (they could not be told; they keep their turn should they opt back in).
    virtual std::optional<std::int64_t> first_waitlisted(const std::string& workshop_id) = 0;
    // Contacts with a place (registered).
    virtual std::vector<std::int64_t> registered_contacts(const std::string& workshop_id) = 0;
    virtual void schedule_workshop_job(const workshop_job& job) = 0;
    virtual void cancel_workshop_jobs(std::int64_t contact_id, const std::string& workshop_id) = 0;
    // Jobs due at `now`, removed as they are taken (the caller's transaction starts their flows).
    virtual std::vector<workshop_job> take_due_workshop_jobs(timestamp now, std::size_t limit) = 0;

    // Outbox. A message goes queued → sending → sent | failed (or back to queued for a retry).
    virtual std::int64_t enqueue_outbound(const new_outbound& message) = 0;
    // The same, for a caller that needs no id (a reply, a broadcast's messages): the PostgreSQL store
    // then sends it without waiting for the server's answer.
    virtual void queue_outbound(const new_outbound& message) { enqueue_outbound(message); }
    // Due queued messages, now marked sending with one more attempt. One contact's messages are
    // claimed one at a time, in order. Queued messages to contacts who opted out fail instead
    // (contact_stopped): the opt-out is checked again at send time; messages past their
    // expires_at become expired.
    virtual std::vector<outbound_record> claim_outbound(timestamp now, std::size_t limit) = 0;
    // A STOP: the contact's queued messages fail (contact_stopped), except an opt-out reply.
    // Returns how many.
    virtual std::size_t cancel_queued(std::int64_t contact_id, timestamp now) = 0;

    // The last check before a claimed message is handed to its provider (after any wait for the
    // channel's rate): whether it may go. Not when its contact opted out since it was claimed (it
    // fails, contact_stopped, unless it is the opt-out reply) or it is no longer 'sending' (the
    // contact was erased). A STOP committed before this check stops the message.
    virtual bool confirm_send(std::int64_t id, timestamp now) = 0;

    // Webhook calls: queued by a flow step, claimed by the webhook worker, deleted when done.
    virtual void enqueue_webhook(const webhook_record& call, timestamp now) = 0;
    virtual std::vector<webhook_record> claim_webhooks(std::size_t limit) = 0;
    virtual void finish_webhook(std::int64_t id) = 0;
    virtual void mark_sent(std::int64_t id, const std::string& provider_id, timestamp now) = 0;
    virtual void mark_retry(std::int64_t id,
                            timestamp next_attempt,
                            const std::string& error,
                            timestamp now) = 0;
    virtual void mark_failed(std::int64_t id, const std::string& error, timestamp now) = 0;
    // A status callback; `message_id` is our UUID or the provider's id. Never moves a message
    // backwards. `error`: the provider's error code for a failure, kept on the message. Returns
    // whether the state changed.
    virtual bool apply_status(const std::string& channel_id,
                              const std::string& message_id,
                              msg_state state,
                              timestamp now,
                              const std::string& error = {}) = 0;
    // At start-up: sends interrupted by a crash (state sending) become unknown. Returns how many.
    virtual std::size_t mark_interrupted_sends_unknown(timestamp now) = 0;

    // Broadcasts: stored, then their messages queued with enqueue_outbound (broadcast_id set).
    // Returns the broadcast's id.
    virtual std::int64_t insert_broadcast(const broadcast_record& b) = 0;
    // With its pending messages and its messages by state counted.
    virtual std::optional<broadcast_record> find_broadcast(const std::string& uuid) = 0;
    // Marks it cancelled; its queued messages fail with the error "cancelled" (those being sent
    // go on). Returns how many were cancelled.
    virtual std::size_t cancel_broadcast(std::int64_t id, timestamp now) = 0;

    // `token_hash`: hex SHA-256 of the token. Returns the token's id.
    virtual std::int64_t create_token(const std::string& name,
                                      api_role role,
                                      const std::string& token_hash,
                                      timestamp now) = 0;

    // Revokes a live token; returns whether there was one with this id.
    virtual bool revoke_token(std::int64_t id, timestamp now) = 0;

    virtual void add_audit(const audit_entry& entry) = 0;

    // The contact that owns `urn` or the same number under the other scheme, if any (nothing is
    // created).
    virtual std::optional<contact_record> find_contact(const std::string& urn) = 0;
    // The id of the contact with this UUID.
    virtual std::optional<std::int64_t> contact_id(const std::string& uuid) = 0;
    // The contact's registrations: workshop id and status.
    virtual std::vector<std::pair<std::string, flows::registration_status>> contact_registrations(
        std::int64_t contact_id) = 0;
    // Erasure: the contact and everything about them (URNs, groups, fields, messages in both
    // directions, runs, results, session, registrations, workshop jobs, webhook calls) is deleted.
    // A contact who had opted out leaves a suppression record of their URNs, so that a contact
    // made later from one of them (upsert_contact) starts opted out. Places they held are the
    // caller's to give away first (ingest::erase_contact).
    virtual void erase_contact(std::int64_t contact_id, timestamp now) = 0;
    // Retention (`retention_days`): empties the text and URN of every message stored before
    // `cutoff` that is settled (inbound, or outbound and no longer queued or being sent), and
    // deletes the runs that finished before it, with their results (a run still in a session is
    // kept). Contacts, registrations, counts and ids stay.
    virtual purge_counts purge_before(timestamp cutoff) = 0;
};

class store {
   public:
    virtual ~store() = default;

    // Only one write transaction exists at a time per lane; the lane's writer thread owns it.
    virtual std::unique_ptr<write_tx> begin_write() = 0;
    // How many writers may write at once, each in transactions of its own (the writer's lanes):
    // SQLite one, PostgreSQL as configured (/store/writers). Each takes its own connection.
    virtual std::size_t write_lanes() const { return 1; }
    // A write transaction on lane `lane` (< write_lanes()); begin_write() is lane 0's.
    virtual std::unique_ptr<write_tx> begin_write_on(std::size_t lane) {
        (void)lane;
        return begin_write();
    }
    // True when the writer may first run a group's jobs without a savepoint each and, should one
    // fail, roll the whole transaction back and run the group again, each job in its savepoint.
    // SQLite: a savepoint copies every page it touches that an earlier job of the group changed,
    // a third of the writer's work, for a rollback that almost never comes. PostgreSQL: two
    // statements a job, a subtransaction (and its own transaction id) for each job that writes, and
    // a round trip at each release (docs/performance.md, item 60). A later job's shorter wait for
    // another instance's lock holds without them (write_tx::next_job): a job that would wait longer
    // fails the group, which runs again with savepoints, where that job goes back to the queue and
    // waits for the lock in a later transaction, as before.
    virtual bool optimistic_groups() const { return false; }
    // An inbound message's sealed columns and lookup hash, ahead of its write job. Safe from any
    // thread.
    virtual sealed_inbound seal_inbound(std::string_view urn, std::string_view text) const = 0;
    // Whether the store answers (for /healthz). Safe from any thread.
    virtual bool ping() = 0;
    // Read-side summaries (tests, CLI). Safe from any thread.
    virtual message_counts count_messages() = 0;
    // The live (not revoked) token with this hash. Safe from any thread.
    virtual std::optional<api_token> find_token(const std::string& token_hash) = 0;
    // Every workshop, soonest first, with its registrations counted. Safe from any thread.
    virtual std::vector<workshop_summary> list_workshops() = 0;
    // A workshop's registrations, oldest first (the waiting list's order); nullopt when there is
    // no such workshop. Safe from any thread.
    virtual std::optional<std::vector<registration_row>> list_registrations(
        const std::string& workshop_id) = 0;
    // Every token, live and revoked, oldest first. Safe from any thread.
    virtual std::vector<api_token_info> list_tokens() = 0;
    // The audit log, newest first: up to `limit` entries with ids below `before` (0: from the
    // newest). Safe from any thread.
    virtual std::vector<audit_entry> list_audit(std::size_t limit, std::int64_t before) = 0;
    // Every run of the flow (by its id), oldest first, with its results; with `identified`, each
    // with its contact's name and first URN. Safe from any thread.
    virtual std::vector<flow_run_row> list_flow_runs(const std::string& flow_id, bool identified) = 0;
    // Contacts matching `q`, in id order: up to q.limit. Safe from any thread.
    virtual std::vector<contact_details> find_contacts(const contact_query& q) = 0;
    // One contact by UUID, with their registrations. Safe from any thread.
    virtual std::optional<contact_details> find_contact(const std::string& uuid) = 0;
    // The contacts a broadcast's audience names (whether or not they can be reached; opted-out
    // ones too, marked), in id order. Safe from any thread.
    virtual broadcast_audience_rows broadcast_contacts(const broadcast_audience& audience) = 0;
    // Broadcasts, newest first, up to `limit`, each with its pending messages counted. Safe from
    // any thread.
    virtual std::vector<broadcast_record> list_broadcasts(std::size_t limit) = 0;
    // One broadcast with its messages counted by state; nullopt when there is none. Safe from any
    // thread.
    virtual std::optional<broadcast_record> find_broadcast(const std::string& uuid) = 0;
    // Every stored message, both directions, in id order (the order they were stored), each handed
    // to `row` as it is read: nothing is gathered in memory. One read snapshot. Safe from any thread
    // (but holds the read connection until done: for the CLI, not for a request).
    virtual void export_messages(const std::function<void(const message_export_row&)>& row) = 0;
    // Moves everything committed into the database file and empties the log, so that bytes an
    // erasure or a purge overwrote are gone from disk (SQLite: wal_checkpoint(TRUNCATE)). Called
    // by the writer's thread between transactions; false when it could not be done now.
    virtual bool checkpoint() { return true; }
    // Housekeeping the writer's thread does between transactions, after the last group's jobs are
    // answered. `busy`: that group was large, so jobs arrive faster than the writer commits them.
    // SQLite copies its log into the database file here (a passive checkpoint): in small steps
    // when the writer has time to spare, so that no job waits long behind one; in large ones when
    // it is busy, so that the copying costs it less in all. True when it did any (the writer times
    // it for /metrics: the jobs that arrive meanwhile wait for it).
    virtual bool between_groups(bool busy) {
        (void)busy;
        return false;
    }
    // Releases file handles after the writer has stopped (checkpoint for SQLite).
    virtual void close() = 0;
};

}  // namespace flowgate::gateway
