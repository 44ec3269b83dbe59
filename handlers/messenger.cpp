#include "handlers/messenger.hpp"

#include <nlohmann/json.hpp>

#include "handlers/meta.hpp"
#include "handlers/urn.hpp"

namespace flowgate::handlers {

namespace {

using json = nlohmann::json;

constexpr const char* default_api_base = "https://graph.facebook.com/v21.0";

// Graph codes with a meaning of their own on the Send API (providers.md §8).
constexpr long long code_permission = 10;
constexpr long long subcode_outside_window = 2018278;
constexpr long long code_unavailable = 551;

std::unique_ptr<handler> make_messenger(const channel_settings& settings) {
    return std::make_unique<messenger_handler>(settings);
}

// A page-scoped id: digits.
bool is_psid(std::string_view id) {
    if (id.empty() || id.size() > 64) {
        return false;
    }
    for (char c : id) {
        if (c < '0' || c > '9') {
            return false;
        }
    }
    return true;
}

bool is_true(const json* v) { return v != nullptr && v->is_boolean() && v->get<bool>(); }

}  // namespace

handler_type messenger_handler::describe() {
    return {"messenger",
            {
                {"page_id", setting_spec::kind::string, true},
                {"page_access_token", setting_spec::kind::secret, true},
                {"app_secret", setting_spec::kind::secret, true, {}, true},
                {"verify_token", setting_spec::kind::secret, true, {}, true},
                {"api_base", setting_spec::kind::url, false},
            },
            &make_messenger,
            2000};
}

messenger_handler::messenger_handler(const channel_settings& settings)
    : page_id_(settings.get("page_id")),
      page_access_token_(settings.get("page_access_token")),
      app_secret_(settings.get("app_secret")),
      verify_token_(settings.get("verify_token")),
      api_base_(settings.url("api_base", default_api_base)) {}

// One callback URL per app carries messages and deliveries; only /receive answers the handshake.
bool messenger_handler::allows(endpoint e, std::string_view method) const {
    return method == "POST" || (e == endpoint::receive && method == "GET");
}

receive_result messenger_handler::receive(endpoint, const raw_request& request) const {
    auto opened = meta::open_webhook(request, app_secret_, verify_token_, "page");
    if (auto* done = std::get_if<receive_result>(&opened)) {
        return std::move(*done);
    }
    const json& doc = std::get<json>(opened);
    std::vector<event> events;
    for (const json& entry : *meta::array_member(doc, "entry")) {
        // One app may serve several pages: keep this channel's.
        const std::string page = meta::string_member(entry, "id");
        const json* messaging = meta::array_member(entry, "messaging");
        if ((!page.empty() && page != page_id_) || messaging == nullptr) {
            continue;
        }
        for (const json& item : *messaging) {
            const json* sender = meta::member(item, "sender");
            const std::string psid = sender == nullptr ? std::string{} : meta::string_member(*sender, "id");
            const json* message = meta::member(item, "message");
            const json* delivery = meta::member(item, "delivery");
            const json* postback = meta::member(item, "postback");
            if (message != nullptr && message->is_object()) {
                // Echoes are our own messages coming back.
                if (is_true(meta::member(*message, "is_echo"))) {
                    continue;
                }
                const std::string mid = meta::string_member(*message, "mid");
                if (!is_provider_id(mid)) {
                    return receive_result::reject(400, "missing or invalid message id");
                }
                if (!is_psid(psid)) {
                    return receive_result::reject(400, "invalid sender");
                }
                // Attachments without text still come in (empty text): the contact did write.
                events.emplace_back(
                    incoming_message{mid, "facebook:" + psid, meta::string_member(*message, "text"), ""});
            } else if (delivery != nullptr && delivery->is_object()) {
                if (const json* mids = meta::array_member(*delivery, "mids")) {
                    for (const json& mid : *mids) {
                        if (mid.is_string() && !mid.get_ref<const std::string&>().empty() &&
                            mid.get_ref<const std::string&>().size() <= max_provider_id_length) {
                            events.emplace_back(
                                status_update{mid.get<std::string>(), msg_state::delivered, ""});
                        }
                    }
                }
            } else if (postback != nullptr && postback->is_object()) {
                // The "Get Started" button (payload get_started, as RapidPro's courier expects) opens
                // a conversation; other postbacks carry no text for a flow.
                if (meta::string_member(*postback, "payload") == "get_started") {
                    if (!is_psid(psid)) {
                        return receive_result::reject(400, "invalid sender");
                    }
                    events.emplace_back(
                        channel_event{channel_event::kind::new_conversation, "facebook:" + psid});
                }
            }
            // Reads, optins, referrals and reactions are not used.
        }
    }
    if (events.empty()) {
        return receive_result::ignore("no messages or deliveries");
    }
    return receive_result::accept(std::move(events));
}

http_reply messenger_handler::reply(endpoint, const receive_result& result) const {
    return meta::reply(result);
}

send_request messenger_handler::build_send(const outgoing_message& message) const {
    const json body = {
        {"recipient", {{"id", std::string(urn_path(message.urn))}}},
        {"messaging_type", "RESPONSE"},
        {"message", {{"text", message.text}}},
    };
    send_request req;
    req.method = "POST";
    req.url = api_base_ + "/" + page_id_ + "/messages";
    // The Graph API takes the token as a bearer header too, which keeps it out of the URL (and out of
    // any proxy or access log that records URLs).
    req.headers.push_back({"Authorization", "Bearer " + page_access_token_});
    req.headers.push_back({"Content-Type", "application/json"});
    // Text that is not UTF-8 goes with U+FFFD rather than throwing out of the sender.
    req.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    return req;
}

send_result messenger_handler::parse_send_response(const outgoing_message&,
                                                   const http_response& response) const {
    if (response.status >= 200 && response.status < 300) {
        const json doc = json::parse(response.body, nullptr, false);
        const std::string id = doc.is_discarded() ? std::string{} : meta::string_member(doc, "message_id");
        if (!is_provider_id(id)) {
            return {send_error::bad_response, "", "no message id in the answer"};
        }
        return {send_error::none, id, ""};
    }
    const auto error = meta::parse_graph_error(response.body);
    if (error && error->code == code_permission && error->subcode == subcode_outside_window) {
        return {send_error::invalid_message, "", "outside the 24-hour messaging window"};
    }
    if (error && error->code == code_unavailable) {
        return {send_error::invalid_message, "", "person not available (551)"};
    }
    return meta::classify_failure(response, error);
}

}  // namespace flowgate::handlers
