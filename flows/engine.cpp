#include "flows/engine.hpp"

#include <algorithm>
#include <map>

#include "flows/calendar.hpp"
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

// The number an answer gives for a numbered list: its first word that is a number from 1 to 999,
// in any script ("2", " ٢ ", "2.", "number 2").
std::optional<std::size_t> option_number(std::string_view answer) {
    for (const auto& w : tokenize(answer)) {
        if (!w.empty() && w.size() <= 3 &&
            std::all_of(w.begin(), w.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            const auto n = static_cast<std::size_t>(std::stoi(w));
            if (n >= 1) {
                return n;
            }
        }
    }
    return std::nullopt;
}

// Subflows inside subflows, at most this deep (a flow that enters itself must not grow a session
// without bound).
constexpr std::size_t max_subflow_depth = 10;

// The run and the runs that wait for it in enter_flow end, innermost first.
void end_all_runs(const session& s, run_status status, std::vector<effect>& effects) {
    effects.push_back(run_ended{s.flow_id, status});
    for (auto it = s.parents.rbegin(); it != s.parents.rend(); ++it) {
        effects.push_back(run_ended{it->flow_id, status});
    }
}

bool same_group(const group_ref& a, const group_ref& b) {
    if (!a.uuid.empty() && !b.uuid.empty()) {
        return a.uuid == b.uuid;
    }
    return normalize(a.name) == normalize(b.name);
}

// Characters a URL cannot carry as they are (spaces, non-ASCII letters of a contact's name, ...)
// are percent-encoded; reserved characters are kept, so a template's own "?a=b&c=d" survives.
std::string escape_url(std::string_view url) {
    static const char* const hex = "0123456789ABCDEF";
    std::string out;
    for (const char ch : url) {
        const auto c = static_cast<unsigned char>(ch);
        if (c <= 0x20 || c >= 0x7F || c == '"' || c == '<' || c == '>' || c == '\\' || c == '^' || c == '`' ||
            c == '{' || c == '|' || c == '}') {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 0xF];
        } else {
            out += ch;
        }
    }
    return out;
}

