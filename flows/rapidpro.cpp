#include "flows/rapidpro.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>

#include "flows/matcher.hpp"
#include "flows/template.hpp"

namespace flowgate::flows {

namespace {

using json = nlohmann::json;

std::string at(const std::string& base, std::string_view key) { return base + "/" + pointer_token(key); }
std::string at(const std::string& base, std::size_t index) { return base + "/" + std::to_string(index); }

// "13", "13.1.0", 14.4 → 13, 13, 14; nullopt when it is not a version.
std::optional<int> major_version(const json& v) {
    if (v.is_number()) {
        return static_cast<int>(v.get<double>());
    }
    if (!v.is_string()) {
        return std::nullopt;
    }
    const std::string s = v.get<std::string>();
    std::size_t i = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) != 0) {
        ++i;
    }
    if (i == 0 || i > 4 || (i < s.size() && s[i] != '.')) {
        return std::nullopt;
    }
    return std::stoi(s.substr(0, i));
}

bool supported_major(int major) { return major == 13 || major == 14; }

std::string without_spaces(std::string_view s) {
    std::string out;
    for (const char c : s) {
        if (std::isspace(static_cast<unsigned char>(c)) == 0) {
            out += c;
        }
    }
    return out;
}

// The operands RapidPro's editor writes for webhook and subflow splits.
operand_kind kind_of(std::string_view operand) {
    const std::string s = without_spaces(operand);
    if (s == "@webhook.status" || s == "@(webhook.status)" || s == "@(default(webhook.status,0))") {
        return operand_kind::webhook_status;
    }
    if (s == "@child.status" || s == "@child.run.status" || s == "@(child.status)" ||
        s == "@(child.run.status)") {
        return operand_kind::child_status;
    }
    if (s == "@contact.groups" || s == "@(contact.groups)") {
        return operand_kind::contact_groups;
    }
    return operand_kind::text;
}

// Localization of one flow: mapped language → item uuid → property → strings.
using localization =
    std::map<std::string, std::map<std::string, std::map<std::string, std::vector<std::string>>>>;

const std::set<std::string_view> http_methods = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"};

class flow_loader {
   public:
    flow_loader(const json& f,
                std::string base,
                const std::vector<std::string>& languages,
                bool export_versioned,
                flowgate::problems& problems)
        : f_(f),
          base_(std::move(base)),
          languages_(languages),
          versioned_(export_versioned),
          problems_(problems) {}

    std::optional<flow> run() {
        if (!f_.is_object()) {
            add(base_, "must be an object (a flow)");
            return std::nullopt;
        }
        const std::size_t before = problems_.size();
        flow out;
        if (const std::string* name = string_at(f_, base_, "name", true)) {
            out.name = *name;
        }
        label_ = "flow \"" + out.name + "\"";
        if (const std::string* uuid = string_at(f_, base_, "uuid", true)) {
            if (uuid->empty()) {
                add(at(base_, "uuid"), label_ + ": must not be empty");
            }
            out.id = *uuid;
        }
        if (f_.contains("action_sets") || f_.contains("rule_sets")) {
            add(base_,
                label_ +
                    ": a legacy (pre-13) RapidPro flow; open it in a current editor and export it again");
            return std::nullopt;
        }
        if (const auto v = f_.find("spec_version"); v != f_.end()) {
            const auto major = major_version(*v);
            if (!major || !supported_major(*major)) {
                add(at(base_, "spec_version"),
                    label_ + ": spec version " + v->dump() + " is not supported (13.x and 14.x are)");
            }
        } else if (!versioned_) {
            add(at(base_, "spec_version"), label_ + ": is required (13.x or 14.x)");
        }
        if (const std::string* type = string_at(f_, base_, "type", false)) {
            if (*type != "messaging" && *type != "messaging_background") {
                add(at(base_, "type"),
                    label_ + ": flow type \"" + *type + "\" is not supported (only messaging)");
            }
        }
        if (const std::string* lang = string_at(f_, base_, "language", false)) {
            out.language = map_language(*lang).value_or(default_language(*lang));
        } else {
            out.language = default_language("base");
        }
        flow_language_ = out.language;
        if (const auto e = f_.find("expire_after_minutes"); e != f_.end()) {
            if (!e->is_number_integer() || e->get<std::int64_t>() < 0) {
                add(at(base_, "expire_after_minutes"), label_ + ": must be a whole number of minutes");
            } else if (e->get<std::int64_t>() > 0) {
                out.expire_after = std::chrono::minutes(e->get<std::int64_t>());
            }
        }
        // Older exports carry the flow's "ignore keywords while in this flow" setting.
        if (const auto it = f_.find("ignore_triggers"); it != f_.end() && it->is_boolean()) {
            out.ignore_triggers = it->get<bool>();
        }
        load_localization();

        const auto nodes = f_.find("nodes");
        if (nodes == f_.end() || !nodes->is_array() || nodes->empty()) {
            add(at(base_, "nodes"), label_ + ": must be a non-empty array of nodes");
        } else {
            index_nodes(*nodes);
            for (std::size_t i = 0; i < nodes->size(); ++i) {
                out.nodes.push_back(load_node((*nodes)[i], at(at(base_, "nodes"), i)));
            }
        }
        if (problems_.size() != before) {
            return std::nullopt;
        }
        return out;
    }

