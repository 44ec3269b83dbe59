#include "flows/engine.hpp"

#include <algorithm>

#include "flows/matcher.hpp"
#include "flows/normalize.hpp"
#include "flows/template.hpp"

namespace flowgate::flows {

const char* to_string(run_status s) {
    switch (s) {
        case run_status::completed:
            return "completed";
        case run_status::interrupted:
            return "interrupted";
        case run_status::expired:
            return "expired";
        case run_status::failed:
            return "failed";
    }
    return "failed";
}

namespace {

// One run of one flow for one input: walks nodes from an entry point until the run waits or ends.
class run_walker {
   public:
    run_walker(const flow& f,
               const contact_view& contact,
               const environment& env,
               session s,
               std::string input,
               timestamp now,
               std::vector<effect>& effects)
        : flow_(f),
          contact_(contact),
          env_(env),
          session_(std::move(s)),
          input_(std::move(input)),
          now_(now),
          effects_(effects) {}

    // Enters the first node; `trigger_input` is the keyword message that started the run. As in
    // RapidPro, a first node that only waits (no actions: nothing was asked) takes that message as
    // its answer; a first node that asks something waits for the answer to its question.
    std::optional<session> start(bool trigger_input) {
        trigger_pending_ = trigger_input;
        return walk(flow_.nodes.empty() ? std::nullopt : std::optional<std::size_t>{0});
    }

    // The contact answered the wait of `n`.
    std::optional<session> resume(const node& n) { return walk(route(n, rendered_operand(n))); }

    // The wait of `n` timed out.
    std::optional<session> timeout(const node& n) {
        const auto& w = n.router->wait;
        if (!w->timeout_category) {
            return end(run_status::expired);
        }
        return walk(take_category(n, *w->timeout_category, "", ""));
    }

   private:
    std::optional<session> walk(std::optional<std::size_t> next) {
        while (next) {
            if (*next >= flow_.nodes.size() || ++steps_ > max_steps_per_input) {
                return end(run_status::failed);
            }
            const node& n = flow_.nodes[*next];
            const bool first_node = trigger_pending_ && n.actions.empty();
            trigger_pending_ = false;
            for (const auto& a : n.actions) {
                run_action(a);
            }
            if (!n.router) {
                next = n.exits.empty() ? std::nullopt : n.exits.front().destination;
                continue;
            }
            if (n.router->wait && !first_node) {
                return pause(n);
            }
            // A router without a wait, or the first node's wait answered by the trigger message.
            next = route(n, rendered_operand(n));
        }
        if (failed_) {
            return end(run_status::failed);
        }
        return end(run_status::completed);
    }

    void run_action(const action& a) {
        if (const auto* send = std::get_if<send_action>(&a)) {
            const std::string lang = choose_language(send->text);
            const auto it = send->text.find(lang);
            if (it == send->text.end()) {
                return;
            }
            effects_.push_back(send_msg{render(it->second, context()), lang});
        }
    }

    // RapidPro's order: the contact's language (if the deployment uses it), the deployment's
    // default language, then the flow's base language.
    std::string choose_language(const lang_text& text) const {
        const auto allowed = [&](const std::string& lang) {
            return env_.languages.empty() ||
                   std::find(env_.languages.begin(), env_.languages.end(), lang) != env_.languages.end();
        };
        if (!contact_.language.empty() && allowed(contact_.language) && text.count(contact_.language) != 0) {
            return contact_.language;
        }
        if (!env_.languages.empty() && text.count(env_.languages.front()) != 0) {
            return env_.languages.front();
        }
        if (text.count(flow_.language) != 0 || text.empty()) {
            return flow_.language;
        }
        return text.begin()->first;
    }

    template_context context() const { return {contact_, session_, input_}; }

    std::string rendered_operand(const node& n) const { return render(n.router->operand, context()); }

    std::optional<std::size_t> route(const node& n, const std::string& operand) {
        const router& r = *n.router;
        for (const auto& c : r.cases) {
            if (auto match = run_test(c.type, operand, c.arguments)) {
                return take_category(n, c.category, *match, operand);
            }
        }
        // No case matched: the whole operand is the value, as in RapidPro.
        return take_category(n, r.default_category, operand, operand);
    }

    std::optional<std::size_t> take_category(const node& n,
                                             std::size_t category,
                                             const std::string& value,
                                             const std::string& input) {
        const router& r = *n.router;
        if (category >= r.categories.size() || r.categories[category].exit >= n.exits.size()) {
            failed_ = true;  // a malformed model; loaders should never produce one
            return std::nullopt;
        }
        const auto& cat = r.categories[category];
        if (!r.result_name.empty()) {
            result_value v{r.result_name, value, cat.name, input, n.id, now_};
            const std::string key = result_key(r.result_name);
            session_.results[key] = v;
            effects_.push_back(result_saved{flow_.id, key, std::move(v)});
        }
        return n.exits[cat.exit].destination;
    }

