#include "handlers/africastalking.hpp"

#include <nlohmann/json.hpp>

#include "handlers/crypto.hpp"
#include "handlers/form.hpp"
#include "handlers/urn.hpp"

namespace flowgate::handlers {

namespace {

using json = nlohmann::json;

std::unique_ptr<handler> make_africastalking(const channel_settings& settings) {
    return std::make_unique<africastalking_handler>(settings);
}

// Delivery report `status` values (§3.2). AbsentSubscriber and Expired are final failures.
std::optional<msg_state> map_status(std::string_view status) {
    if (status == "Sent" || status == "Submitted" || status == "Buffered") {
        return msg_state::sent;
    }
    if (status == "Success") {
        return msg_state::delivered;
    }
    if (status == "Rejected" || status == "Failed" || status == "AbsentSubscriber" || status == "Expired") {
        return msg_state::failed;
    }
    return std::nullopt;
}

std::optional<long> as_code(const json& value) {
    if (value.is_number_integer()) {
        return value.get<long>();
    }
    if (value.is_string()) {
        const std::string& s = value.get_ref<const std::string&>();
        if (!s.empty() && s.size() < 6 && s.find_first_not_of("0123456789") == std::string::npos) {
            return std::stol(s);
        }
    }
    return std::nullopt;
}

// A recipient's statusCode (§3.3) → the closed set.
send_result classify_recipient(long code, const json& recipient) {
    switch (code) {
        case 100:  // Processed
        case 101:  // Sent
        case 102:  // Queued
        {
            const auto it = recipient.find("messageId");
            if (it == recipient.end() || !it->is_string() || it->get_ref<const std::string&>() == "None" ||
                !is_provider_id(it->get<std::string>())) {
                return {send_error::bad_response, "", "accepted without a message id"};
            }
            return {send_error::none, it->get<std::string>(), ""};
        }
        case 406:
            return {send_error::contact_stopped, "", "recipient blacklisted (406)"};
        case 402:
            return {send_error::config, "", "invalid sender id (402)"};
        case 405:
            return {send_error::config, "", "insufficient balance (405)"};
        case 500:
            return {send_error::server_error, "", "internal server error (500)"};
        case 501:
            return {send_error::server_error, "", "gateway error (501)"};
        case 401:
            return {send_error::invalid_message, "", "risk hold (401)"};
        case 403:
            return {send_error::invalid_message, "", "invalid phone number (403)"};
        case 404:
            return {send_error::invalid_message, "", "unsupported number type (404)"};
        case 407:
            return {send_error::invalid_message, "", "could not route (407)"};
        case 409:
            return {send_error::invalid_message, "", "do not disturb rejection (409)"};
        case 502:
            return {send_error::invalid_message, "", "rejected by gateway (502)"};
        default:
            return {send_error::invalid_message, "", "recipient status " + std::to_string(code)};
    }
}

}  // namespace

handler_type africastalking_handler::describe() {
    return {"africastalking",
            {
                {"address", setting_spec::kind::string, false},
                {"username", setting_spec::kind::string, true},
                {"api_key", setting_spec::kind::secret, true},
                {"url_secret", setting_spec::kind::secret, true, {}, true},
                {"api_base", setting_spec::kind::url, false},
            },
            &make_africastalking};
}

africastalking_handler::africastalking_handler(const channel_settings& settings)
    : address_(settings.get("address")),
      username_(settings.get("username")),
      api_key_(settings.get("api_key")),
      url_secret_(settings.get("url_secret")),
      api_base_(settings.url("api_base", default_api_base)),
      default_country_(settings.default_country) {}

bool africastalking_handler::allows(endpoint, std::string_view method) const { return method == "POST"; }

receive_result africastalking_handler::receive(endpoint e, const raw_request& request) const {
    if (!has_url_secret(request, url_secret_)) {
        return receive_result::reject(403, "invalid secret");
    }
    if (request.content_type() != "application/x-www-form-urlencoded") {
        return receive_result::reject(415, "unsupported content type");
    }
    const auto form = decode_form(request.body);
    if (!form) {
        return receive_result::reject(400, "malformed form body");
    }
    const std::string* id = find_field(*form, "id");
    const std::string* text = find_field(*form, "text");
    const std::string* status = find_field(*form, "status");
    const std::string* phone = find_field(*form, "phoneNumber");

    // The bulk SMS opt-out notification (senderId, phoneNumber), on whichever URL it was given.
    if (phone != nullptr && find_field(*form, "senderId") != nullptr && text == nullptr &&
        status == nullptr) {
        auto urn = parse_urn(*phone, default_country_);
        if (!urn) {
            return receive_result::reject(400, "invalid phoneNumber");
        }
        return receive_result::accept({channel_event{channel_event::kind::stop_contact, std::move(*urn)}});
    }

    if (id == nullptr) {
        return receive_result::reject(400, "missing id");
    }
    if (!is_provider_id(*id)) {
        return receive_result::reject(400, "invalid id");
    }

    if (e == endpoint::status) {
        if (status == nullptr) {
            return receive_result::reject(400, "missing status");
        }
        const auto state = map_status(*status);
        if (!state) {
            return receive_result::reject(400, "unknown status");
        }
        const std::string* reason = find_field(*form, "failureReason");
        std::string error;
        if (*state == msg_state::failed && reason != nullptr && reason->size() <= 64 &&
            is_valid_utf8(*reason)) {
            error = *reason;
        }
        std::vector<event> events{status_update{*id, *state, error}};
        // The recipient is on Africa's Talking's blacklist: they opted out.
        if (error == "UserInBlackList" && phone != nullptr) {
            if (auto urn = parse_urn(*phone, default_country_)) {
                events.push_back(channel_event{channel_event::kind::stop_contact, std::move(*urn)});
            }
        }
        return receive_result::accept(std::move(events));
    }

    const std::string* from = find_field(*form, "from");
    if (from == nullptr || from->empty()) {
        return receive_result::reject(400, "missing from");
    }
    auto urn = parse_urn(*from, default_country_);
    if (!urn) {
        return receive_result::reject(400, "invalid from");
    }
    if (text == nullptr) {
        return receive_result::reject(400, "missing text");
    }
    if (!is_valid_utf8(*text)) {
        return receive_result::reject(400, "text is not UTF-8");
    }
    return receive_result::accept({incoming_message{*id, std::move(*urn), *text, ""}});
}

http_reply africastalking_handler::reply(endpoint, const receive_result& result) const {
    // Africa's Talking only looks at the status; a rejection says why in a few fixed words.
    return {result.http_status,
            "text/plain",
            result.result == receive_result::outcome::accepted ? std::string{} : result.reason};
}

send_request africastalking_handler::build_send(const outgoing_message& message) const {
    form_fields fields{
        {"username", username_},
        {"to", std::string(urn_path(message.urn))},
        {"message", message.text},
    };
    if (!address_.empty()) {
        fields.emplace_back("from", address_);
    }
    // Queue at Africa's Talking and answer at once (§11: "use enqueue=1").
    fields.emplace_back("enqueue", "1");

    send_request req;
    req.method = "POST";
    req.url = api_base_ + "/version1/messaging";
    req.headers = {
        {"apiKey", api_key_},
        {"Accept", "application/json"},
        {"Content-Type", "application/x-www-form-urlencoded"},
    };
    req.body = encode_form(fields);
    return req;
}

send_result africastalking_handler::parse_send_response(const outgoing_message&,
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
    // A per-recipient statusCode says more than the HTTP status, on 2xx and on 4xx alike (a
    // DoNotDisturbRejection arrives as HTTP 409 with its recipient).
    const json doc = json::parse(response.body, nullptr, false);
    const json* data = nullptr;
    if (!doc.is_discarded() && doc.is_object()) {
        const auto it = doc.find("SMSMessageData");
        if (it != doc.end() && it->is_object()) {
            data = &*it;
        }
    }
    if (data != nullptr) {
        const auto recipients = data->find("Recipients");
        if (recipients != data->end() && recipients->is_array() && !recipients->empty() &&
            recipients->front().is_object()) {
            const json& first = recipients->front();
            const auto code = first.find("statusCode");
            if (code != first.end()) {
                if (const auto c = as_code(*code)) {
                    return classify_recipient(*c, first);
                }
            }
            return {send_error::bad_response, "", "recipient without a status code"};
        }
    }
    if (status >= 200 && status < 300) {
        if (data != nullptr) {
            const auto message = data->find("Message");
            if (message != data->end() && message->is_string() && *message == "InvalidSenderId") {
                return {send_error::config, "", "invalid sender id"};
            }
        }
        return {send_error::bad_response, "", "no recipient in the answer"};
    }
    if (status >= 400) {
        return {send_error::invalid_message, "", "HTTP " + std::to_string(status)};
    }
    return {send_error::bad_response, "", "HTTP " + std::to_string(status)};
}

}  // namespace flowgate::handlers