    // The flows this one enters, with where: checked once every flow of the export is known.
    struct flow_reference {
        std::string uuid;
        std::string name;
        std::string pointer;
        std::string where;
    };
    const std::vector<flow_reference>& references() const { return references_; }

   private:
    void add(std::string pointer, std::string message) {
        problems_.push_back({std::move(pointer), std::move(message)});
    }

    std::string in_node(const std::string& node_uuid) const { return label_ + ", node " + node_uuid + ": "; }

    // Where a problem is, for its message: the node being read, else the flow.
    std::string prefix() const {
        if (!where_.empty()) {
            return where_;
        }
        return label_.empty() ? "" : label_ + ": ";
    }

    const std::string* string_at(const json& obj,
                                 const std::string& base,
                                 std::string_view key,
                                 bool required) {
        const auto it = obj.find(key);
        if (it == obj.end() || it->is_null()) {
            if (required) {
                add(at(base, key), prefix() + "\"" + std::string(key) + "\" is required");
            }
            return nullptr;
        }
        if (!it->is_string()) {
            add(at(base, key), prefix() + "\"" + std::string(key) + "\" must be a string");
            return nullptr;
        }
        return it->get_ptr<const std::string*>();
    }

    std::optional<std::string> map_language(const std::string& code) const {
        return config_language(code, languages_);
    }

    std::string default_language(const std::string& code) const {
        if (!languages_.empty()) {
            return languages_.front();
        }
        return code == "base" || code == "und" || code.empty() ? "en" : code;
    }

    void load_localization() {
        const auto loc = f_.find("localization");
        if (loc == f_.end() || loc->is_null()) {
            return;
        }
        const std::string lp = at(base_, "localization");
        if (!loc->is_object()) {
            add(lp, label_ + ": must be an object of translations by language");
            return;
        }
        for (const auto& [code, items] : loc->items()) {
            const auto lang = map_language(code);
            // A language the deployment does not use is never chosen; the base one is the flow's own.
            if (!lang || *lang == flow_language_) {
                continue;
            }
            if (!items.is_object()) {
                add(at(lp, code), label_ + ": must be an object of translations by item UUID");
                continue;
            }
            for (const auto& [uuid, props] : items.items()) {
                if (!props.is_object()) {
                    add(at(at(lp, code), uuid), label_ + ": must be an object of translated properties");
                    continue;
                }
                for (const auto& [prop, values] : props.items()) {
                    const std::string pp = at(at(at(lp, code), uuid), prop);
                    if (!values.is_array() || !std::all_of(values.begin(), values.end(), [](const json& v) {
                            return v.is_string();
                        })) {
                        add(pp, label_ + ": must be an array of strings");
                        continue;
                    }
                    localization_[*lang][uuid][prop] = values.get<std::vector<std::string>>();
                    localization_pointer_[*lang + "/" + uuid + "/" + prop] = pp;
                }
            }
        }
    }