// One session for one input: walks nodes from an entry point until the run waits or ends. It
// follows enter_flow into child flows and back to their parents.
class run_walker {
   public:
    run_walker(const flow_set& flows,
               const flow& f,
               const contact_view& contact,
               const environment& env,
               session s,
               std::string input,
               timestamp now,
               std::vector<effect>& effects)
        : flows_(flows),
          flow_(&f),
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
        return walk(flow_->nodes.empty() ? std::nullopt : std::optional<std::size_t>{0});
    }

    // The contact answered the wait of `n`. After a numbered list of quick replies, an answer that
    // is one of the numbers ("2", "٢", "2.") is read as that option's text.
    std::optional<session> resume(const node& n) {
        std::string value = operand(n);
        const auto options = std::exchange(session_.quick_replies, {});
        const auto k = options.empty() ? std::nullopt : option_number(input_);
        if (k && *k <= options.size() && n.router->kind == operand_kind::text &&
            !pick_case(n, value).matched) {
            // Only when the answer as written matches no case: a flow that lists "1" itself keeps it.
            const std::string written = std::exchange(input_, options[*k - 1]);
            if (std::string as_option = operand(n); pick_case(n, as_option).matched) {
                value = std::move(as_option);
            } else {
                input_ = written;
                value = operand(n);
            }
        }
        return walk(route(n, value));
    }

    // The wait of `n` timed out.
    std::optional<session> timeout(const node& n) {
        if (session_.webhook) {
            return webhook_result(n, 0, "");
        }
        const auto& w = n.router->wait;
        if (!w->timeout_category) {
            return end_all(run_status::expired);
        }
        return walk(take_category(n, *w->timeout_category, "", ""));
    }

    // The webhook called by `n` answered (status 0: it did not).
    std::optional<session> webhook_result(const node& n, int status, std::string body) {
        const webhook_wait w = *session_.webhook;
        session_.webhook.reset();
        session_.wait_expires_at.reset();
        session_.last_webhook = webhook_response{status, std::move(body)};
        if (!w.result_name.empty()) {
            const bool success = status >= 200 && status <= 299;
            save_result(
                w.result_name, std::to_string(status), success ? "Success" : "Failure", w.request, n.id);
        }
        return walk(flow_->node_index(n.id), w.next_action);
    }

    // The innermost run expired: its parent goes on through the child's status "expired".
    std::optional<session> expire() {
        auto back = end_run(run_status::expired);
        if (!back) {
            return std::nullopt;
        }
        return walk(back->first, back->second);
    }

   private:
    enum class action_result { next, paused, entered, failed };

    std::optional<session> walk(std::optional<std::size_t> next, std::size_t first_action = 0) {
        for (;;) {
            while (next) {
                if (*next >= flow_->nodes.size() || ++steps_ > max_steps_per_input) {
                    return end_all(run_status::failed);
                }
                const node& n = flow_->nodes[*next];
                const bool first_node = trigger_pending_ && n.actions.empty();
                trigger_pending_ = false;
                action_result result = action_result::next;
                for (std::size_t i = first_action; i < n.actions.size() && result == action_result::next;
                     ++i) {
                    result = run_action(n, i);
                }
                first_action = 0;
                if (result == action_result::paused) {
                    return session_;
                }
                if (result == action_result::failed) {
                    return end_all(run_status::failed);
                }
                if (result == action_result::entered) {
                    next = flow_->nodes.empty() ? std::nullopt : std::optional<std::size_t>{0};
                    continue;
                }
                if (!n.router) {
                    next = n.exits.empty() ? std::nullopt : n.exits.front().destination;
                    continue;
                }
                if (n.router->kind == operand_kind::workshop_choice && session_.menu.empty() &&
                    n.router->none_category) {
                    next = take_category(n, *n.router->none_category, "", "");  // nothing to choose from
                    continue;
                }
                if (n.router->wait && !first_node) {
                    return pause(n);
                }
                // A router without a wait, or the first node's wait answered by the trigger message.
                next = route(n, operand(n));
            }
            if (failed_) {
                return end_all(run_status::failed);
            }
            auto back = end_run(run_status::completed);
            if (!back) {
                return std::nullopt;
            }
            next = back->first;
            first_action = back->second;
        }
    }

    // `language`: the language of the text being rendered (workshop titles follow it).
    template_context context(std::string_view language = {}) const {
        return {contact_,
                session_,
                input_,
                flow_->name,
                language.empty() ? default_language() : language,
                run_workshop()};
    }

    std::string_view default_language() const {
        if (!contact_.language.empty() && allowed(contact_.language)) {
            return contact_.language;
        }
        return env_.languages.empty() ? std::string_view(flow_->language) : env_.languages.front();
    }

    // The run's workshop, read from the book once per workshop per step.
    const workshop* run_workshop() const {
        if (session_.workshop_id.empty() || contact_.workshops == nullptr) {
            return nullptr;
        }
        if (!workshop_ || workshop_->id != session_.workshop_id) {
            workshop_ = contact_.workshops->find_workshop(session_.workshop_id);
            if (!workshop_) {
                return nullptr;
            }
        }
        return &*workshop_;
    }

    std::optional<registration_status> registration(const std::string& workshop_id) const {
        if (const auto it = registrations_.find(workshop_id); it != registrations_.end()) {
            return it->second;
        }
        return contact_.workshops ? contact_.workshops->registration(workshop_id) : std::nullopt;
    }

    void set_registration(registration_status status) {
        registrations_[session_.workshop_id] = status;
        effects_.push_back(registration_changed{session_.workshop_id, status});
    }

    // A place if the workshop has room, else the waiting list; nothing when the contact already
    // has one, or the workshop is closed or has started.
    void register_contact() {
        const workshop* w = run_workshop();
        if (w == nullptr) {
            return;
        }
        const auto current = registration(w->id);
        if (current && *current != registration_status::cancelled) {
            return;
        }
        if (!w->open || w->starts_at <= now_) {
            return;
        }
        set_registration(w->taken < w->capacity ? registration_status::registered
                                                : registration_status::waitlisted);
    }

    void cancel_registration() {
        if (session_.workshop_id.empty()) {
            return;
        }
        const auto current = registration(session_.workshop_id);
        if (current == registration_status::registered || current == registration_status::waitlisted) {
            set_registration(registration_status::cancelled);
        }
    }

    // The question, then one line per open workshop: "1 Leadership, Amman: Sun, 14 Mar 10:00". The
    // list is kept in the session, so the answer is read against what the contact saw.
    void workshop_menu(const workshop_menu_action& menu) {
        session_.menu.clear();
        if (contact_.workshops == nullptr) {
            return;
        }
        const auto open = contact_.workshops->open_workshops(now_);
        if (open.empty()) {
            return;  // the router takes its "none" category
        }
        const std::string lang = choose_language(menu.text);
        const auto it = menu.text.find(lang);
        std::string text = it == menu.text.end() ? std::string() : render(it->second, context(lang));
        for (std::size_t i = 0; i < open.size(); ++i) {
            const workshop& w = open[i];
            text += "\n" + std::to_string(i + 1) + " " + in_language(w.title, lang) + ": " +
                    format_local_date(w.starts_at, w.timezone, lang) + " " +
                    format_local_time(w.starts_at, w.timezone, lang);
            session_.menu.push_back(w.id);
        }
        effects_.push_back(send_msg{std::move(text), lang});
    }

    // The workshop the answer picks from the menu: its number ("2", "٢", "2."), or a word of its
    // title or place that no other listed workshop has ("Irbid", "إربد"). "" when it picks none.
    std::string chosen_workshop() const {
        const auto& menu = session_.menu;
        if (const auto k = option_number(input_); k && *k <= menu.size()) {
            return menu[*k - 1];
        }
        const auto words = tokenize(input_);
        std::vector<std::vector<std::string>> vocab;
        for (const auto& id : menu) {
            auto& v = vocab.emplace_back();
            if (const auto w = contact_.workshops ? contact_.workshops->find_workshop(id) : std::nullopt) {
                for (const auto* texts : {&w->title, &w->place}) {
                    for (const auto& [lang, t] : *texts) {
                        for (auto& token : tokenize(t)) {
                            v.push_back(std::move(token));
                        }
                    }
                }
            }
        }
        std::optional<std::size_t> pick;
        for (const auto& word : words) {
            std::optional<std::size_t> only;
            int count = 0;
            for (std::size_t i = 0; i < vocab.size(); ++i) {
                if (std::find(vocab[i].begin(), vocab[i].end(), word) != vocab[i].end()) {
                    only = i;
                    ++count;
                }
            }
            if (count != 1) {
                continue;  // a word every workshop (or none) has says nothing
            }
            if (pick && *pick != *only) {
                return {};  // the answer names two workshops
            }
            pick = only;
        }
        return pick ? menu[*pick] : std::string();
    }

    action_result run_action(const node& n, std::size_t index) {
        const action& a = n.actions[index];
        if (const auto* send = std::get_if<send_action>(&a)) {
            const std::string lang = choose_language(send->text);
            const auto it = send->text.find(lang);
            if (it == send->text.end()) {
                return action_result::next;
            }
            std::string text = render(it->second, context(lang));
            text += quick_replies(*send, lang);
            effects_.push_back(send_msg{std::move(text), lang});
        } else if (const auto* field = std::get_if<set_field_action>(&a)) {
            std::string value = render(field->value, context());
            if (value.empty()) {
                contact_.fields.erase(field->key);  // RapidPro: an empty value clears the field
            } else {
                contact_.fields[field->key] = value;
            }
            effects_.push_back(contact_field_changed{field->key, field->name, std::move(value)});
        } else if (const auto* name = std::get_if<set_name_action>(&a)) {
            contact_.name = render(name->name, context());
            effects_.push_back(contact_name_changed{contact_.name});
        } else if (const auto* lang = std::get_if<set_language_action>(&a)) {
            // A language the deployment does not use changes nothing (RapidPro refuses it too).
            if (const auto code = config_language(render(lang->language, context()), env_.languages)) {
                contact_.language = *code;
                effects_.push_back(contact_language_changed{*code});
            }
        } else if (const auto* result = std::get_if<set_result_action>(&a)) {
            save_result(result->name, render(result->value, context()), result->category, "", n.id);
        } else if (const auto* add = std::get_if<add_groups_action>(&a)) {
            for (const auto& g : add->groups) {
                const auto& have = contact_.groups;
                if (std::none_of(
                        have.begin(), have.end(), [&](const group_ref& x) { return same_group(x, g); })) {
                    contact_.groups.push_back(g);
                }
            }
            effects_.push_back(contact_groups_changed{add->groups, {}, false});
        } else if (const auto* remove = std::get_if<remove_groups_action>(&a)) {
            // Both effects name what the action asked for, whether or not the view knew of it: the
            // store's add and remove are idempotent, and the view may not list every group.
            contact_groups_changed change;
            if (remove->all) {
                change.removed = contact_.groups;
                change.removed_all = true;
                contact_.groups.clear();
            } else {
                change.removed = remove->groups;
                std::erase_if(contact_.groups, [&](const group_ref& x) {
                    return std::any_of(remove->groups.begin(), remove->groups.end(), [&](const group_ref& g) {
                        return same_group(x, g);
                    });
                });
            }
            effects_.push_back(std::move(change));
        } else if (const auto* enter = std::get_if<enter_flow_action>(&a)) {
            return enter_flow(n, index, *enter);
        } else if (const auto* menu = std::get_if<workshop_menu_action>(&a)) {
            workshop_menu(*menu);
        } else if (std::holds_alternative<register_action>(a)) {
            register_contact();
        } else if (std::holds_alternative<cancel_registration_action>(a)) {
            cancel_registration();
        } else if (const auto* hook = std::get_if<webhook_action>(&a)) {
            webhook_call call{
                flow_->id, n.id, hook->method, escape_url(render(hook->url, context())), {}, {}};
            for (const auto& [header, value] : hook->headers) {
                call.headers.emplace_back(header, render(value, context()));
            }
            call.body = render(hook->body, context());
            session_.node_id = n.id;
            session_.webhook = webhook_wait{index + 1, hook->result_name, call.method + " " + call.url};
            session_.waiting_since = now_;
            session_.wait_expires_at =
                now_ + std::chrono::duration_cast<std::chrono::milliseconds>(webhook_timeout);
            effects_.push_back(std::move(call));
            return action_result::paused;
        }
        return action_result::next;
    }

    action_result enter_flow(const node& n, std::size_t index, const enter_flow_action& enter) {
        const flow* child = flows_.find(enter.flow_id);
        if (child == nullptr || session_.parents.size() >= max_subflow_depth) {
            return action_result::failed;
        }
        if (enter.terminal) {
            // Nothing resumes: the runs end now and the child is all that is left.
            end_all_runs(session_, run_status::completed, effects_);
            session_.parents.clear();
        } else {
            session_.parents.push_back({flow_->id, n.id, index + 1, session_.results, session_.started_at});
        }
        effects_.push_back(run_started{child->id});
        flow_ = child;
        session_.flow_id = child->id;
        session_.node_id.clear();
        session_.results.clear();
        session_.started_at = now_;
        session_.last_webhook.reset();
        return action_result::entered;
    }

    // SMS has no buttons: the quick replies, in the text's language if they are translated, as a
    // numbered list ("\n1 Yes\n2 No").
    // The options are kept in the session: an answer that is an option's number stands for it.
    std::string quick_replies(const send_action& send, const std::string& lang) {
        auto it = send.quick_replies.find(lang);
        if (it == send.quick_replies.end()) {
            it = send.quick_replies.find(flow_->language);
        }
        if (it == send.quick_replies.end()) {
            return {};
        }
        session_.quick_replies.clear();
        std::string out;
        for (std::size_t i = 0; i < it->second.size(); ++i) {
            auto option = render(it->second[i], context(lang));
            out += "\n" + std::to_string(i + 1) + " " + option;
            session_.quick_replies.push_back(std::move(option));
        }
        return out;
    }

    bool allowed(const std::string& lang) const {
        return env_.languages.empty() ||
               std::find(env_.languages.begin(), env_.languages.end(), lang) != env_.languages.end();
    }

    // RapidPro's order: the contact's language (if the deployment uses it), the deployment's
    // default language, then the flow's base language.
    std::string choose_language(const lang_text& text) const {
        if (!contact_.language.empty() && allowed(contact_.language) && text.count(contact_.language) != 0) {
            return contact_.language;
        }
        if (!env_.languages.empty() && text.count(env_.languages.front()) != 0) {
            return env_.languages.front();
        }
        if (text.count(flow_->language) != 0 || text.empty()) {
            return flow_->language;
        }
        return text.begin()->first;
    }

    // A case's arguments in the same order of languages; the base arguments otherwise.
    const std::vector<std::string>& arguments(const test_case& c) const {
        const auto& loc = c.localized_arguments;
        if (loc.empty()) {
            return c.arguments;
        }
        for (const std::string* lang :
             {&contact_.language, env_.languages.empty() ? nullptr : &env_.languages.front()}) {
            if (lang == nullptr || lang->empty() || !allowed(*lang)) {
                continue;
            }
            if (*lang == flow_->language) {
                return c.arguments;
            }
            if (const auto it = loc.find(*lang); it != loc.end()) {
                return it->second;
            }
        }
        return c.arguments;
    }

    // The router's operand; an @(expression) in it that fails to evaluate sets operand_error_.
    std::string operand(const node& n) {
        operand_error_.reset();
        switch (n.router->kind) {
            case operand_kind::webhook_status:
                return std::to_string(session_.last_webhook ? session_.last_webhook->status : 0);
            case operand_kind::child_status:
                return child_status_;
            case operand_kind::contact_groups: {
                std::string names;
                for (const auto& g : contact_.groups) {
                    names += (names.empty() ? "" : ", ") + g.name;
                }
                return names;
            }
            case operand_kind::workshop_choice:
                return chosen_workshop();
            case operand_kind::registration: {
                const auto r =
                    session_.workshop_id.empty() ? std::nullopt : registration(session_.workshop_id);
                return r ? to_string(*r) : "";
            }
            case operand_kind::text:
                break;
        }
        return render(n.router->operand, context(), &operand_error_);
    }

    struct picked {
        std::size_t category = 0;
        std::string value;
        bool matched = false;  // false: the default category
    };

    // The first case the operand passes (and the value it extracts), else the default category.
    picked pick_case(const node& n, const std::string& operand) const {
        const router& r = *n.router;
        std::vector<std::string> groups;
        for (const auto& g : contact_.groups) {
            if (!g.uuid.empty()) {
                groups.push_back(g.uuid);
            }
            groups.push_back(g.name);
        }
        test_context ctx;
        ctx.now = now_;
        ctx.timezone = env_.timezone;
        ctx.default_country = env_.default_country;
        ctx.day_first = env_.day_first;
        ctx.groups = &groups;
        ctx.operand_error = operand_error_;
        for (const auto& c : r.cases) {
            if (auto match = run_test(c.type, operand, arguments(c), ctx)) {
                return {c.category, std::move(*match), true};
            }
        }
        // No case matched: the whole operand is the value, as in RapidPro.
        return {r.default_category, operand, false};
    }

    std::optional<std::size_t> route(const node& n, const std::string& operand) {
        const router& r = *n.router;
        if (r.kind == operand_kind::workshop_choice) {
            // The value is the workshop's id; the input is what the contact wrote.
            session_.menu.clear();
            if (!operand.empty()) {
                session_.workshop_id = operand;
                workshop_.reset();
            }
        }
        const std::string& input = r.kind == operand_kind::workshop_choice ? input_ : operand;
        auto p = pick_case(n, operand);
        return take_category(n, p.category, p.matched ? p.value : input, input);
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
            save_result(r.result_name, value, cat.name, input, n.id);
        }
        return n.exits[cat.exit].destination;
    }

    void save_result(const std::string& name,
                     const std::string& value,
                     const std::string& category,
                     const std::string& input,
                     const std::string& node_id) {
        result_value v{name, value, category, input, node_id, now_};
        const std::string key = result_key(name);
        session_.results[key] = v;
        effects_.push_back(result_saved{flow_->id, key, std::move(v)});
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

    // Ends the innermost run. When a parent waits for it, the parent becomes the run again and
    // the result is where it goes on: its enter_flow node and the action after it.
    std::optional<std::pair<std::size_t, std::size_t>> end_run(run_status status) {
        effects_.push_back(run_ended{flow_->id, status});
        if (session_.parents.empty()) {
            return std::nullopt;
        }
        parent_run parent = std::move(session_.parents.back());
        session_.parents.pop_back();
        const flow* f = flows_.find(parent.flow_id);
        const auto index = f != nullptr ? f->node_index(parent.node_id) : std::nullopt;
        session_.flow_id = parent.flow_id;
        if (!index) {
            end_all(run_status::interrupted);  // the config no longer has the parent's node
            return std::nullopt;
        }
        flow_ = f;
        session_.node_id = parent.node_id;
        session_.results = std::move(parent.results);
        session_.started_at = parent.started_at;
        session_.webhook.reset();
        session_.wait_expires_at.reset();
        child_status_ = to_string(status);
        return std::pair{*index, parent.next_action};
    }

    std::optional<session> end_all(run_status status) {
        end_all_runs(session_, status, effects_);
        return std::nullopt;
    }

    const flow_set& flows_;
    const flow* flow_;
    contact_view contact_;  // the run's own view: changes apply at once
    const environment& env_;
    session session_;
    std::string input_;
    timestamp now_;
    std::vector<effect>& effects_;
    std::string child_status_;
    std::optional<std::string> operand_error_;                  // operand()'s, for has_error
    mutable std::optional<workshop> workshop_;                  // run_workshop()'s cache
    std::map<std::string, registration_status> registrations_;  // changed in this step
    int steps_ = 0;
    bool trigger_pending_ = false;
    bool failed_ = false;
};

