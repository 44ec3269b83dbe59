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

}  // namespace

nlohmann::json to_json(const session& s) {
    nlohmann::json results = nlohmann::json::object();
    for (const auto& [key, value] : s.results) {
        results[key] = to_json(value);
    }
    nlohmann::json j = {{"flow_id", s.flow_id},
                        {"node_id", s.node_id},
                        {"results", std::move(results)},
                        {"started_at", to_millis(s.started_at)},
                        {"waiting_since", to_millis(s.waiting_since)}};
    if (s.wait_expires_at) {
        j["wait_expires_at"] = to_millis(*s.wait_expires_at);
    }
    return j;
}

session session_from_json(const nlohmann::json& j) {
    session s;
    s.flow_id = j.at("flow_id").get<std::string>();
    s.node_id = j.at("node_id").get<std::string>();
    for (const auto& [key, value] : j.at("results").items()) {
        s.results.emplace(key, result_from_json(value));
    }
    s.started_at = from_millis(j.at("started_at").get<std::int64_t>());
    s.waiting_since = from_millis(j.at("waiting_since").get<std::int64_t>());
    if (const auto it = j.find("wait_expires_at"); it != j.end() && !it->is_null()) {
        s.wait_expires_at = from_millis(it->get<std::int64_t>());
    }
    return s;
}

}  // namespace flowgate::flows
