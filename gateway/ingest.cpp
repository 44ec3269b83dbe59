#include "gateway/ingest.hpp"

#include "flows/keywords.hpp"
#include "flows/normalize.hpp"
#include "flows/segments.hpp"

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

// At once and for good: the contact's runs end, what is still queued to them is cancelled.
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

}  // namespace

ingest::ingest(const config::config& cfg, const flows::engine& engine)
    : config_(cfg), engine_(engine), keywords_(cfg.keywords) {}

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
    auto out = outbound_text(channel_id, contact.id, urn, chosen, reply_to, now);
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
            if (!reply_to) {
                // Not an answer to the contact (a timeout's nudge, a webhook's outcome): quiet
                // hours hold it until morning.
                if (const auto when = config_.outside_quiet_hours(now); when != now) {
                    out.not_before = when;
                }
            }
            tx.enqueue_outbound(out);
            ++queued;
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
    return tx.apply_status(channel_id, update.message_id, update.state, now);
}

void ingest::apply(write_tx& tx,
                   const std::string& channel_id,
                   const handlers::channel_event& event,
                   timestamp now) const {
    const contact_record contact = tx.upsert_contact(event.urn, channel_id, now);
    if (event.type == handlers::channel_event::kind::stop_contact) {
        opt_out(tx, contact.id, now);
    }
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
    const auto step = engine_.on_webhook_result(current->session, to_view(who->contact), status, body, now);
    return apply_step(tx, who->channel_id, who->contact, who->urn, current, step, std::nullopt, now);
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
            step = engine_.on_expired(current->session, to_view(who->contact), now);
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
