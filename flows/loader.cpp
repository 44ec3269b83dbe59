#include "flows/loader.hpp"

#include <algorithm>
#include <initializer_list>
#include <map>

#include "flows/duration.hpp"
#include "flows/matcher.hpp"
#include "flows/normalize.hpp"
#include "flows/segments.hpp"
#include "flows/template.hpp"

namespace flowgate::flows {

namespace {

using json = nlohmann::json;

std::string at(const std::string& base, std::string_view key) { return base + "/" + pointer_token(key); }
std::string at(const std::string& base, std::size_t index) { return base + "/" + std::to_string(index); }

bool is_flow_id(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
}

bool is_node_id(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
               c == '-';
    });
}

// "en", "ara", "pt-BR": ISO 639 codes, optionally with a region or script.
bool is_language(std::string_view s) {
    const auto dash = s.find('-');
    const std::string_view primary = s.substr(0, dash);
    if (primary.size() < 2 || primary.size() > 3 ||
        !std::all_of(primary.begin(), primary.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
        return false;
    }
    if (dash == std::string_view::npos) {
        return true;
    }
    const std::string_view rest = s.substr(dash + 1);
    return rest.size() >= 2 && rest.size() <= 8 && std::all_of(rest.begin(), rest.end(), [](char c) {
               return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
           });
}

const char* const other_category = "Other";
const char* const timeout_category = "No Response";

class loader {
   public:
    loader(const json& doc, const load_options& options) : doc_(doc), options_(options) {}

    load_result run() {
        flow f;
        if (!doc_.is_object()) {
            add("", "must be a JSON object (a flow)");
            return finish(std::move(f));
        }
        check_keys(doc_, "", {"id", "name", "language", "kind", "expire_after", "ignore_triggers", "nodes"});
        if (const auto it = doc_.find("ignore_triggers"); it != doc_.end()) {
            if (!it->is_boolean()) {
                add("/ignore_triggers", "must be true or false");
            } else {
                f.ignore_triggers = it->get<bool>();
            }
        }
        if (const std::string* id = required_string(doc_, "", "id")) {
            if (is_flow_id(*id)) {
                f.id = *id;
            } else {
                add("/id", "must use only a-z, 0-9, \"_\" and \"-\"");
            }
        }
        f.name = f.id;
        if (const std::string* name = optional_string(doc_, "", "name")) {
            if (name->empty()) {
                add("/name", "must not be empty");
            } else {
                f.name = *name;
            }
        }
        if (const std::string* lang = required_string(doc_, "", "language")) {
            if (is_language(*lang)) {
                f.language = base_ = *lang;
            } else {
                add("/language", "must be a language code such as \"en\" or \"ar\"");
            }
        }
        if (const auto e = doc_.find("expire_after"); e != doc_.end()) {
            const auto d = e->is_string() ? parse_duration(e->get<std::string>()) : std::nullopt;
            if (!d || d->count() <= 0) {
                add("/expire_after", "must be a duration such as \"24h\" or \"3d\"");
            } else {
                f.expire_after = *d;
            }
        }
        bool survey = false;
        if (const std::string* kind = optional_string(doc_, "", "kind")) {
            if (*kind == "survey") {
                survey = true;
            } else if (*kind != "conversation") {
                add("/kind", "must be \"conversation\" or \"survey\"");
            }
        }
        const auto nodes = doc_.find("nodes");
        if (nodes == doc_.end()) {
            add("/nodes", "is required");
        } else if (!nodes->is_array() || nodes->empty()) {
            add("/nodes", "must be a non-empty array of nodes");
        } else {
            index_ids(*nodes);
            for (std::size_t i = 0; i < nodes->size(); ++i) {
                f.nodes.push_back(load_node((*nodes)[i], at("/nodes", i)));
            }
            if (survey) {
                check_opt_out_notice((*nodes)[0]);
            }
        }
        return finish(std::move(f));
    }

   private:
    void add(std::string pointer, std::string message) {
        problems_.push_back({std::move(pointer), std::move(message)});
    }
    void warn(std::string pointer, std::string message) {
        warnings_.push_back({std::move(pointer), std::move(message)});
    }

    // Every text should fit in two SMS segments: longer ones cost more and arrive split (or out
    // of order) on basic phones. Templates are counted as written.
    void check_segments(const std::string& text, const std::string& pointer) {
        const auto seg = count_segments(text);
        if (seg.segments > 2) {
            warn(pointer,
                 "is " + std::to_string(seg.segments) + " SMS segments long (" + to_string(seg.encoding) +
                     "); keep a message to 2 segments");
        }
    }

    // A survey's first message says how to stop (the words participants may send).
    void check_opt_out_notice(const json& first) {
        for (const char* key : {"send", "ask"}) {
            const auto it = first.find(key);
            if (it == first.end()) {
                continue;
            }
            const json& v = it->is_array() && !it->empty() ? (*it)[0] : *it;
            const std::string p = at("/nodes/0", key) + (it->is_array() ? "/0" : "");
            const auto names_stop = [&](const std::string& text) {
                const auto words = tokenize(text);
                for (const auto& w : options_.stop_words) {
                    if (std::find(words.begin(), words.end(), normalize(w)) != words.end()) {
                        return true;
                    }
                }
                return false;
            };
            const std::string message =
                "a survey's first message should say how to opt out, e.g. \"Reply STOP to get no more "
                "messages\"";
            if (v.is_string()) {
                if (!names_stop(v.get<std::string>())) {
                    warn(p, message);
                }
            } else if (v.is_object()) {
                for (const auto& [lang, text] : v.items()) {
                    if (text.is_string() && !names_stop(text.get<std::string>())) {
                        warn(at(p, lang), message);
                    }
                }
            }
            return;
        }
    }

    load_result finish(flow f) {
        load_result r;
        r.warnings = std::move(warnings_);
        r.problems = std::move(problems_);
        if (r.problems.empty()) {
            r.loaded = std::move(f);
        }
        return r;
    }

    // Unknown keys are problems: a typo ("nxet") must not silently change what a flow does.
    void check_keys(const json& obj,
                    const std::string& base,
                    std::initializer_list<std::string_view> allowed) {
        for (const auto& [key, value] : obj.items()) {
            if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
                add(at(base, key), "unknown key \"" + key + "\"");
            }
        }
    }

    const std::string* optional_string(const json& obj, const std::string& base, std::string_view key) {
        const auto it = obj.find(key);
        if (it == obj.end()) {
            return nullptr;
        }
        if (!it->is_string()) {
            add(at(base, key), "must be a string");
            return nullptr;
        }
        return it->get_ptr<const std::string*>();
    }

    const std::string* required_string(const json& obj, const std::string& base, std::string_view key) {
        if (!obj.contains(key)) {
            add(at(base, key), "is required");
            return nullptr;
        }
        return optional_string(obj, base, key);
    }

    // Node ids first, so that references may point forward.
    void index_ids(const json& nodes) {
        for (std::size_t i = 0; i < nodes.size(); ++i) {
            const json& n = nodes[i];
            if (!n.is_object()) {
                continue;
            }
            const auto id = n.find("id");
            if (id == n.end() || !id->is_string()) {
                continue;
            }
            const std::string& s = id->get_ref<const std::string&>();
            const auto [it, inserted] = ids_.emplace(s, i);
            if (!inserted) {
                add(at(at("/nodes", i), "id"),
                    "the id \"" + s + "\" is already used by " + at("/nodes", it->second));
            }
        }
    }

    // A reference to another node; an absent one means the run ends there.
    std::optional<std::size_t> reference(const json& obj, const std::string& base, std::string_view key) {
        const auto it = obj.find(key);
        if (it == obj.end()) {
            return std::nullopt;
        }
        if (!it->is_string()) {
            add(at(base, key), "must be a node id");
            return std::nullopt;
        }
        const auto& target = it->get_ref<const std::string&>();
        const auto found = ids_.find(target);
        if (found == ids_.end()) {
            add(at(base, key), "no node has the id \"" + target + "\"");
            return std::nullopt;
        }
        return found->second;
    }

    void check_text_template(const std::string& text, const std::string& pointer) {
        if (text.empty()) {
            add(pointer, "must not be empty");
        }
        for (const auto& p : check_template(text)) {
            add(pointer, p.message);
        }
    }

    // A text: a string in the base language, or {"en": "...", "ar": "..."} with the base language.
    std::optional<lang_text> load_text(const json& v, const std::string& pointer) {
        if (v.is_string()) {
            check_text_template(v.get<std::string>(), pointer);
            check_segments(v.get<std::string>(), pointer);
            return lang_text{{base_, v.get<std::string>()}};
        }
        if (!v.is_object()) {
            add(pointer, "must be a text or an object of texts by language");
            return std::nullopt;
        }
        lang_text out;
        for (const auto& [lang, text] : v.items()) {
            const std::string p = at(pointer, lang);
            if (!is_language(lang)) {
                add(p, "\"" + lang + "\" is not a language code such as \"en\" or \"ar\"");
            } else if (!text.is_string()) {
                add(p, "must be a string");
            } else {
                check_text_template(text.get<std::string>(), p);
                check_segments(text.get<std::string>(), p);
                out[lang] = text.get<std::string>();
            }
        }
        if (!base_.empty() && !v.contains(base_)) {
            add(pointer, "must have a text in the flow's language \"" + base_ + "\"");
        }
        return out;
    }

    std::vector<std::string> load_args(const json& c, const std::string& base) {
        std::vector<std::string> args;
        const auto it = c.find("args");
        if (it == c.end()) {
            return args;
        }
        if (!it->is_array()) {
            add(at(base, "args"), "must be an array of strings or numbers");
            return args;
        }
        for (std::size_t i = 0; i < it->size(); ++i) {
            const json& a = (*it)[i];
            if (a.is_string()) {
                args.push_back(a.get<std::string>());
            } else if (a.is_number()) {
                args.push_back(a.dump());
            } else {
                add(at(at(base, "args"), i), "must be a string or a number");
                args.emplace_back();
            }
        }
        return args;
    }

    flows::router load_router(const json& n, const std::string& base, bool is_ask, node& out) {
        flows::router r;
        if (is_ask) {
            r.wait = wait_spec{};
        } else if (const std::string* expr = optional_string(n, base, "branch")) {
            if (expr->empty()) {
                add(at(base, "branch"), "must not be empty");
            }
            for (const auto& p : check_template(*expr)) {
                add(at(base, "branch"), p.message);
            }
            r.operand = *expr;
        }
        if (const auto name = load_result_name(n, base)) {
            r.result_name = *name;
        }

        // Cases that share a category share its exit, so they must agree on where it goes.
        struct seen_category {
            std::size_t index;
            std::optional<std::string> next;
            std::size_t case_index;
        };
        std::map<std::string, seen_category> by_name;
        const auto cases = n.find("cases");
        if (cases != n.end() && !cases->is_array()) {
            add(at(base, "cases"), "must be an array of cases");
        } else if (cases != n.end()) {
            for (std::size_t i = 0; i < cases->size(); ++i) {
                const json& c = (*cases)[i];
                const std::string cp = at(at(base, "cases"), i);
                if (!c.is_object()) {
                    add(cp, "must be an object with \"test\", \"args\", \"category\" and \"next\"");
                    continue;
                }
                check_keys(c, cp, {"test", "args", "category", "next"});
                test_case tc;
                if (const std::string* test = required_string(c, cp, "test")) {
                    tc.type = *test;
                }
                const std::size_t before_args = problems_.size();
                tc.arguments = load_args(c, cp);
                const bool args_ok = problems_.size() == before_args;
                if (!tc.type.empty() && !is_known_test(tc.type)) {
                    add(at(cp, "test"), "unknown test \"" + tc.type + "\"");
                } else if (!tc.type.empty() && args_ok) {
                    for (const auto& p : check_test_arguments(tc.type, tc.arguments)) {
                        add(cp + p.pointer, p.message);
                    }
                }
                const std::string* name = required_string(c, cp, "category");
                const std::optional<std::size_t> dest = reference(c, cp, "next");
                std::optional<std::string> next;
                if (const auto nx = c.find("next"); nx != c.end() && nx->is_string()) {
                    next = nx->get<std::string>();
                }
                if (name == nullptr) {
                    continue;
                }
                if (name->empty()) {
                    add(at(cp, "category"), "must not be empty");
                    continue;
                }
                if (*name == other_category || *name == timeout_category) {
                    add(at(cp, "category"),
                        "\"" + *name + "\" is the name of a built-in category; choose another name");
                    continue;
                }
                const auto found = by_name.find(*name);
                if (found == by_name.end()) {
                    tc.category = r.categories.size();
                    by_name.emplace(*name, seen_category{tc.category, next, i});
                    r.categories.push_back({*name, out.exits.size()});
                    out.exits.push_back({dest});
                } else {
                    tc.category = found->second.index;
                    if (found->second.next != next) {
                        add(c.contains("next") ? at(cp, "next") : cp,
                            "the category \"" + *name + "\" already goes to " +
                                (found->second.next ? "\"" + *found->second.next + "\""
                                                    : "the end of the run") +
                                " in " + at(at(base, "cases"), found->second.case_index) +
                                "; cases with the same category must have the same next");
                    }
                }
                r.cases.push_back(std::move(tc));
            }
        }

        r.default_category = r.categories.size();
        r.categories.push_back({other_category, out.exits.size()});
        out.exits.push_back({reference(n, base, "other")});

        load_timeout(n, base, is_ask, r, out);
        return r;
    }

    // "timeout" and "on_timeout": the wait's "No Response" category.
    void load_timeout(const json& n, const std::string& base, bool is_ask, flows::router& r, node& out) {
        const bool has_timeout = n.contains("timeout");
        if (has_timeout && !is_ask) {
            add(at(base, "timeout"), "is only for a node with \"ask\"");
        } else if (has_timeout) {
            const auto t = n.find("timeout");
            std::optional<std::chrono::seconds> d;
            if (t->is_string()) {
                d = parse_duration(t->get<std::string>());
            }
            if (!d) {
                add(at(base, "timeout"), "must be a duration such as \"30m\", \"24h\" or \"3d\"");
            }
            if (!n.contains("on_timeout")) {
                add(at(base, "on_timeout"), "is required with \"timeout\"");
            }
            r.wait->timeout = d;
            r.wait->timeout_category = r.categories.size();
            r.categories.push_back({timeout_category, out.exits.size()});
            out.exits.push_back({reference(n, base, "on_timeout")});
        }
        if (n.contains("on_timeout") && !has_timeout) {
            add(at(base, "on_timeout"), "needs \"timeout\"");
        }
    }

    std::optional<std::string> load_result_name(const json& n, const std::string& base) {
        const auto it = n.find("result");
        if (it == n.end()) {
            return std::nullopt;
        }
        if (!it->is_string() || result_key(it->get<std::string>()).empty()) {
            add(at(base, "result"), "must be a name with a letter or digit");
            return std::nullopt;
        }
        return it->get<std::string>();
    }

    // A category of its own with its own exit, going to the node `key` names (absent: the run ends).
    std::size_t add_category(node& out,
                             flows::router& r,
                             std::string name,
                             const json& n,
                             const std::string& base,
                             const char* key) {
        r.categories.push_back({std::move(name), out.exits.size()});
        out.exits.push_back({reference(n, base, key)});
        return r.categories.size() - 1;
    }

    // "set_name" and "set_fields": the contact's name and fields, from templates, set when the node
    // is entered (before it sends anything).
    void load_contact_changes(const json& n, const std::string& base, node& out) {
        if (const std::string* name = optional_string(n, base, "set_name")) {
            check_text_template(*name, at(base, "set_name"));
            out.actions.push_back(set_name_action{*name});
        }
        const auto fields = n.find("set_fields");
        if (fields == n.end()) {
            return;
        }
        const std::string fp = at(base, "set_fields");
        if (!fields->is_object() || fields->empty()) {
            add(fp, "must be an object of field keys and values, e.g. {\"consent\": \"@results.consent\"}");
            return;
        }
        for (const auto& [key, value] : fields->items()) {
            const std::string p = at(fp, key);
            if (result_key(key) != key) {
                add(p, "a field key uses only a-z, 0-9 and \"_\"");
            } else if (!value.is_string()) {
                add(p, "must be a string (a template)");
            } else {
                check_text_template(value.get<std::string>(), p);
                out.actions.push_back(set_field_action{key, "", value.get<std::string>()});
            }
        }
    }

    // A "workshop" node: choose from the open workshops, register, or cancel (docs/flows.md
    // "Workshops and reminders").
    void load_workshop_node(const json& n, const std::string& base, node& out) {
        const std::string* op = optional_string(n, base, "workshop");
        if (op == nullptr) {
            return;
        }
        const auto only = [&](std::initializer_list<std::string_view> allowed) {
            for (const auto& [key, value] : n.items()) {
                if (key != "set_name" && key != "set_fields" &&
                    std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
                    add(at(base, key), "is not for a \"workshop\": \"" + *op + "\" node");
                }
            }
        };
        flows::router r;
        if (const auto name = load_result_name(n, base)) {
            r.result_name = *name;
        }
        if (*op == "choose") {
            only({"id",
                  "workshop",
                  "send",
                  "ask",
                  "result",
                  "next",
                  "other",
                  "none",
                  "timeout",
                  "on_timeout"});
            if (!n.contains("ask")) {
                add(at(base, "ask"), "is required: the question the list of workshops follows");
            } else if (auto t = load_text(n.at("ask"), at(base, "ask"))) {
                out.actions.push_back(workshop_menu_action{std::move(*t)});
            }
            r.kind = operand_kind::workshop_choice;
            r.wait = wait_spec{};
            r.cases.push_back({"has_text", {}, add_category(out, r, "Chosen", n, base, "next")});
            r.default_category = add_category(out, r, other_category, n, base, "other");
            load_timeout(n, base, true, r, out);
            r.none_category = add_category(out, r, "None", n, base, "none");
        } else if (*op == "register") {
            only({"id", "workshop", "send", "result", "registered", "waitlisted", "unavailable"});
            out.actions.push_back(register_action{});
            r.kind = operand_kind::registration;
            const auto registered = add_category(out, r, "Registered", n, base, "registered");
            r.cases.push_back({"has_only_text", {"registered"}, registered});
            r.cases.push_back({"has_only_text", {"attended"}, registered});
            r.cases.push_back(
                {"has_only_text", {"waitlisted"}, add_category(out, r, "Waitlisted", n, base, "waitlisted")});
            r.default_category = add_category(out, r, "Unavailable", n, base, "unavailable");
        } else if (*op == "cancel") {
            only({"id", "workshop", "send", "next"});
            // The confirmation ("send") goes out after the place is given up.
            out.actions.insert(out.actions.begin(), cancel_registration_action{});
            out.exits.push_back({reference(n, base, "next")});
            return;
        } else {
            add(at(base, "workshop"), "must be \"choose\", \"register\" or \"cancel\"");
            return;
        }
        out.router = std::move(r);
    }

    node load_node(const json& n, const std::string& base) {
        node out;
        if (!n.is_object()) {
            add(base, "must be an object (a node)");
            return out;
        }
        const bool is_workshop = n.contains("workshop");
        if (!is_workshop) {
            check_keys(n,
                       base,
                       {"id",
                        "set_name",
                        "set_fields",
                        "send",
                        "ask",
                        "branch",
                        "result",
                        "cases",
                        "other",
                        "timeout",
                        "on_timeout",
                        "next"});
        }
        if (const std::string* id = required_string(n, base, "id")) {
            if (is_node_id(*id)) {
                out.id = *id;
            } else {
                add(at(base, "id"), "must use only A-Z, a-z, 0-9, \"_\" and \"-\"");
            }
        }

        load_contact_changes(n, base, out);
        if (const auto send = n.find("send"); send != n.end()) {
            const std::string sp = at(base, "send");
            if (send->is_array()) {
                if (send->empty()) {
                    add(sp, "must not be empty");
                }
                for (std::size_t i = 0; i < send->size(); ++i) {
                    if (auto t = load_text((*send)[i], at(sp, i))) {
                        out.actions.push_back(send_action{std::move(*t)});
                    }
                }
            } else if (auto t = load_text(*send, sp)) {
                out.actions.push_back(send_action{std::move(*t)});
            }
        }

        if (is_workshop) {
            load_workshop_node(n, base, out);
            return out;
        }
        const bool is_ask = n.contains("ask");
        const bool is_branch = n.contains("branch");
        if (is_ask) {
            if (auto t = load_text(n.at("ask"), at(base, "ask"))) {
                out.actions.push_back(send_action{std::move(*t)});
            }
        }
        if (is_ask && is_branch) {
            add(at(base, "branch"), "a node has \"ask\" or \"branch\", not both");
        }
        if (is_ask || is_branch) {
            if (n.contains("next")) {
                add(at(base, "next"),
                    "is only for a node without \"ask\" or \"branch\" (use the cases' \"next\" and "
                    "\"other\")");
            }
            out.router = load_router(n, base, is_ask, out);
            return out;
        }

        if (!n.contains("send") && !n.contains("set_name") && !n.contains("set_fields")) {
            add(base,
                "a node needs \"send\", \"ask\", \"branch\", \"workshop\" or \"set_name\"/\"set_fields\"");
        }
        for (const char* key : {"cases", "other", "result", "timeout", "on_timeout"}) {
            if (n.contains(key)) {
                add(at(base, key), "is only for a node with \"ask\" or \"branch\"");
            }
        }
        out.exits.push_back({reference(n, base, "next")});
        return out;
    }

    const json& doc_;
    std::string base_;
    std::map<std::string, std::size_t> ids_;
    flowgate::problems problems_;
    flowgate::problems warnings_;
    const load_options& options_;
};

}  // namespace

load_result load_flow(const nlohmann::json& doc, const load_options& options) {
    return loader(doc, options).run();
}

}  // namespace flowgate::flows