    // Translations of one property of one item, by language.
    lang_texts translations(const std::string& uuid, const std::string& prop) const {
        lang_texts out;
        for (const auto& [lang, items] : localization_) {
            const auto item = items.find(uuid);
            if (item == items.end()) {
                continue;
            }
            if (const auto p = item->second.find(prop); p != item->second.end()) {
                out[lang] = p->second;
            }
        }
        return out;
    }

    std::string translation_pointer(const std::string& lang,
                                    const std::string& uuid,
                                    const std::string& prop) const {
        const auto it = localization_pointer_.find(lang + "/" + uuid + "/" + prop);
        return it == localization_pointer_.end() ? base_ : it->second;
    }

    // Every UUID of the flow once: nodes, actions, exits, categories, cases.
    void claim_uuid(const std::string& uuid, const std::string& pointer) {
        const auto [it, inserted] = uuids_.emplace(uuid, pointer);
        if (!inserted) {
            add(at(pointer, "uuid"), label_ + ": the UUID " + uuid + " is already used by " + it->second);
        }
    }

    void index_nodes(const json& nodes) {
        for (std::size_t i = 0; i < nodes.size(); ++i) {
            const json& n = nodes[i];
            if (!n.is_object() || !n.contains("uuid") || !n["uuid"].is_string()) {
                continue;
            }
            node_index_.emplace(n["uuid"].get<std::string>(), i);
        }
    }

    void check_text(const std::string& text, const std::string& pointer, const std::string& where) {
        for (const auto& p : check_template(text)) {
            add(pointer, where + p.message);
        }
    }

    node load_node(const json& n, const std::string& base) {
        node out;
        if (!n.is_object()) {
            add(base, label_ + ": must be an object (a node)");
            return out;
        }
        where_.clear();
        if (const std::string* uuid = string_at(n, base, "uuid", true)) {
            out.id = *uuid;
            claim_uuid(*uuid, base);
        }
        const std::string where = in_node(out.id);
        where_ = where;

        // Exits first: categories refer to them.
        std::map<std::string, std::size_t> exits;
        const auto ex = n.find("exits");
        if (ex == n.end() || !ex->is_array() || ex->empty()) {
            add(at(base, "exits"), where + "must be a non-empty array of exits");
        } else {
            for (std::size_t i = 0; i < ex->size(); ++i) {
                const json& e = (*ex)[i];
                const std::string ep = at(at(base, "exits"), i);
                exit_spec spec;
                if (!e.is_object()) {
                    add(ep, where + "an exit must be an object");
                } else {
                    if (const std::string* uuid = string_at(e, ep, "uuid", true)) {
                        exits.emplace(*uuid, i);
                        claim_uuid(*uuid, ep);
                    }
                    if (const std::string* dest = string_at(e, ep, "destination_uuid", false)) {
                        const auto found = node_index_.find(*dest);
                        if (found == node_index_.end()) {
                            add(at(ep, "destination_uuid"),
                                where + "the exit goes to node " + *dest + ", which does not exist");
                        } else {
                            spec.destination = found->second;
                        }
                    }
                }
                out.exits.push_back(spec);
            }
        }

        if (const auto acts = n.find("actions"); acts != n.end() && !acts->is_null()) {
            if (!acts->is_array()) {
                add(at(base, "actions"), where + "must be an array of actions");
            } else {
                for (std::size_t i = 0; i < acts->size(); ++i) {
                    if (auto a = load_action((*acts)[i], at(at(base, "actions"), i), where)) {
                        out.actions.push_back(std::move(*a));
                    }
                }
            }
        }

        if (const auto r = n.find("router"); r != n.end() && !r->is_null()) {
            out.router = load_router(*r, at(base, "router"), where, exits);
        }
        return out;
    }

