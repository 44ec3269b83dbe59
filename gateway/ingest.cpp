#include "gateway/ingest.hpp"

#include "flows/calendar.hpp"
#include "flows/keywords.hpp"
#include "flows/normalize.hpp"
#include "flows/segments.hpp"
#include "handlers/registry.hpp"

namespace flowgate::gateway {

flows::contact_view to_view(const contact_record& c) {
    flows::contact_view v{c.uuid, c.name, c.language, c.fields};
    v.groups = c.groups;
    return v;
}

namespace {

// An outbound text with its encoding and segment count.
new_outbound outbound_text(const std::string& channel_id,
                           std::int64_t contact_id,
                           const std::string& urn,
                           const std::string& text,
                           std::optional<std::int64_t> reply_to,
                           timestamp now) {
    const auto seg = flows::count_segments(text);
    return {channel_id,
            contact_id,
            urn,
            text,
            flows::to_string(seg.encoding),
            static_cast<int>(seg.segments),
            reply_to,
            now};
}

// The workshops as one contact's flow step sees them, read in the step's own transaction.
class tx_workshop_book final : public flows::workshop_book {
   public:
    tx_workshop_book(write_tx& tx, std::int64_t contact_id) : tx_(tx), contact_id_(contact_id) {}

    std::vector<flows::workshop> open_workshops(timestamp now) const override {
        return tx_.open_workshops(now);
    }
    std::optional<flows::workshop> find_workshop(std::string_view id) const override {
        return tx_.find_workshop(std::string(id));
    }
    std::optional<flows::registration_status> registration(std::string_view workshop_id) const override {
        return tx_.registration(contact_id_, std::string(workshop_id));
    }