// The node a session waits on (for a message, or for its webhook), or nullptr when its flow or
// node is gone (the config changed).
const node* waiting_node(const flow_set& flows, const session& s) {
    const flow* f = flows.find(s.flow_id);
    const node* n = f != nullptr ? f->find_node(s.node_id) : nullptr;
    if (n == nullptr) {
        return nullptr;
    }
    if (s.webhook) {
        const std::size_t i = s.webhook->next_action;
        return i >= 1 && i <= n->actions.size() && std::holds_alternative<webhook_action>(n->actions[i - 1])
                   ? n
                   : nullptr;
    }
    if (!n->router || !n->router->wait) {
        return nullptr;
    }
    return n;
}

step_output begin_run(const flow_set& flows,
                      const flow& f,
                      const std::optional<session>& current,
                      const contact_view& contact,
                      const environment& env,
                      std::string_view input,
                      bool triggered,
                      timestamp now,
                      std::vector<effect> effects,
                      std::string_view workshop_id = {}) {
    if (current) {
        end_all_runs(*current, run_status::interrupted, effects);
    }
    effects.push_back(run_started{f.id});
    session s;
    s.flow_id = f.id;
    s.started_at = now;
    s.workshop_id = workshop_id;
    step_output out;
    out.session =
        run_walker(flows, f, contact, env, std::move(s), std::string(input), now, effects).start(triggered);
    out.effects = std::move(effects);
    out.handled = true;
    return out;
}

}  // namespace

