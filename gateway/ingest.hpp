#pragma once
// What one inbound event does to the store, inside the writer's transaction: the contact, the
// message (deduplicated on channel + provider id), the flow step and everything it produces —
// session, run, results and outbound messages — commit together (a transactional outbox).

#include <cstddef>
#include <map>
#include <string>

#include "config/config.hpp"
#include "flows/engine.hpp"
#include "flows/keywords.hpp"
#include "gateway/store.hpp"
#include "handlers/handler.hpp"

namespace flowgate::gateway {

struct ingest_outcome {
    bool duplicate = false;  // already stored: acknowledged again, nothing changed
    std::size_t queued = 0;  // outbound messages queued by the flow step
};

struct timer_outcome {
    std::size_t fired = 0;   // sessions whose wait timed out or whose run expired
    std::size_t queued = 0;  // outbound messages queued by them
};

class ingest {
   public:
    ingest(const config::config& cfg, const flows::engine& engine);

    // `sealed`: the message's sealed columns made ahead of the job (store::seal_inbound), or null.
    ingest_outcome apply(write_tx& tx,
                         const std::string& channel_id,
                         const handlers::incoming_message& message,
                         timestamp now,
                         const sealed_inbound* sealed = nullptr) const;
    bool apply(write_tx& tx,
               const std::string& channel_id,
               const handlers::status_update& update,
               timestamp now) const;
    void apply(write_tx& tx,
               const std::string& channel_id,
               const handlers::channel_event& event,
               timestamp now) const;

    // Applies a flow step's effects for a contact; returns the outbound messages queued. Messages
    // that answer nothing (no `reply_to`, not `direct`) wait out quiet hours; `expires_at` is
    // their validity.
    std::size_t apply_step(write_tx& tx,
                           const std::string& channel_id,
                           const contact_record& contact,
                           const std::string& urn,
                           std::optional<stored_session> current,
                           const flows::step_output& step,
                           std::optional<std::int64_t> reply_to,
                           timestamp now,
                           std::optional<timestamp> expires_at = std::nullopt,
                           bool direct = false) const;

    // At start: the config's workshops into the store. A workshop that moved moves its reminders;
    // one that grew gives its new places to the waiting list.
    void seed_workshops(write_tx& tx, timestamp now) const;
    // Adds a workshop or changes it in place, with the same consequences (the admin API).
    void save_workshop(write_tx& tx, const flows::workshop& w, timestamp now) const;

    // Staff mark attendance or cancel a place (the admin API). `attended` needs a place;
    // `cancelled` takes a place or a turn on the waiting list, tells the contact
    // (cancellation_flow, shortly after, as a reminder is sent) and gives a freed place to the
    // waiting list. Cancelling a cancelled registration changes nothing.
    enum class staff_change { changed, unchanged, not_registered, not_allowed };
    staff_change staff_set_registration(write_tx& tx,
                                        std::int64_t contact_id,
                                        const std::string& workshop_id,
                                        flows::registration_status status,
                                        timestamp now) const;

    // Erasure (the admin API): the contact's places go to the waiting list as cancellations'
    // would, then everything about them is deleted (write_tx::erase_contact).
    void erase_contact(write_tx& tx, std::int64_t contact_id, timestamp now) const;

    // Reminders and waiting-list news that fell due start their flows; waits that timed out take
    // their timeout branch; runs past their flow's expire_after end as expired. At most `limit`
    // of each per call.
    timer_outcome fire_due(write_tx& tx, timestamp now, std::size_t limit) const;

    // A webhook call was made (status 0: no response): the run waiting for it goes on. Returns
    // the outbound messages queued.
    std::size_t apply_webhook_result(
        write_tx& tx, const webhook_record& call, int status, std::string_view body, timestamp now) const;

   private:
    // A registration changed: a place schedules its reminders; a cancelled place cancels them and
    // goes to the waiting list.
    void change_registration(write_tx& tx,
                             std::int64_t contact_id,
                             const std::string& workshop_id,
                             flows::registration_status status,
                             timestamp now) const;
    void schedule_reminders(write_tx& tx,
                            std::int64_t contact_id,
                            const flows::workshop& w,
                            timestamp now) const;
    // Free places go to the waiting list, longest waiting first; each is told (promotion_flow).
    void fill_places(write_tx& tx, const std::string& workshop_id, timestamp now) const;
    std::size_t fire_workshop_job(write_tx& tx, const workshop_job& job, timestamp now) const;

    // Queues a message, as several when the channel's provider takes shorter texts. Returns how many.
    std::size_t enqueue(write_tx& tx, const new_outbound& out) const;

    void reply(write_tx& tx,
               const std::string& channel_id,
               const contact_record& contact,
               const std::string& urn,
               const flows::lang_text& text,
               const std::string& hint,
               std::int64_t reply_to,
               timestamp now,
               bool opt_out_reply) const;

    const config::config& config_;
    const flows::engine& engine_;
    flows::standing_matcher keywords_;                // the config's words, normalised once
    std::map<std::string, std::size_t> text_limits_;  // channel id → handler_type::max_text_length
};

flows::contact_view to_view(const contact_record& c);

// A contact opts out, at once and for good: marked stopped, their conversation ends (every run of
// it, as interrupted), and what is still queued to them fails. For STOP, a provider's opt-out
// callback, and a provider refusing a send because the contact blocked or unsubscribed.
void opt_out(write_tx& tx, std::int64_t contact_id, timestamp now);

}  // namespace flowgate::gateway