   private:
    write_tx& tx_;
    std::int64_t contact_id_;
};

// The contact as a flow step sees them, with the workshops.
flows::contact_view view_of(const contact_record& c, const flows::workshop_book& book) {
    auto v = to_view(c);
    v.workshops = &book;
    return v;
}

}  // namespace

void opt_out(write_tx& tx, std::int64_t contact_id, timestamp now) {
    tx.set_contact_stopped(contact_id, true, now);
    if (const auto current = tx.load_session(contact_id)) {
        // Every run of the conversation ends: a subflow's and the runs waiting for it.
        tx.end_run(current->run_id, flows::run_status::interrupted, now);
        for (auto it = current->parent_runs.rbegin(); it != current->parent_runs.rend(); ++it) {
            tx.end_run(*it, flows::run_status::interrupted, now);
        }
        tx.delete_session(contact_id);
    }
    tx.cancel_queued(contact_id, now);
}

ingest::ingest(const config::config& cfg, const flows::engine& engine)
    : config_(cfg), engine_(engine), keywords_(cfg.keywords) {
    for (const auto& c : cfg.channels) {
        if (const auto* type = handlers::find_handler_type(c.settings.type)) {
            text_limits_[c.settings.id] = type->max_text_length;
        }
    }
}

ingest_outcome ingest::apply(write_tx& tx,
                             const std::string& channel_id,
                             const handlers::incoming_message& message,
                             timestamp now,
                             const sealed_inbound* sealed) const {
    if (sealed != nullptr) {
        tx.remember_lookup(message.urn, sealed->urn_lookup);
    }
    contact_record contact = tx.upsert_contact(message.urn, channel_id, now);
    const auto id = tx.insert_inbound(
        {channel_id, message.external_id, message.urn, message.text, contact.id, now, sealed});
    if (!id) {
        return {true, 0};
    }
    if (contact.name.empty() && !message.contact_name.empty()) {
        tx.set_contact_name(contact.id, message.contact_name);
        contact.name = message.contact_name;
    }
    std::string hint;  // the language the message is written in, when its script or keyword tells
    auto lang = flows::infer_language(message.text, config_.languages);
    if (const auto words = flows::tokenize(message.text); !words.empty()) {
        if (const auto it = config_.trigger_languages.find(words.front());
            it != config_.trigger_languages.end()) {
            lang = it->second;
        }
    }
    if (lang) {
        hint = *lang;
        if (contact.language.empty()) {
            // A contact who writes Arabic is answered in Arabic from now on.
            tx.set_contact_language(contact.id, *lang, now);
            contact.language = *lang;
        }
    }
    const auto keyword = keywords_.match(message.text, contact.stopped);
    if (keyword == flows::standing::stop) {
        if (contact.stopped) {
            return {false, 0};  // one confirmation only
        }
        opt_out(tx, contact.id, now);  // then one confirmation
        reply(tx, channel_id, contact, message.urn, config_.keywords.stop_reply, hint, *id, now, true);
        return {false, 1};
    }
    if (contact.stopped) {
        if (keyword == flows::standing::start) {
            tx.set_contact_stopped(contact.id, false, now);
            reply(tx, channel_id, contact, message.urn, config_.keywords.start_reply, hint, *id, now, false);
            return {false, 1};
        }
        // Stored for the record; a stopped contact gets no flow step and no reply.
        return {false, 0};
    }
    if (keyword == flows::standing::help) {
        // Answered without touching the conversation: the flow still waits for its answer.
        reply(tx, channel_id, contact, message.urn, config_.keywords.help_reply, hint, *id, now, false);
        return {false, 1};
    }
    auto current = tx.load_session(contact.id);
    std::optional<flows::session> session;
    if (current) {
        session = current->session;
    }
    const tx_workshop_book book(tx, contact.id);
    const auto view = view_of(contact, book);
    const flows::step_output step = engine_.on_message(session, view, message.text, now);
    return {false, apply_step(tx, channel_id, contact, message.urn, current, step, *id, now)};
}

void ingest::reply(write_tx& tx,
                   const std::string& channel_id,
                   const contact_record& contact,
                   const std::string& urn,
                   const flows::lang_text& text,
                   const std::string& hint,
                   std::int64_t reply_to,
                   timestamp now,
                   bool opt_out_reply) const {
    const auto chosen = flows::pick_text(text, contact.language, hint, config_.languages).second;
    auto out = outbound_text(channel_id, contact.id, urn, chosen, reply_to, now);
    out.opt_out_reply = opt_out_reply;
    enqueue(tx, out);
}

std::size_t ingest::enqueue(write_tx& tx, const new_outbound& out) const {
    const auto limit = text_limits_.find(out.channel_id);
    if (limit == text_limits_.end() || limit->second == 0) {
        tx.queue_outbound(out);
        return 1;
    }
    // A provider that does not join long texts gets them as several messages, in order.
    const auto parts = handlers::split_text(out.text, limit->second);
    for (const auto& part : parts) {
        auto piece = out;
        const auto seg = flows::count_segments(part);
        piece.text = part;
        piece.encoding = flows::to_string(seg.encoding);
        piece.segments = static_cast<int>(seg.segments);
        tx.queue_outbound(piece);
    }
    return parts.size();
}

std::size_t ingest::apply_step(write_tx& tx,
                               const std::string& channel_id,
                               const contact_record& contact,
                               const std::string& urn,
                               std::optional<stored_session> current,
                               const flows::step_output& step,
                               std::optional<std::int64_t> reply_to,
                               timestamp now,
                               std::optional<timestamp> expires_at,
                               bool direct) const {
    if (!step.handled) {
        return 0;
    }
    // The runs of the session, outermost first; a subflow's run is pushed on top of its parent's.
    std::vector<std::int64_t> runs;
    if (current) {
        runs = current->parent_runs;
        runs.push_back(current->run_id);
    }
    std::size_t queued = 0;
    for (const auto& e : step.effects) {
        if (const auto* started = std::get_if<flows::run_started>(&e)) {
            runs.push_back(tx.start_run(contact.id, started->flow_id, now));
        } else if (const auto* ended = std::get_if<flows::run_ended>(&e)) {
            if (!runs.empty()) {
                tx.end_run(runs.back(), ended->status, now);
                runs.pop_back();
            }
        } else if (const auto* saved = std::get_if<flows::result_saved>(&e)) {
            if (!runs.empty()) {
                tx.save_result(runs.back(), saved->key, saved->value);
            }
        } else if (const auto* send = std::get_if<flows::send_msg>(&e)) {
            auto out = outbound_text(channel_id, contact.id, urn, send->text, reply_to, now);
            out.expires_at = expires_at;
            if (!reply_to && !direct) {
                // Not an answer to the contact (a timeout's nudge, a webhook's outcome): quiet
                // hours hold it until morning.
                if (const auto when = config_.outside_quiet_hours(now); when != now) {
                    out.not_before = when;
                }
            }
            queued += enqueue(tx, out);
        } else if (const auto* field = std::get_if<flows::contact_field_changed>(&e)) {
            tx.set_contact_field(contact.id, field->key, field->value);
        } else if (const auto* name = std::get_if<flows::contact_name_changed>(&e)) {
            tx.set_contact_name(contact.id, name->name);
        } else if (const auto* lang = std::get_if<flows::contact_language_changed>(&e)) {
            tx.set_contact_language(contact.id, lang->language, now);
        } else if (const auto* groups = std::get_if<flows::contact_groups_changed>(&e)) {
            if (groups->removed_all) {
                tx.remove_all_contact_groups(contact.id);
            }
            for (const auto& g : groups->removed) {
                tx.remove_contact_group(contact.id, g);
            }
            for (const auto& g : groups->added) {
                tx.add_contact_group(contact.id, g);
            }
        } else if (const auto* reg = std::get_if<flows::registration_changed>(&e)) {
            change_registration(tx, contact.id, reg->workshop_id, reg->status, now);
        } else if (const auto* call = std::get_if<flows::webhook_call>(&e)) {
            // Made by the webhook worker after this commit; its result resumes the run.
            tx.enqueue_webhook({0, contact.id, *call}, now);
        }
    }
    if (step.session && !runs.empty()) {
        stored_session saved;
        saved.run_id = runs.back();
        saved.parent_runs.assign(runs.begin(), runs.end() - 1);
        saved.session = *step.session;
        // The whole conversation expires with its outermost run.
        const bool nested = !step.session->parents.empty();
        const auto& outer_flow = nested ? step.session->parents.front().flow_id : step.session->flow_id;
        const auto started = nested ? step.session->parents.front().started_at : step.session->started_at;
        if (const flows::flow* f = config_.flows->find(outer_flow)) {
            saved.run_expires_at =
                started + std::chrono::duration_cast<std::chrono::milliseconds>(f->expire_after);
        }
        tx.save_session(contact.id, saved, now);
    } else if (current) {
        tx.delete_session(contact.id);
    }
    return queued;
}

bool ingest::apply(write_tx& tx,
                   const std::string& channel_id,
                   const handlers::status_update& update,
                   timestamp now) const {
    return tx.apply_status(channel_id, update.message_id, update.state, now, update.error_code);
}

void ingest::apply(write_tx& tx,
                   const std::string& channel_id,
                   const handlers::channel_event& event,
                   timestamp now) const {
    const contact_record contact = tx.upsert_contact(event.urn, channel_id, now);
    if (event.type == handlers::channel_event::kind::stop_contact) {
        opt_out(tx, contact.id, now);
        return;
    }
    if (contact.stopped) {
        return;  // opening the chat again is not an opt-in: that takes START
    }
    const auto current = tx.load_session(contact.id);
    std::optional<flows::session> session;
    if (current) {
        session = current->session;
    }
    const tx_workshop_book book(tx, contact.id);
    const auto step = engine_.on_new_conversation(session, view_of(contact, book), now);
    // The contact just pressed Start: the answer is a reply, never held by quiet hours.
    apply_step(tx, channel_id, contact, event.urn, current, step, std::nullopt, now, std::nullopt, true);
}

std::size_t ingest::apply_webhook_result(
    write_tx& tx, const webhook_record& call, int status, std::string_view body, timestamp now) const {
    tx.finish_webhook(call.id);
    const auto current = tx.load_session(call.contact_id);
    const auto who = tx.load_contact(call.contact_id);
    // The run may have moved on (a keyword, STOP, the wait timed out): then the result is late.
    if (!current || !who || !current->session.webhook || current->session.flow_id != call.call.flow_id ||
        current->session.node_id != call.call.node_id || who->contact.stopped) {
        return 0;
    }
    const tx_workshop_book book(tx, call.contact_id);
    const auto view = view_of(who->contact, book);
    const auto step = engine_.on_webhook_result(current->session, view, status, body, now);
    return apply_step(tx, who->channel_id, who->contact, who->urn, current, step, std::nullopt, now);
}

void ingest::change_registration(write_tx& tx,
                                 std::int64_t contact_id,
                                 const std::string& workshop_id,
                                 flows::registration_status status,
                                 timestamp now) const {
    const auto before = tx.registration(contact_id, workshop_id);
    tx.set_registration(contact_id, workshop_id, status, now);
    if (status == flows::registration_status::registered) {
        if (const auto w = tx.find_workshop(workshop_id)) {
            schedule_reminders(tx, contact_id, *w, now);
        }
    } else if (status == flows::registration_status::cancelled) {
        tx.cancel_workshop_jobs(contact_id, workshop_id);
        if (before == flows::registration_status::registered) {
            fill_places(tx, workshop_id, now);
        }
    }
}

ingest::staff_change ingest::staff_set_registration(write_tx& tx,
                                                    std::int64_t contact_id,
                                                    const std::string& workshop_id,
                                                    flows::registration_status status,
                                                    timestamp now) const {
    using flows::registration_status;
    const auto before = tx.registration(contact_id, workshop_id);
    if (!before) {
        return staff_change::not_registered;
    }
    if (*before == status) {
        return staff_change::unchanged;
    }
    if (status == registration_status::attended) {
        if (*before != registration_status::registered) {
            return staff_change::not_allowed;  // only a contact with a place can attend
        }
        tx.set_registration(contact_id, workshop_id, status, now);
        return staff_change::changed;
    }
    if (status != registration_status::cancelled || *before == registration_status::attended) {
        return staff_change::not_allowed;
    }
    change_registration(tx, contact_id, workshop_id, status, now);
    const auto w = tx.find_workshop(workshop_id);
    if (!config_.cancellation_flow.empty() && w && w->starts_at > now) {
        // Told by the timer loop, in a step of its own (the contact may be in a conversation).
        tx.schedule_workshop_job({0, contact_id, workshop_id, config_.cancellation_flow, now, w->starts_at});
    }
    return staff_change::changed;
}

void ingest::erase_contact(write_tx& tx, std::int64_t contact_id, timestamp now) const {
    for (const auto& [workshop_id, status] : tx.contact_registrations(contact_id)) {
        if (status == flows::registration_status::registered) {
            change_registration(tx, contact_id, workshop_id, flows::registration_status::cancelled, now);
        }
    }
    tx.erase_contact(contact_id, now);
}

void ingest::schedule_reminders(write_tx& tx,
                                std::int64_t contact_id,
                                const flows::workshop& w,
                                timestamp now) const {
    for (const auto& r : config_.reminders) {
        const auto due = flows::reminder_time(w.starts_at, w.timezone, r.offset, r.at);
        if (due <= now) {
            continue;  // its time has passed (RapidPro's campaigns skip these too)
        }
        workshop_job job;
        job.contact_id = contact_id;
        job.workshop_id = w.id;
        job.flow_id = r.flow_id;
        job.due_at = due;
        if (r.offset < std::chrono::minutes{0}) {
            job.expires_at = w.starts_at;  // a reminder is no use once the workshop has started
        }
        tx.schedule_workshop_job(job);
    }
}

void ingest::fill_places(write_tx& tx, const std::string& workshop_id, timestamp now) const {
    for (;;) {
        const auto w = tx.find_workshop(workshop_id);
        if (!w || w->taken >= w->capacity || w->starts_at <= now) {
            return;
        }
        const auto next = tx.first_waitlisted(workshop_id);
        if (!next) {
            return;
        }
        tx.set_registration(*next, workshop_id, flows::registration_status::registered, now);
        schedule_reminders(tx, *next, *w, now);
        if (!config_.promotion_flow.empty()) {
            // Told by the timer loop, in a step of its own (the contact may be in a conversation).
            tx.schedule_workshop_job({0, *next, workshop_id, config_.promotion_flow, now, w->starts_at});
        }
    }
}

void ingest::save_workshop(write_tx& tx, const flows::workshop& w, timestamp now) const {
    const auto before = tx.find_workshop(w.id);
    tx.upsert_workshop(w, now);
    if (before && before->starts_at != w.starts_at) {
        // Moved: every reminder moves with it.
        for (const std::int64_t contact_id : tx.registered_contacts(w.id)) {
            tx.cancel_workshop_jobs(contact_id, w.id);
            schedule_reminders(tx, contact_id, w, now);
        }
    }
    if (before && w.capacity > before->capacity) {
        fill_places(tx, w.id, now);
    }
}

void ingest::seed_workshops(write_tx& tx, timestamp now) const {
    for (const auto& w : config_.workshops) {
        save_workshop(tx, w, now);
    }
}

std::size_t ingest::fire_workshop_job(write_tx& tx, const workshop_job& job, timestamp now) const {
    if (job.expires_at && *job.expires_at <= now) {
        return 0;  // too late (the server was down, or quiet hours ran past the start)
    }
    const auto status = tx.registration(job.contact_id, job.workshop_id);
    if (!config_.cancellation_flow.empty() && job.flow_id == config_.cancellation_flow) {
        if (status != flows::registration_status::cancelled) {
            return 0;  // the news of a cancel, and the contact registered again meanwhile
        }
    } else if (status != flows::registration_status::registered &&
               status != flows::registration_status::attended) {
        return 0;
    }
    const auto who = tx.load_contact(job.contact_id);
    if (!who || who->contact.stopped) {
        return 0;
    }
    const auto current = tx.load_session(job.contact_id);
    std::optional<flows::session> session;
    if (current) {
        session = current->session;
    }
    const tx_workshop_book book(tx, job.contact_id);
    const auto view = view_of(who->contact, book);
    const auto step = engine_.start(job.flow_id, session, view, now, job.workshop_id);
    return apply_step(
        tx, who->channel_id, who->contact, who->urn, current, step, std::nullopt, now, job.expires_at);
}

timer_outcome ingest::fire_due(write_tx& tx, timestamp now, std::size_t limit) const {
    timer_outcome out;
    // In quiet hours, what would only message a contact out of the blue (a reminder, a wait's
    // timeout) waits for morning itself, rather than running now and holding its message: an
    // answer in the night then still finds the conversation where the contact left it.
    const timestamp morning = config_.outside_quiet_hours(now);
    for (auto& job : tx.take_due_workshop_jobs(now, limit)) {
        ++out.fired;
        if (morning != now) {
            job.due_at = morning;
            tx.schedule_workshop_job(job);
            continue;
        }
        out.queued += fire_workshop_job(tx, job, now);
    }
    for (const std::int64_t contact_id : tx.due_sessions(now, limit)) {
        auto current = tx.load_session(contact_id);
        const auto who = tx.load_contact(contact_id);
        if (!current || !who) {
            continue;
        }
        ++out.fired;
        const bool expired = current->run_expires_at && *current->run_expires_at <= now;
        if (!expired && morning != now && !current->session.webhook && !who->contact.stopped) {
            current->session.wait_expires_at = morning;
            tx.save_session(contact_id, *current, now);
            continue;
        }
        const tx_workshop_book book(tx, contact_id);
        const auto view = view_of(who->contact, book);
        flows::step_output step;
        if (expired) {
            step = engine_.on_expired(current->session, view, now);
        } else if (who->contact.stopped) {
            // Cannot happen through ingest (STOP ends the run); a store edited by hand might.
            step.handled = true;
            step.effects.push_back(
                flows::run_ended{current->session.flow_id, flows::run_status::interrupted});
        } else {
            step = engine_.on_timeout(current->session, view, now);
        }
        out.queued +=
            apply_step(tx, who->channel_id, who->contact, who->urn, current, step, std::nullopt, now);
    }
    return out;
}

}  // namespace flowgate::gateway