    std::optional<action> load_action(const json& a, const std::string& p, const std::string& where) {
        if (!a.is_object()) {
            add(p, where + "an action must be an object");
            return std::nullopt;
        }
        std::string uuid;
        if (const std::string* u = string_at(a, p, "uuid", true)) {
            uuid = *u;
            claim_uuid(uuid, p);
        }
        const std::string* type = string_at(a, p, "type", true);
        if (type == nullptr) {
            return std::nullopt;
        }
        const std::string& t = *type;
        const std::size_t before = problems_.size();
        std::optional<action> out;
        if (t == "send_msg") {
            out = load_send(a, p, where, uuid);
        } else if (t == "set_contact_field") {
            set_field_action s;
            const auto field = a.find("field");
            if (field == a.end() || !field->is_object()) {
                add(at(p, "field"), where + "set_contact_field needs a field {key, name}");
            } else {
                if (const std::string* key = string_at(*field, at(p, "field"), "key", true)) {
                    s.key = *key;
                }
                if (const std::string* name = string_at(*field, at(p, "field"), "name", false)) {
                    s.name = *name;
                }
            }
            if (const std::string* value = string_at(a, p, "value", true)) {
                s.value = *value;
                check_text(s.value, at(p, "value"), where);
            }
            out = s;
        } else if (t == "set_contact_name") {
            set_name_action s;
            if (const std::string* name = string_at(a, p, "name", true)) {
                s.name = *name;
                check_text(s.name, at(p, "name"), where);
            }
            out = s;
        } else if (t == "set_contact_language") {
            set_language_action s;
            if (const std::string* lang = string_at(a, p, "language", true)) {
                if (lang->find('@') != std::string::npos) {
                    s.language = *lang;  // a template: mapped when the run renders it
                    check_text(s.language, at(p, "language"), where);
                } else if (const auto code = map_language(*lang)) {
                    s.language = *code;
                } else {
                    add(at(p, "language"),
                        where + "the language \"" + *lang + "\" is not one of the deployment's languages");
                }
            }
            out = s;
        } else if (t == "set_run_result") {
            set_result_action s;
            if (const std::string* name = string_at(a, p, "name", true)) {
                s.name = *name;
                if (result_key(*name).empty()) {
                    add(at(p, "name"), where + "a result name needs a letter or digit");
                }
            }
            if (const std::string* value = string_at(a, p, "value", false)) {
                s.value = *value;
                check_text(s.value, at(p, "value"), where);
            }
            if (const std::string* category = string_at(a, p, "category", false)) {
                s.category = *category;
            }
            out = s;
        } else if (t == "add_contact_groups") {
            out = add_groups_action{load_groups(a, p, where, true)};
        } else if (t == "remove_contact_groups") {
            remove_groups_action s;
            if (const auto all = a.find("all_groups"); all != a.end() && !all->is_null()) {
                if (!all->is_boolean()) {
                    add(at(p, "all_groups"), where + "must be true or false");
                } else {
                    s.all = all->get<bool>();
                }
            }
            s.groups = load_groups(a, p, where, !s.all);
            out = s;
        } else if (t == "enter_flow") {
            enter_flow_action s;
            const auto fl = a.find("flow");
            if (fl == a.end() || !fl->is_object()) {
                add(at(p, "flow"), where + "enter_flow needs a flow {uuid, name}");
            } else {
                if (const std::string* u = string_at(*fl, at(p, "flow"), "uuid", true)) {
                    s.flow_id = *u;
                }
                if (const std::string* name = string_at(*fl, at(p, "flow"), "name", false)) {
                    s.flow_name = *name;
                }
                references_.push_back({s.flow_id, s.flow_name, at(p, "flow"), where});
            }
            if (const auto term = a.find("terminal"); term != a.end() && term->is_boolean()) {
                s.terminal = term->get<bool>();
            }
            out = s;
        } else if (t == "call_webhook") {
            out = load_webhook(a, p, where);
        } else {
            add(p, where + "action type \"" + t + "\" is not supported");
            return std::nullopt;
        }
        if (problems_.size() != before) {
            return std::nullopt;
        }
        return out;
    }

