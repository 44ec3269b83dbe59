#pragma once
// What one inbound event does to the store, inside the writer's transaction: the contact, the
// message (deduplicated on channel + provider id), the flow step and everything it produces —
// session, run, results and outbound messages — commit together (a transactional outbox).

#include <cstddef>
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

    ingest_outcome apply(write_tx& tx,
                         const std::string& channel_id,
                         const handlers::incoming_message& message,
                         timestamp now) const;
    bool apply(write_tx& tx,
               const std::string& channel_id,
               const handlers::status_update& update,
               timestamp now) const;
    void apply(write_tx& tx,
               const std::string& channel_id,
               const handlers::channel_event& event,
               timestamp now) const;

    // Applies a flow step's effects for a contact; returns the outbound messages queued.
    std::size_t apply_step(write_tx& tx,
                           const std::string& channel_id,
                           const contact_record& contact,
                           const std::string& urn,
                           std::optional<stored_session> current,
                           const flows::step_output& step,
                           std::optional<std::int64_t> reply_to,
                           timestamp now) const;

    // Waits that timed out take their timeout branch; runs past their flow's expire_after end as
    // expired. At most `limit` sessions per call.
    timer_outcome fire_due(write_tx& tx, timestamp now, std::size_t limit) const;

    // A webhook call was made (status 0: no response): the run waiting for it goes on. Returns
    // the outbound messages queued.
    std::size_t apply_webhook_result(
        write_tx& tx, const webhook_record& call, int status, std::string_view body, timestamp now) const;

   private:
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
    flows::standing_matcher keywords_;  // the config's words, normalised once
    const flows::engine& engine_;
};

flows::contact_view to_view(const contact_record& c);

}  // namespace flowgate::gateway
