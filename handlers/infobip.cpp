#include "handlers/infobip.hpp"

#include <nlohmann/json.hpp>

#include "handlers/crypto.hpp"
#include "handlers/form.hpp"
#include "handlers/urn.hpp"

namespace flowgate::handlers {

namespace {

using json = nlohmann::json;

std::unique_ptr<handler> make_infobip(const channel_settings& settings) {
    return std::make_unique<infobip_handler>(settings);
}

const std::string* string_field(const json& object, const char* key) {
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
}

std::optional<long> integer_field(const json& object, const char* key) {
    const auto it = object.find(key);
    if (it != object.end() && it->is_number_integer()) {
        return it->get<long>();
    }
    return std::nullopt;
}

// Infobip writes numbers as international digits without '+'.
std::optional<std::string> sender_urn(const std::string& from, std::string_view default_country) {
    if (!from.empty() && from.find_first_not_of("0123456789") == std::string::npos) {
        return parse_urn("+" + from, default_country);
    }
    return parse_urn(from, default_country);
}

// Status groups (§5.3): 1 PENDING, 2 UNDELIVERABLE, 3 DELIVERED, 4 EXPIRED, 5 REJECTED.
// DELIVERED_TO_OPERATOR (id 2) is only the operator's acknowledgement, not the handset's.
std::optional<msg_state> map_status(const json& status) {
    std::optional<long> group = integer_field(status, "groupId");
    if (!group) {
        const std::string* name = string_field(status, "groupName");
        if (name == nullptr) {
            return std::nullopt;
        }
        static const std::pair<const char*, long> names[] = {
            {"PENDING", 1}, {"UNDELIVERABLE", 2}, {"DELIVERED", 3}, {"EXPIRED", 4}, {"REJECTED", 5}};
        for (const auto& [n, g] : names) {
            if (*name == n) {
                group = g;
            }
        }
    }
    if (!group) {
        return std::nullopt;
    }
    switch (*group) {
        case 1:
            return msg_state::sent;
        case 3: {
            const std::string* name = string_field(status, "name");
            if (integer_field(status, "id") == 2 || (name != nullptr && *name == "DELIVERED_TO_OPERATOR")) {
                return msg_state::sent;
            }
            return msg_state::delivered;
        }
        case 2:
        case 4:
        case 5:
            return msg_state::failed;
        default:
            return std::nullopt;
    }
}

// The provider's code for a failure: the error's name, else the status's name.
std::string error_code(const json& result, const json& status) {
    const auto error = result.find("error");
    if (error != result.end() && error->is_object()) {
        const auto id = integer_field(*error, "id");
        const std::string* name = string_field(*error, "name");
        if (id && *id != 0) {
            return name != nullptr && name->size() <= 64 ? *name : std::to_string(*id);
        }
    }
    const std::string* name = string_field(status, "name");
    return name != nullptr && name->size() <= 64 ? *name : std::string{};
}

// A REJECTED status in the send answer, by its documented name.
send_result classify_rejection(const std::string& name) {
    if (name == "REJECTED_NOT_ENOUGH_CREDITS" || name == "REJECTED_PREPAID_PACKAGE_EXPIRED" ||
        name == "REJECTED_SOURCE" || name == "REJECTED_SENDER") {
        return {send_error::config, "", "rejected: account or sender"};
    }
    if (name == "REJECTED_FLOODING_FILTER") {
        return {send_error::throttled, "", "rejected: flooding filter"};
    }
    if (name == "REJECTED_SYSTEM_ERROR") {
        return {send_error::server_error, "", "rejected: system error"};
    }
    return {send_error::invalid_message, "", "rejected by Infobip"};
}

}  // namespace

handler_type infobip_handler::describe() {
    return {"infobip",
            {
                {"address", setting_spec::kind::string, false},
                {"api_key", setting_spec::kind::secret, true},
                {"api_base", setting_spec::kind::url, false},
                {"url_secret", setting_spec::kind::secret, true, {}, true},
            },
            &make_infobip};
}

infobip_handler::infobip_handler(const channel_settings& settings)
    : address_(settings.get("address")),
      api_key_(settings.get("api_key")),
      api_base_(settings.url("api_base", default_api_base)),
      url_secret_(settings.get("url_secret")),
      default_country_(settings.default_country) {}

bool infobip_handler::allows(endpoint, std::string_view method) const { return method == "POST"; }

receive_result infobip_handler::receive(endpoint e, const raw_request& request) const {
    if (!has_url_secret(request, url_secret_)) {
        return receive_result::reject(403, "invalid secret");
    }
    if (request.content_type() != "application/json") {
        return receive_result::reject(415, "unsupported content type");
    }
    const json doc = json::parse(request.body, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        return receive_result::reject(400, "malformed JSON body");
    }
    const auto results = doc.find("results");
    if (results == doc.end() || !results->is_array()) {
        return receive_result::reject(400, "missing results");
    }

    // A batch is taken whole or refused whole: a shape we do not understand is a 400, so nothing in
    // it is half-stored. A status we do not know only skips its own report.
    std::vector<event> events;
    for (const json& r : *results) {
        if (!r.is_object()) {
            return receive_result::reject(400, "malformed result");
        }
        const std::string* id = string_field(r, "messageId");
        if (id == nullptr) {
            return receive_result::reject(400, "missing messageId");
        }
        if (!is_provider_id(*id)) {
            return receive_result::reject(400, "invalid messageId");
        }
        if (e == endpoint::status) {
            const auto status = r.find("status");
            if (status == r.end() || !status->is_object()) {
                return receive_result::reject(400, "missing status");
            }
            const auto state = map_status(*status);
            if (!state) {
                continue;
            }
            events.push_back(status_update{
                *id, *state, *state == msg_state::failed ? error_code(r, *status) : std::string{}});
            continue;
        }
        const std::string* from = string_field(r, "from");
        if (from == nullptr || from->empty()) {
            return receive_result::reject(400, "missing from");
        }
        auto urn = sender_urn(*from, default_country_);
        if (!urn) {
            return receive_result::reject(400, "invalid from");
        }
        const std::string* text = string_field(r, "text");
        if (text == nullptr) {
            return receive_result::reject(400, "missing text");
        }
        events.push_back(incoming_message{*id, std::move(*urn), *text, ""});
    }
    if (events.empty()) {
        return receive_result::ignore(results->empty() ? "no results" : "no known status");
    }
    return receive_result::accept(std::move(events));
}

http_reply infobip_handler::reply(endpoint, const receive_result& result) const {
    // Infobip only looks at the status; a rejection says why in a few fixed words.
    return {result.http_status,
            "text/plain",
            result.result == receive_result::outcome::accepted ? std::string{} : result.reason};
}

send_request infobip_handler::build_send(const outgoing_message& message) const {
    std::string to(urn_path(message.urn));
    if (!to.empty() && to.front() == '+') {
        to.erase(0, 1);
    }
    // Our id as Infobip's messageId: delivery reports then name our message even if the send's
    // answer was lost.
    json msg = {
        {"destinations", json::array({{{"to", to}, {"messageId", message.id}}})},
        {"content", {{"text", message.text}}},
    };
    if (!address_.empty()) {
        msg["sender"] = address_;
    }
    send_request req;
    req.method = "POST";
    req.url = api_base_ + "/sms/3/messages";
    req.headers = {
        {"Authorization", "App " + api_key_},
        {"Content-Type", "application/json"},
        {"Accept", "application/json"},
    };
    req.body = json{{"messages", json::array({msg})}}.dump(-1, ' ', false, json::error_handler_t::replace);
    return req;
}

send_result infobip_handler::parse_send_response(const outgoing_message&,
                                                 const http_response& response) const {
    const int status = response.status;
    if (status == 401 || status == 403) {
        return {send_error::config, "", "authentication refused (HTTP " + std::to_string(status) + ")"};
    }
    if (status == 429) {
        return {send_error::throttled, "", "HTTP 429", retry_after_header(response.headers)};
    }
    if (status >= 500) {
        return {send_error::server_error, "", "HTTP " + std::to_string(status)};
    }
    if (status >= 400) {
        return {send_error::invalid_message, "", "HTTP " + std::to_string(status)};
    }
    if (status < 200 || status >= 300) {
        return {send_error::bad_response, "", "HTTP " + std::to_string(status)};
    }
    const json doc = json::parse(response.body, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        return {send_error::bad_response, "", "unreadable answer"};
    }
    const auto messages = doc.find("messages");
    if (messages == doc.end() || !messages->is_array() || messages->empty() ||
        !messages->front().is_object()) {
        return {send_error::bad_response, "", "no message in the answer"};
    }
    const json& first = messages->front();
    const auto st = first.find("status");
    if (st == first.end() || !st->is_object()) {
        return {send_error::bad_response, "", "no status in the answer"};
    }
    const auto group = integer_field(*st, "groupId");
    const std::string* name = string_field(*st, "name");
    if (group == 5) {
        return classify_rejection(name != nullptr ? *name : std::string{});
    }
    if (group == 2 || group == 4) {
        return {send_error::invalid_message, "", "undeliverable"};
    }
    if (group != 1 && group != 3) {
        return {send_error::bad_response, "", "unknown status group"};
    }
    const std::string* id = string_field(first, "messageId");
    if (id == nullptr || !is_provider_id(*id)) {
        return {send_error::bad_response, "", "accepted without a message id"};
    }
    return {send_error::none, *id, ""};
}

}  // namespace flowgate::handlers