    send_action load_send(const json& a,
                          const std::string& p,
                          const std::string& where,
                          const std::string& uuid) {
        send_action s;
        if (const std::string* text = string_at(a, p, "text", true)) {
            if (text->empty()) {
                add(at(p, "text"), where + "send_msg text must not be empty");
            }
            check_text(*text, at(p, "text"), where);
            s.text[flow_language_] = *text;
        }
        for (const auto& [lang, texts] : translations(uuid, "text")) {
            if (texts.size() == 1 && !texts.front().empty()) {
                check_text(texts.front(), translation_pointer(lang, uuid, "text"), where);
                s.text[lang] = texts.front();
            }
        }
        if (const auto qr = a.find("quick_replies"); qr != a.end() && !qr->is_null()) {
            if (!qr->is_array() ||
                !std::all_of(qr->begin(), qr->end(), [](const json& v) { return v.is_string(); })) {
                add(at(p, "quick_replies"), where + "must be an array of texts");
            } else if (!qr->empty()) {
                s.quick_replies[flow_language_] = qr->get<std::vector<std::string>>();
                for (std::size_t i = 0; i < qr->size(); ++i) {
                    check_text((*qr)[i].get<std::string>(), at(at(p, "quick_replies"), i), where);
                }
            }
        }
        for (const auto& [lang, replies] : translations(uuid, "quick_replies")) {
            for (const auto& r : replies) {
                check_text(r, translation_pointer(lang, uuid, "quick_replies"), where);
            }
            s.quick_replies[lang] = replies;
        }
        // What an SMS cannot carry is refused rather than dropped.
        if (const auto att = a.find("attachments"); att != a.end() && att->is_array() && !att->empty()) {
            add(at(p, "attachments"),
                where + "send_msg attachments are not supported (SMS carries text only)");
        }
        for (const char* key : {"templating", "template"}) {
            if (const auto tpl = a.find(key); tpl != a.end() && !tpl->is_null()) {
                add(at(p, key), where + "send_msg WhatsApp templates are not supported");
            }
        }
        return s;
    }

    std::vector<group_ref> load_groups(const json& a,
                                       const std::string& p,
                                       const std::string& where,
                                       bool required) {
        std::vector<group_ref> out;
        const auto groups = a.find("groups");
        if (groups == a.end() || groups->is_null()) {
            if (required) {
                add(at(p, "groups"), where + "needs groups");
            }
            return out;
        }
        if (!groups->is_array()) {
            add(at(p, "groups"), where + "must be an array of groups");
            return out;
        }
        for (std::size_t i = 0; i < groups->size(); ++i) {
            const json& g = (*groups)[i];
            const std::string gp = at(at(p, "groups"), i);
            if (!g.is_object()) {
                add(gp, where + "a group must be an object {uuid, name}");
                continue;
            }
            if (g.contains("name_match")) {
                add(at(gp, "name_match"), where + "groups by name_match are not supported");
                continue;
            }
            group_ref ref;
            if (const std::string* u = string_at(g, gp, "uuid", false)) {
                ref.uuid = *u;
            }
            if (const std::string* name = string_at(g, gp, "name", false)) {
                ref.name = *name;
            }
            if (ref.uuid.empty() && ref.name.empty()) {
                add(gp, where + "a group needs a uuid or a name");
                continue;
            }
            out.push_back(std::move(ref));
        }
        return out;
    }