    std::optional<session> pause(const node& n) {
        session_.node_id = n.id;
        session_.waiting_since = now_;
        session_.wait_expires_at.reset();
        if (const auto& t = n.router->wait->timeout) {
            session_.wait_expires_at = now_ + std::chrono::duration_cast<std::chrono::milliseconds>(*t);
        }
        return session_;
    }

    std::optional<session> end(run_status status) {
        effects_.push_back(run_ended{flow_.id, status});
        return std::nullopt;
    }

    const flow& flow_;
    const contact_view& contact_;
    const environment& env_;
    session session_;
    std::string input_;
    timestamp now_;
    std::vector<effect>& effects_;
    int steps_ = 0;
    bool trigger_pending_ = false;
    bool failed_ = false;
};

// The waiting node of a session, or nullptr when its flow or node is gone (the config changed).
const node* waiting_node(const flow_set& flows, const session& s) {
    const flow* f = flows.find(s.flow_id);
    const node* n = f != nullptr ? f->find_node(s.node_id) : nullptr;
    if (n == nullptr || !n->router || !n->router->wait) {
        return nullptr;
    }
    return n;
}

step_output begin_run(const flow& f,
                      const std::optional<session>& current,
                      const contact_view& contact,
                      const environment& env,
                      std::string_view input,
                      bool triggered,
                      timestamp now,
                      std::vector<effect> effects) {
    if (current) {
        effects.push_back(run_ended{current->flow_id, run_status::interrupted});
    }
    effects.push_back(run_started{f.id});
    session s;
    s.flow_id = f.id;
    s.started_at = now;
    step_output out;
    out.session =
        run_walker(f, contact, env, std::move(s), std::string(input), now, effects).start(triggered);
    out.effects = std::move(effects);
    out.handled = true;
    return out;
}

}  // namespace

engine::engine(const flow_set& flows, std::vector<keyword_trigger> triggers, environment env)
    : flows_(flows), triggers_(std::move(triggers)), env_(std::move(env)) {}

const keyword_trigger* engine::match_trigger(std::string_view text) const {
    const auto tokens = tokenize(text);
    if (tokens.empty()) {
        return nullptr;
    }
    for (const auto& t : triggers_) {
        if (t.match_type == keyword_trigger::match::only_word && tokens.size() != 1) {
            continue;
        }
        for (const auto& keyword : t.keywords) {
            const auto k = tokenize(keyword);
            if (k.size() == 1 && k.front() == tokens.front()) {
                return &t;
            }
        }
    }
    return nullptr;
}

step_output engine::on_message(const std::optional<session>& current,
                               const contact_view& contact,
                               std::string_view text,
                               timestamp now) const {
    std::optional<session> live = current;
    std::vector<effect> effects;
    if (live && waiting_node(flows_, *live) == nullptr) {
        // Its flow or node was removed from the config: end it, and let the message find a trigger.
        effects.push_back(run_ended{live->flow_id, run_status::interrupted});
        live.reset();
    }
    if (const keyword_trigger* t = match_trigger(text)) {
        if (const flow* f = flows_.find(t->flow_id)) {
            return begin_run(*f, live, contact, env_, text, true, now, std::move(effects));
        }
    }
    if (live) {
        const flow& f = *flows_.find(live->flow_id);
        const node& n = *waiting_node(flows_, *live);
        step_output out;
        out.session = run_walker(f, contact, env_, *live, std::string(text), now, effects).resume(n);
        out.effects = std::move(effects);
        out.handled = true;
        return out;
    }
    step_output out;
    out.handled = !effects.empty();
    out.effects = std::move(effects);
    return out;
}

step_output engine::start(std::string_view flow_id,
                          const std::optional<session>& current,
                          const contact_view& contact,
                          timestamp now) const {
    const flow* f = flows_.find(flow_id);
    if (f == nullptr) {
        return {current, {}, false};
    }
    return begin_run(*f, current, contact, env_, "", false, now, {});
}

step_output engine::on_timeout(const session& current, const contact_view& contact, timestamp now) const {
    step_output out;
    out.handled = true;
    const node* n = waiting_node(flows_, current);
    if (n == nullptr) {
        out.effects.push_back(run_ended{current.flow_id, run_status::interrupted});
        return out;
    }
    const flow& f = *flows_.find(current.flow_id);
    out.session = run_walker(f, contact, env_, current, "", now, out.effects).timeout(*n);
    return out;
}

step_output engine::on_expired(const session& current) const {
    step_output out;
    out.handled = true;
    out.effects.push_back(run_ended{current.flow_id, run_status::expired});
    return out;
}

}  // namespace flowgate::flows