engine::engine(const flow_set& flows, std::vector<keyword_trigger> triggers, environment env)
    : flows_(flows), triggers_(std::move(triggers)), env_(std::move(env)) {
    for (const auto& t : triggers_) {
        auto& words = trigger_words_.emplace_back();
        for (const auto& keyword : t.keywords) {
            if (auto k = tokenize(keyword); k.size() == 1) {
                words.push_back(std::move(k.front()));
            }
        }
    }
}

const keyword_trigger* engine::match_trigger(std::string_view text) const {
    const auto tokens = tokenize(text);
    if (tokens.empty()) {
        return nullptr;
    }
    for (std::size_t i = 0; i < triggers_.size(); ++i) {
        if (triggers_[i].match_type == keyword_trigger::match::only_word && tokens.size() != 1) {
            continue;
        }
        const auto& words = trigger_words_[i];
        if (std::find(words.begin(), words.end(), tokens.front()) != words.end()) {
            return &triggers_[i];
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
        end_all_runs(*live, run_status::interrupted, effects);
        live.reset();
    }
    // A flow that ignores triggers keeps its contact: the keyword is an answer. The conversation's
    // outermost flow decides.
    bool keywords_interrupt = true;
    if (live) {
        const std::string& outer = live->parents.empty() ? live->flow_id : live->parents.front().flow_id;
        const flow* f = flows_.find(outer);
        keywords_interrupt = f == nullptr || !f->ignore_triggers;
    }
    if (const keyword_trigger* t = keywords_interrupt ? match_trigger(text) : nullptr) {
        if (const flow* f = flows_.find(t->flow_id)) {
            return begin_run(flows_, *f, live, contact, env_, text, true, now, std::move(effects));
        }
    }
    if (!live) {
        for (const auto& t : triggers_) {
            if (t.match_type != keyword_trigger::match::catch_all) {
                continue;
            }
            if (const flow* f = flows_.find(t.flow_id)) {
                return begin_run(flows_, *f, live, contact, env_, text, true, now, std::move(effects));
            }
        }
    }
    if (live && live->webhook) {
        // The run waits for its webhook, not for an answer: the message changes nothing.
        return {live, {}, false};
    }
    if (live) {
        const flow& f = *flows_.find(live->flow_id);
        const node& n = *waiting_node(flows_, *live);
        step_output out;
        out.session = run_walker(flows_, f, contact, env_, *live, std::string(text), now, effects).resume(n);
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
                          timestamp now,
                          std::string_view workshop_id) const {
    const flow* f = flows_.find(flow_id);
    if (f == nullptr) {
        return {current, {}, false};
    }
    return begin_run(flows_, *f, current, contact, env_, "", false, now, {}, workshop_id);
}

step_output engine::on_new_conversation(const std::optional<session>& current,
                                        const contact_view& contact,
                                        timestamp now) const {
    for (const auto& t : triggers_) {
        if (t.match_type == keyword_trigger::match::new_conversation) {
            return start(t.flow_id, current, contact, now);
        }
    }
    return {current, {}, false};
}

step_output engine::on_timeout(const session& current, const contact_view& contact, timestamp now) const {
    step_output out;
    out.handled = true;
    const node* n = waiting_node(flows_, current);
    if (n == nullptr) {
        end_all_runs(current, run_status::interrupted, out.effects);
        return out;
    }
    const flow& f = *flows_.find(current.flow_id);
    out.session = run_walker(flows_, f, contact, env_, current, "", now, out.effects).timeout(*n);
    return out;
}

step_output engine::on_webhook_result(const session& current,
                                      const contact_view& contact,
                                      int status,
                                      std::string_view body,
                                      timestamp now) const {
    const node* n = current.webhook ? waiting_node(flows_, current) : nullptr;
    if (n == nullptr) {
        return {current, {}, false};
    }
    step_output out;
    out.handled = true;
    const flow& f = *flows_.find(current.flow_id);
    // Cut on a UTF-8 character boundary.
    std::size_t keep = std::min(body.size(), max_webhook_body);
    while (keep < body.size() && keep > 0 && (static_cast<unsigned char>(body[keep]) & 0xC0) == 0x80) {
        --keep;
    }
    out.session = run_walker(flows_, f, contact, env_, current, "", now, out.effects)
                      .webhook_result(*n, status, std::string(body.substr(0, keep)));
    return out;
}

step_output engine::on_expired(const session& current) const {
    step_output out;
    out.handled = true;
    end_all_runs(current, run_status::expired, out.effects);
    return out;
}

step_output engine::on_expired(const session& current, const contact_view& contact, timestamp now) const {
    const flow* f = flows_.find(current.flow_id);
    if (current.parents.empty() || f == nullptr) {
        return on_expired(current);
    }
    step_output out;
    out.handled = true;
    out.session = run_walker(flows_, *f, contact, env_, current, "", now, out.effects).expire();
    return out;
}

}  // namespace flowgate::flows