    webhook_action load_webhook(const json& a, const std::string& p, const std::string& where) {
        webhook_action w;
        if (const std::string* method = string_at(a, p, "method", false)) {
            if (http_methods.count(*method) == 0) {
                add(at(p, "method"), where + "webhook method \"" + *method + "\" is not supported");
            }
            w.method = *method;
        }
        if (const std::string* url = string_at(a, p, "url", true)) {
            // The scheme and host are written out: a template there could send contacts' data to a
            // host that an answer chose.
            const std::size_t scheme = url->rfind("https://", 0) == 0  ? 8
                                       : url->rfind("http://", 0) == 0 ? 7
                                                                       : 0;
            const std::string host =
                scheme == 0 ? "" : url->substr(scheme, url->find_first_of("/?#", scheme) - scheme);
            if (scheme == 0 || host.empty() || host.find('@') != std::string::npos) {
                add(at(p, "url"),
                    where +
                        "the webhook URL must start with http:// or https:// and a host without variables");
            }
            check_text(*url, at(p, "url"), where);
            w.url = *url;
        }
        if (const auto headers = a.find("headers"); headers != a.end() && !headers->is_null()) {
            if (!headers->is_object()) {
                add(at(p, "headers"), where + "must be an object of header values");
            } else {
                for (const auto& [name, value] : headers->items()) {
                    if (!value.is_string()) {
                        add(at(at(p, "headers"), name), where + "a header value must be a string");
                        continue;
                    }
                    check_text(value.get<std::string>(), at(at(p, "headers"), name), where);
                    w.headers.emplace_back(name, value.get<std::string>());
                }
            }
        }
        if (const std::string* body = string_at(a, p, "body", false)) {
            check_text(*body, at(p, "body"), where);
            w.body = *body;
        }
        if (const std::string* name = string_at(a, p, "result_name", false)) {
            w.result_name = *name;
        }
        return w;
    }

    std::vector<std::string> load_arguments(const json& c, const std::string& cp, const std::string& where) {
        std::vector<std::string> args;
        const auto it = c.find("arguments");
        if (it == c.end() || it->is_null()) {
            return args;
        }
        if (!it->is_array()) {
            add(at(cp, "arguments"), where + "must be an array of strings");
            return args;
        }
        for (std::size_t i = 0; i < it->size(); ++i) {
            const json& v = (*it)[i];
            if (v.is_string()) {
                args.push_back(v.get<std::string>());
            } else if (v.is_number()) {
                args.push_back(v.dump());
            } else {
                add(at(at(cp, "arguments"), i), where + "must be a string");
            }
        }
        return args;
    }

    // check_test_arguments points at "/args/N"; in an export they are "/arguments/N".
    void check_arguments(const std::string& type,
                         const std::vector<std::string>& args,
                         const std::string& pointer,
                         const std::string& where) {
        for (const auto& p : check_test_arguments(type, args)) {
            std::string rest = p.pointer;
            if (rest.rfind("/args", 0) == 0) {
                rest = "/arguments" + rest.substr(5);
            }
            add(pointer + rest, where + "test \"" + type + "\": " + p.message);
        }
    }

