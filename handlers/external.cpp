#include "handlers/external.hpp"

#include <nlohmann/json.hpp>

#include "handlers/crypto.hpp"
#include "handlers/form.hpp"
#include "handlers/urn.hpp"

namespace flowgate::handlers {

namespace {

using json = nlohmann::json;

std::unique_ptr<handler> make_external(const channel_settings& settings) {
    return std::make_unique<external_handler>(settings);
}

// The request's fields, whether it came as JSON or as a form.
struct fields {
    std::map<std::string, std::string> values;
    const std::string* find(const std::string& key) const {
        const auto it = values.find(key);
        return it == values.end() ? nullptr : &it->second;
    }
};

// Reads a flat JSON object or a form into string fields; nullopt when malformed. Non-string JSON
// values are rejected for the keys we read, so `"id": 5` is not silently "5".
std::optional<fields> read_fields(const raw_request& request, std::string& reason) {
    const std::string type = request.content_type();
    fields out;
    if (type == "application/json") {
        json doc = json::parse(request.body, nullptr, false);
        if (doc.is_discarded() || !doc.is_object()) {
            reason = "malformed JSON body";
            return std::nullopt;
        }
        for (const auto& [key, value] : doc.items()) {
            if (value.is_string()) {
                out.values.emplace(key, value.get<std::string>());
            } else if (key == "id" || key == "from" || key == "text" || key == "status" || key == "name") {
                reason = "field " + key + " must be a string";
                return std::nullopt;
            }
        }
        return out;
    }
    if (type == "application/x-www-form-urlencoded") {
        auto form = decode_form(request.body);
        if (!form) {
            reason = "malformed form body";
            return std::nullopt;
        }
        for (auto& [key, value] : *form) {
            out.values.emplace(std::move(key), std::move(value));
        }
        return out;
    }
    reason = "unsupported content type";
    return std::nullopt;
}

}  // namespace

handler_type external_handler::describe() {
    return {"external",
            {
                {"send_url", setting_spec::kind::url, true},
                {"secret", setting_spec::kind::secret, false, {}, true},
            },
            &make_external};
}

external_handler::external_handler(const channel_settings& settings)
    : channel_id_(settings.id),
      send_url_(settings.get("send_url")),
      secret_(settings.get("secret")),
      default_country_(settings.default_country) {}

std::string external_handler::signature(std::string_view secret, std::string_view body) {
    return "sha256=" + to_hex(hmac(digest::sha256, secret, body));
}

bool external_handler::allows(endpoint, std::string_view method) const { return method == "POST"; }

receive_result external_handler::receive(endpoint e, const raw_request& request) const {
    const std::string type = request.content_type();
    if (type != "application/json" && type != "application/x-www-form-urlencoded") {
        return receive_result::reject(415, "unsupported content type");
    }
    if (!secret_.empty()) {
        const std::string given = ascii_lower(request.header("x-flowgate-signature"));
        if (!equal_constant_time(given, signature(secret_, request.body))) {
            return receive_result::reject(403, "invalid signature");
        }
    }
    std::string reason;
    const auto f = read_fields(request, reason);
    if (!f) {
        return receive_result::reject(400, reason);
    }
    const std::string* id = f->find("id");
    if (id == nullptr || id->empty()) {
        return receive_result::reject(400, "missing id");
    }
    if (id->size() > max_provider_id_length || !is_valid_utf8(*id)) {
        return receive_result::reject(400, "invalid id");
    }

    if (e == endpoint::status) {
        const std::string* status = f->find("status");
        if (status == nullptr) {
            return receive_result::reject(400, "missing status");
        }
        msg_state state;
        if (*status == "sent") {
            state = msg_state::sent;
        } else if (*status == "delivered") {
            state = msg_state::delivered;
        } else if (*status == "failed") {
            state = msg_state::failed;
        } else {
            return receive_result::reject(400, "unknown status");
        }
        return receive_result::accept({status_update{*id, state, {}}});
    }

    const std::string* from = f->find("from");
    if (from == nullptr || from->empty()) {
        return receive_result::reject(400, "missing from");
    }
    auto urn = parse_urn(*from, default_country_);
    if (!urn) {
        return receive_result::reject(400, "invalid from");
    }
    const std::string* text = f->find("text");
    if (text == nullptr) {
        return receive_result::reject(400, "missing text");
    }
    if (!is_valid_utf8(*text)) {
        return receive_result::reject(400, "text is not UTF-8");
    }
    const std::string* name = f->find("name");
    return receive_result::accept({incoming_message{
        *id, std::move(*urn), *text, name != nullptr && is_valid_utf8(*name) ? *name : ""}});
}

http_reply external_handler::reply(endpoint, const receive_result& result) const {
    json body;
    switch (result.result) {
        case receive_result::outcome::accepted:
            body = {{"status", "accepted"}};
            break;
        case receive_result::outcome::ignored:
            body = {{"status", "ignored"}, {"reason", result.reason}};
            break;
        case receive_result::outcome::rejected:
            body = {{"status", "rejected"}, {"error", result.reason}};
            break;
    }
    return {result.http_status, "application/json", body.dump()};
}

send_request external_handler::build_send(const outgoing_message& message) const {
    send_request req;
    req.method = "POST";
    req.url = send_url_;
    req.body = json{{"id", message.id},
                    {"to", std::string(urn_path(message.urn))},
                    {"urn", message.urn},
                    {"text", message.text},
                    {"channel", channel_id_}}
                   .dump(-1, ' ', false, json::error_handler_t::replace);
    req.headers.push_back({"Content-Type", "application/json"});
    if (!secret_.empty()) {
        req.headers.push_back({"X-Flowgate-Signature", signature(secret_, req.body)});
    }
    return req;
}

send_result external_handler::parse_send_response(const outgoing_message&,
                                                  const http_response& response) const {
    if (response.status == 429) {
        send_result r{send_error::throttled, "", "HTTP 429"};
        r.retry_after = retry_after_header(response.headers);
        return r;
    }
    if (response.status == 410) {
        return {send_error::contact_stopped, "", "HTTP 410"};  // the recipient opted out
    }
    if (response.status >= 500) {
        return {send_error::server_error, "", "HTTP " + std::to_string(response.status)};
    }
    if (response.status < 200 || response.status >= 300) {
        return {send_error::bad_response, "", "HTTP " + std::to_string(response.status)};
    }
    send_result ok;
    const json doc = json::parse(response.body, nullptr, false);
    if (!doc.is_discarded() && doc.is_object()) {
        const auto it = doc.find("id");
        if (it != doc.end() && it->is_string() &&
            it->get_ref<const std::string&>().size() <= max_provider_id_length) {
            ok.provider_id = it->get<std::string>();
        }
    }
    return ok;
}

}  // namespace flowgate::handlers
