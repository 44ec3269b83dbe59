#include "flows/model.hpp"

#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>

namespace flowgate::flows {

const node* flow::find_node(std::string_view node_id) const {
    const auto i = node_index(node_id);
    return i ? &nodes[*i] : nullptr;
}

std::optional<std::size_t> flow::node_index(std::string_view node_id) const {
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        if (nodes[i].id == node_id) {
            return i;
        }
    }
    return std::nullopt;
}

void flow_set::add(flow f) {
    // A flow loaded again under the same id replaces the old one (a config reload).
    for (auto& existing : flows_) {
        if (existing.id == f.id) {
            existing = std::move(f);
            return;
        }
    }
    flows_.push_back(std::move(f));
}

const flow* flow_set::find(std::string_view id_or_name) const {
    for (const auto& f : flows_) {
        if (f.id == id_or_name) {
            return &f;
        }
    }
    for (const auto& f : flows_) {
        if (f.name == id_or_name) {
            return &f;
        }
    }
    return nullptr;
}

std::string result_key(std::string_view name) {
    const icu::UnicodeString in = icu::UnicodeString::fromUTF8(icu::StringPiece(name.data(), name.size()));
    icu::UnicodeString out;
    bool pending_underscore = false;
    for (int32_t i = 0; i < in.length(); i = in.moveIndex32(i, 1)) {
        const UChar32 c = in.char32At(i);
        if (u_isalnum(c)) {
            // Underscores only between words: leading and repeated separators collapse away.
            if (pending_underscore && !out.isEmpty()) {
                out.append(u'_');
            }
            pending_underscore = false;
            out.append(u_tolower(c));
        } else {
            pending_underscore = true;
        }
    }
    std::string key;
    out.toUTF8String(key);
    return key;
}

namespace {

nlohmann::json to_json(const result_value& r) {
    return {{"name", r.name},
            {"value", r.value},
            {"category", r.category},
            {"input", r.input},
            {"node_id", r.node_id},
            {"created_at", to_millis(r.created_at)}};
}

result_value result_from_json(const nlohmann::json& j) {
    result_value r;
    r.name = j.at("name").get<std::string>();
    r.value = j.at("value").get<std::string>();
    r.category = j.at("category").get<std::string>();
    r.input = j.at("input").get<std::string>();
    r.node_id = j.at("node_id").get<std::string>();
    r.created_at = from_millis(j.at("created_at").get<std::int64_t>());
    return r;
}

nlohmann::json to_json(const std::map<std::string, result_value>& results) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [key, value] : results) {
        out[key] = to_json(value);
    }
    return out;
}

std::map<std::string, result_value> results_from_json(const nlohmann::json& j) {
    std::map<std::string, result_value> out;
    for (const auto& [key, value] : j.items()) {
        out.emplace(key, result_from_json(value));
    }
    return out;
}

}  // namespace

std::optional<std::string> config_language(std::string_view code, const std::vector<std::string>& languages) {
    // ISO 639-3 (and 639-2/B) codes of the languages our programmes use, and their 639-1 codes.
    static const std::map<std::string_view, std::string_view> two_letter = {
        {"amh", "am"}, {"ara", "ar"}, {"ben", "bn"}, {"deu", "de"}, {"ger", "de"}, {"eng", "en"},
        {"fas", "fa"}, {"per", "fa"}, {"fra", "fr"}, {"fre", "fr"}, {"ful", "ff"}, {"hau", "ha"},
        {"hin", "hi"}, {"ibo", "ig"}, {"ita", "it"}, {"kin", "rw"}, {"kur", "ku"}, {"lin", "ln"},
        {"nld", "nl"}, {"orm", "om"}, {"por", "pt"}, {"pus", "ps"}, {"rus", "ru"}, {"som", "so"},
        {"spa", "es"}, {"swa", "sw"}, {"tir", "ti"}, {"tur", "tr"}, {"ukr", "uk"}, {"urd", "ur"},
        {"yor", "yo"}, {"zho", "zh"}};
    const auto has = [&](std::string_view c) {
        return std::find(languages.begin(), languages.end(), c) != languages.end();
    };
    const auto it = two_letter.find(code);
    if (languages.empty()) {
        if (code.empty() || code == "base" || code == "und") {
            return std::nullopt;
        }
        return std::string(it != two_letter.end() ? it->second : code);
    }
    if (it != two_letter.end() && has(it->second)) {
        return std::string(it->second);
    }
    if (!code.empty() && has(code)) {
        return std::string(code);
    }
    return std::nullopt;
}