    flows::router load_router(const json& r,
                              const std::string& rp,
                              const std::string& where,
                              const std::map<std::string, std::size_t>& exits) {
        flows::router out;
        if (!r.is_object()) {
            add(rp, where + "a router must be an object");
            return out;
        }
        const std::string* type = string_at(r, rp, "type", true);
        if (type != nullptr && *type != "switch") {
            add(rp, where + "router type \"" + *type + "\" is not supported");
            return out;
        }
        if (const std::string* name = string_at(r, rp, "result_name", false)) {
            if (!name->empty() && result_key(*name).empty()) {
                add(at(rp, "result_name"), where + "a result name needs a letter or digit");
            }
            out.result_name = *name;
        }

        std::map<std::string, std::size_t> categories;
        const auto cats = r.find("categories");
        if (cats == r.end() || !cats->is_array() || cats->empty()) {
            add(at(rp, "categories"), where + "must be a non-empty array of categories");
        } else {
            for (std::size_t i = 0; i < cats->size(); ++i) {
                const json& c = (*cats)[i];
                const std::string cp = at(at(rp, "categories"), i);
                category cat;
                if (!c.is_object()) {
                    add(cp, where + "a category must be an object");
                    out.categories.push_back(cat);
                    continue;
                }
                std::string uuid;
                if (const std::string* u = string_at(c, cp, "uuid", true)) {
                    uuid = *u;
                    claim_uuid(uuid, cp);
                    categories.emplace(uuid, i);
                }
                if (const std::string* name = string_at(c, cp, "name", true)) {
                    cat.name = *name;
                }
                if (const std::string* exit = string_at(c, cp, "exit_uuid", true)) {
                    const auto found = exits.find(*exit);
                    if (found == exits.end()) {
                        add(at(cp, "exit_uuid"),
                            where + "the category \"" + cat.name + "\" has no exit " + *exit);
                    } else {
                        cat.exit = found->second;
                    }
                }
                for (const auto& [lang, names] : translations(uuid, "name")) {
                    if (names.size() == 1) {
                        cat.localized_name[lang] = names.front();
                    }
                }
                out.categories.push_back(std::move(cat));
            }
        }
        const auto category_of = [&](const json& obj, const std::string& p, std::string_view key) {
            std::optional<std::size_t> index;
            if (const std::string* u = string_at(obj, p, key, true)) {
                const auto found = categories.find(*u);
                if (found == categories.end()) {
                    add(at(p, key), where + "no category of this router has the UUID " + *u);
                } else {
                    index = found->second;
                }
            }
            return index;
        };

        if (const std::string* operand = string_at(r, rp, "operand", false)) {
            out.operand = *operand;
            out.kind = kind_of(*operand);
            if (out.kind == operand_kind::text) {
                check_text(*operand, at(rp, "operand"), where);
            }
        }

        if (const auto cases = r.find("cases"); cases != r.end() && !cases->is_null()) {
            if (!cases->is_array()) {
                add(at(rp, "cases"), where + "must be an array of cases");
            } else {
                for (std::size_t i = 0; i < cases->size(); ++i) {
                    const json& c = (*cases)[i];
                    const std::string cp = at(at(rp, "cases"), i);
                    if (!c.is_object()) {
                        add(cp, where + "a case must be an object");
                        continue;
                    }
                    test_case tc;
                    std::string uuid;
                    if (const std::string* u = string_at(c, cp, "uuid", true)) {
                        uuid = *u;
                        claim_uuid(uuid, cp);
                    }
                    if (const std::string* t = string_at(c, cp, "type", true)) {
                        tc.type = *t;
                    }
                    const std::size_t before = problems_.size();
                    tc.arguments = load_arguments(c, cp, where);
                    if (!tc.type.empty() && !is_known_test(tc.type)) {
                        add(cp, where + "test \"" + tc.type + "\" is not supported");
                    } else if (!tc.type.empty() && problems_.size() == before) {
                        check_arguments(tc.type, tc.arguments, cp, where);
                        for (const auto& [lang, args] : translations(uuid, "arguments")) {
                            check_arguments(
                                tc.type, args, translation_pointer(lang, uuid, "arguments"), where);
                            tc.localized_arguments[lang] = args;
                        }
                    }
                    if (const auto index = category_of(c, cp, "category_uuid")) {
                        tc.category = *index;
                    }
                    out.cases.push_back(std::move(tc));
                }
            }
        }
        if (const auto index = category_of(r, rp, "default_category_uuid")) {
            out.default_category = *index;
        }

        if (const auto w = r.find("wait"); w != r.end() && !w->is_null()) {
            const std::string wp = at(rp, "wait");
            if (!w->is_object()) {
                add(wp, where + "a wait must be an object");
                return out;
            }
            const std::string* wtype = string_at(*w, wp, "type", true);
            if (wtype != nullptr && *wtype != "msg") {
                add(wp, where + "wait type \"" + *wtype + "\" is not supported");
                return out;
            }
            if (const auto hint = w->find("hint"); hint != w->end() && !hint->is_null()) {
                const std::string h =
                    hint->is_object() && hint->contains("type") ? hint->at("type").dump() : hint->dump();
                add(at(wp, "hint"), where + "wait hint " + h + " is not supported (SMS carries text only)");
            }
            wait_spec spec;
            if (const auto t = w->find("timeout"); t != w->end() && !t->is_null()) {
                const std::string tp = at(wp, "timeout");
                const auto seconds = t->is_object() ? t->find("seconds") : t->end();
                if (!t->is_object() || seconds == t->end() || !seconds->is_number_integer() ||
                    seconds->get<std::int64_t>() <= 0) {
                    add(tp, where + "a wait timeout must be {\"seconds\": N, \"category_uuid\": ...}");
                } else {
                    spec.timeout = std::chrono::seconds(seconds->get<std::int64_t>());
                    spec.timeout_category = category_of(*t, tp, "category_uuid");
                }
            }
            out.wait = spec;
        }
        return out;
    }

