#include "gateway/ingest.hpp"

#include "flows/keywords.hpp"
#include "flows/normalize.hpp"
#include "flows/segments.hpp"

namespace flowgate::gateway {

flows::contact_view to_view(const contact_record& c) { return {c.uuid, c.name, c.language, c.fields}; }

ingest::ingest(const config::config& cfg, const flows::engine& engine) : config_(cfg), engine_(engine) {}

ingest_outcome ingest::apply(write_tx& tx,
                             const std::string& channel_id,
                             const handlers::incoming_message& message,
                             timestamp now) const {
    contact_record contact = tx.upsert_contact(message.urn, channel_id, now);
    const auto id =
        tx.insert_inbound({channel_id, message.external_id, message.urn, message.text, contact.id, now});
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
    const auto keyword = flows::match_standing(config_.keywords, message.text, contact.stopped);
    if (keyword == flows::standing::stop) {
        if (contact.stopped) {
            return {false, 0};  // one confirmation only
        }
        // At once and for good: the run ends, queued messages are cancelled, one confirmation.
        tx.set_contact_stopped(contact.id, true, now);
        if (const auto current = tx.load_session(contact.id)) {
            tx.end_run(current->run_id, flows::run_status::interrupted, now);
            tx.delete_session(contact.id);
        }
        tx.cancel_queued(contact.id, now);
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
    const flows::step_output step = engine_.on_message(session, to_view(contact), message.text, now);
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
    const auto seg = flows::count_segments(chosen);
    new_outbound out{channel_id,
                     contact.id,
                     urn,
                     chosen,
                     flows::to_string(seg.encoding),
                     static_cast<int>(seg.segments),
                     reply_to,
                     now};
    out.opt_out_reply = opt_out_reply;
    tx.enqueue_outbound(out);
}

std::size_t ingest::apply_step(write_tx& tx,
                               const std::string& channel_id,
                               const contact_record& contact,
                               const std::string& urn,
                               std::optional<stored_session> current,
                               const flows::step_output& step,
                               std::optional<std::int64_t> reply_to,
                               timestamp now) const {
    if (!step.handled) {
        return 0;
    }
    std::optional<std::int64_t> run_id;
    if (current) {
        run_id = current->run_id;
    }
    std::size_t queued = 0;
    for (const auto& e : step.effects) {
        if (const auto* started = std::get_if<flows::run_started>(&e)) {
            run_id = tx.start_run(contact.id, started->flow_id, now);
        } else if (const auto* ended = std::get_if<flows::run_ended>(&e)) {
            if (run_id) {
                tx.end_run(*run_id, ended->status, now);
            }
            run_id.reset();
        } else if (const auto* saved = std::get_if<flows::result_saved>(&e)) {
            if (run_id) {
                tx.save_result(*run_id, saved->key, saved->value);
            }
        } else if (const auto* send = std::get_if<flows::send_msg>(&e)) {
            const auto seg = flows::count_segments(send->text);
            tx.enqueue_outbound({channel_id,
                                 contact.id,
                                 urn,
                                 send->text,
                                 flows::to_string(seg.encoding),
                                 static_cast<int>(seg.segments),
                                 reply_to,
                                 now});
            ++queued;
        }
    }
    if (step.session && run_id) {
        stored_session saved{*run_id, *step.session, std::nullopt};
        if (const flows::flow* f = config_.flows->find(step.session->flow_id)) {
            saved.run_expires_at = step.session->started_at +
                                   std::chrono::duration_cast<std::chrono::milliseconds>(f->expire_after);
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
    return tx.apply_status(channel_id, update.message_id, update.state, now);
}

void ingest::apply(write_tx& tx,
                   const std::string& channel_id,
                   const handlers::channel_event& event,
                   timestamp now) const {
    const contact_record contact = tx.upsert_contact(event.urn, channel_id, now);
    if (event.type == handlers::channel_event::kind::stop_contact) {
        tx.set_contact_stopped(contact.id, true, now);
        if (const auto current = tx.load_session(contact.id)) {
            tx.end_run(current->run_id, flows::run_status::interrupted, now);
            tx.delete_session(contact.id);
        }
        tx.cancel_queued(contact.id, now);
    }
}

timer_outcome ingest::fire_due(write_tx& tx, timestamp now, std::size_t limit) const {
    timer_outcome out;
    for (const std::int64_t contact_id : tx.due_sessions(now, limit)) {
        const auto current = tx.load_session(contact_id);
        const auto who = tx.load_contact(contact_id);
        if (!current || !who) {
            continue;
        }
        ++out.fired;
        flows::step_output step;
        if (current->run_expires_at && *current->run_expires_at <= now) {
            step = engine_.on_expired(current->session);
        } else if (who->contact.stopped) {
            // Cannot happen through ingest (STOP ends the run); a store edited by hand might.
            step.handled = true;
            step.effects.push_back(
                flows::run_ended{current->session.flow_id, flows::run_status::interrupted});
        } else {
            step = engine_.on_timeout(current->session, to_view(who->contact), now);
        }
        out.queued +=
            apply_step(tx, who->channel_id, who->contact, who->urn, current, step, std::nullopt, now);
    }
    return out;
}

}  // namespace flowgate::gateway