// The fields added with subflows, webhooks and workshops are written only when set, so a session of a flow
// that uses neither keeps the JSON it always had.
std::string in_language(const lang_text& text, std::string_view language) {
    if (const auto it = text.find(std::string(language)); it != text.end()) {
        return it->second;
    }
    return text.empty() ? std::string() : text.begin()->second;
}

const char* to_string(registration_status s) {
    switch (s) {
        case registration_status::registered:
            return "registered";
        case registration_status::waitlisted:
            return "waitlisted";
        case registration_status::cancelled:
            return "cancelled";
        case registration_status::attended:
            return "attended";
    }
    return "cancelled";
}

std::optional<registration_status> registration_status_from(std::string_view s) {
    for (const auto status : {registration_status::registered,
                              registration_status::waitlisted,
                              registration_status::cancelled,
                              registration_status::attended}) {
        if (s == to_string(status)) {
            return status;
        }
    }
    return std::nullopt;
}

nlohmann::json to_json(const session& s) {
    nlohmann::json j = {{"flow_id", s.flow_id},
                        {"node_id", s.node_id},
                        {"results", to_json(s.results)},
                        {"started_at", to_millis(s.started_at)},
                        {"waiting_since", to_millis(s.waiting_since)}};
    if (s.wait_expires_at) {
        j["wait_expires_at"] = to_millis(*s.wait_expires_at);
    }
    if (s.webhook) {
        j["webhook"] = {{"next_action", s.webhook->next_action},
                        {"result_name", s.webhook->result_name},
                        {"request", s.webhook->request}};
    }
    if (s.last_webhook) {
        j["last_webhook"] = {{"status", s.last_webhook->status}, {"body", s.last_webhook->body}};
    }
    if (!s.parents.empty()) {
        nlohmann::json parents = nlohmann::json::array();
        for (const auto& p : s.parents) {
            parents.push_back({{"flow_id", p.flow_id},
                               {"node_id", p.node_id},
                               {"next_action", p.next_action},
                               {"results", to_json(p.results)},
                               {"started_at", to_millis(p.started_at)}});
        }
        j["parents"] = std::move(parents);
    }
    if (!s.workshop_id.empty()) {
        j["workshop"] = s.workshop_id;
    }
    if (!s.menu.empty()) {
        j["menu"] = s.menu;
    }
    if (!s.quick_replies.empty()) {
        j["quick_replies"] = s.quick_replies;
    }
    return j;
}

session session_from_json(const nlohmann::json& j) {
    session s;
    s.flow_id = j.at("flow_id").get<std::string>();
    s.node_id = j.at("node_id").get<std::string>();
    s.results = results_from_json(j.at("results"));
    s.started_at = from_millis(j.at("started_at").get<std::int64_t>());
    s.waiting_since = from_millis(j.at("waiting_since").get<std::int64_t>());
    if (const auto it = j.find("wait_expires_at"); it != j.end() && !it->is_null()) {
        s.wait_expires_at = from_millis(it->get<std::int64_t>());
    }
    if (const auto it = j.find("webhook"); it != j.end() && !it->is_null()) {
        s.webhook = webhook_wait{it->at("next_action").get<std::size_t>(),
                                 it->at("result_name").get<std::string>(),
                                 it->at("request").get<std::string>()};
    }
    if (const auto it = j.find("last_webhook"); it != j.end() && !it->is_null()) {
        s.last_webhook = webhook_response{it->at("status").get<int>(), it->at("body").get<std::string>()};
    }
    if (const auto it = j.find("parents"); it != j.end()) {
        for (const auto& p : *it) {
            s.parents.push_back({p.at("flow_id").get<std::string>(),
                                 p.at("node_id").get<std::string>(),
                                 p.at("next_action").get<std::size_t>(),
                                 results_from_json(p.at("results")),
                                 from_millis(p.at("started_at").get<std::int64_t>())});
        }
    }
    if (const auto it = j.find("workshop"); it != j.end()) {
        s.workshop_id = it->get<std::string>();
    }
    if (const auto it = j.find("menu"); it != j.end()) {
        s.menu = it->get<std::vector<std::string>>();
    }
    if (const auto it = j.find("quick_replies"); it != j.end()) {
        s.quick_replies = it->get<std::vector<std::string>>();
    }
    return s;
}

}  // namespace flowgate::flows