    const json& f_;
    std::string base_;
    const std::vector<std::string>& languages_;
    bool versioned_;
    flowgate::problems& problems_;
    std::string label_;
    std::string where_;
    std::string flow_language_;
    localization localization_;
    std::map<std::string, std::string> localization_pointer_;
    std::map<std::string, std::string> uuids_;
    std::map<std::string, std::size_t> node_index_;
    std::vector<flow_reference> references_;
};

}  // namespace

export_result load_rapidpro_export(const nlohmann::json& doc, const std::vector<std::string>& languages) {
    export_result out;
    if (!doc.is_object()) {
        out.problems.push_back({"", "must be a JSON object (a RapidPro export)"});
        return out;
    }
    // A bare flow definition is one flow without an export around it.
    const bool bare = !doc.contains("flows") && doc.contains("nodes");
    bool versioned = false;
    if (const auto v = doc.find("version"); v != doc.end() && !bare) {
        const auto major = major_version(*v);
        if (!major || !supported_major(*major)) {
            out.problems.push_back(
                {"/version", "export version " + v->dump() + " is not supported (13.x and 14.x are)"});
            return out;
        }
        versioned = true;
    }
    std::vector<std::pair<const json*, std::string>> defs;
    if (bare) {
        defs.emplace_back(&doc, "");
    } else {
        const auto flows = doc.find("flows");
        if (flows == doc.end() || !flows->is_array() || flows->empty()) {
            out.problems.push_back({"/flows", "must be a non-empty array of flows"});
            return out;
        }
        for (std::size_t i = 0; i < flows->size(); ++i) {
            defs.emplace_back(&(*flows)[i], at("/flows", i));
        }
    }

    std::map<std::string, std::string> flow_uuids;  // uuid → pointer
    std::vector<flow> loaded;
    for (const auto& [def, pointer] : defs) {
        flow_loader loader(*def, pointer, languages, versioned, out.problems);
        auto f = loader.run();
        if (f) {
            const auto [it, inserted] = flow_uuids.emplace(f->id, pointer);
            if (!inserted) {
                out.problems.push_back(
                    {at(pointer, "uuid"),
                     "flow \"" + f->name + "\": the UUID " + f->id + " is already used by " + it->second});
            }
        }
        // Subflows are looked for among the export's flows once all are read: the order is free.
        for (const auto& ref : loader.references()) {
            bool found = false;
            for (const auto& [d, p] : defs) {
                if (d->is_object() && d->contains("uuid") && (*d)["uuid"] == ref.uuid) {
                    found = true;
                }
            }
            if (!found) {
                out.problems.push_back({ref.pointer,
                                        ref.where + "enter_flow refers to flow \"" + ref.name + "\" (" +
                                            ref.uuid + "), which is not in this export"});
            }
        }
        if (f) {
            loaded.push_back(std::move(*f));
        }
    }
    if (out.problems.empty()) {
        out.flows = std::move(loaded);
    }
    return out;
}

}  // namespace flowgate::flows
