#include "handlers/whatsapp.hpp"

#include <nlohmann/json.hpp>

#include "handlers/meta.hpp"
#include "handlers/urn.hpp"

namespace flowgate::handlers {

namespace {

using json = nlohmann::json;

constexpr const char* default_api_base = "https://graph.facebook.com/v21.0";

// Meta error codes with a meaning of their own (providers.md §7.4).
constexpr long long code_outside_window = 131047;
constexpr long long code_opted_out = 131050;
constexpr long long code_spam_rate = 131048;
constexpr long long code_pair_rate = 131056;
constexpr long long code_throughput = 130429;
constexpr long long code_template_params = 132000;
constexpr long long code_template_missing = 132001;

std::unique_ptr<handler> make_whatsapp(const channel_settings& settings) {
    return std::make_unique<whatsapp_handler>(settings);
}

// A WhatsApp id as Meta writes it: the number's digits, no '+'.
bool is_wa_id(std::string_view id) {
    if (id.empty() || id.size() > 20) {
        return false;
    }
    for (char c : id) {
        if (c < '0' || c > '9') {
            return false;
        }
    }
    return true;
}

// The text a participant's message carries, by type; nullopt for types that carry nothing for a
// flow to read (reactions, system notices, unsupported). Media and locations arrive with their
// caption, often empty: the contact did write, and the flow can ask again.
std::optional<std::string> message_text(const json& message) {
    const std::string type = meta::string_member(message, "type");
    const json* content = meta::member(message, type);
    if (type == "text") {
        return content == nullptr ? std::string{} : meta::string_member(*content, "body");
    }
    if (type == "button") {
        return content == nullptr ? std::string{} : meta::string_member(*content, "text");
    }
    if (type == "interactive") {
        for (const char* kind : {"button_reply", "list_reply"}) {
            if (const json* reply = content == nullptr ? nullptr : meta::member(*content, kind)) {
                return meta::string_member(*reply, "title");
            }
        }
        return std::string{};
    }
    if (type == "image" || type == "video" || type == "document" || type == "audio" || type == "sticker" ||
        type == "location") {
        return content == nullptr ? std::string{} : meta::string_member(*content, "caption");
    }
    return std::nullopt;
}

std::optional<msg_state> status_of(std::string_view status) {
    if (status == "sent") {
        return msg_state::sent;
    }
    // "read" implies delivered, and Meta may skip "delivered" when both happen together.
    if (status == "delivered" || status == "read") {
        return msg_state::delivered;
    }
    if (status == "failed") {
        return msg_state::failed;
    }
    return std::nullopt;
}

// The first error code of a status, as text ("" when none).
std::string first_error_code(const json& status) {
    const json* errors = meta::array_member(status, "errors");
    if (errors == nullptr || errors->empty()) {
        return {};
    }
    const json* code = meta::member(errors->front(), "code");
    return code != nullptr && code->is_number_integer() ? std::to_string(code->get<long long>())
                                                        : std::string{};
}

// Template parameters may hold no newline or tab and at most four spaces in a row (Meta refuses the
// message otherwise), so each run of whitespace that breaks those rules becomes one space.
std::string template_parameter(std::string_view text) {
    std::string out;
    std::size_t i = 0;
    while (i < text.size()) {
        const char c = text[i];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
            out += c;
            ++i;
            continue;
        }
        std::size_t j = i;
        bool only_spaces = true;
        while (j < text.size() && (text[j] == ' ' || text[j] == '\n' || text[j] == '\r' || text[j] == '\t')) {
            only_spaces = only_spaces && text[j] == ' ';
            ++j;
        }
        if (only_spaces && j - i <= 4) {
            out.append(text.substr(i, j - i));
        } else {
            out += ' ';
        }
        i = j;
    }
    return out;
}

}  // namespace

handler_type whatsapp_handler::describe() {
    return {"whatsapp",
            {
                {"phone_number_id", setting_spec::kind::string, true},
                {"access_token", setting_spec::kind::secret, true},
                {"app_secret", setting_spec::kind::secret, true, {}, true},
                {"verify_token", setting_spec::kind::secret, true, {}, true},
                {"api_base", setting_spec::kind::url, false},
                {"template_name", setting_spec::kind::string, false},
                {"template_language", setting_spec::kind::string, false},
            },
            &make_whatsapp,
            4096};
}

whatsapp_handler::whatsapp_handler(const channel_settings& settings)
    : phone_number_id_(settings.get("phone_number_id")),
      access_token_(settings.get("access_token")),
      app_secret_(settings.get("app_secret")),
      verify_token_(settings.get("verify_token")),
      api_base_(settings.url("api_base", default_api_base)),
      template_name_(settings.get("template_name")),
      template_language_(settings.get("template_language").empty() ? "en"
                                                                   : settings.get("template_language")) {}

// Meta has one callback URL per app, carrying messages and statuses alike; /status takes the same
// POSTs for setups that point it there. Only /receive answers the GET handshake.
bool whatsapp_handler::allows(endpoint e, std::string_view method) const {
    return method == "POST" || (e == endpoint::receive && method == "GET");
}

receive_result whatsapp_handler::receive(endpoint, const raw_request& request) const {
    auto opened = meta::open_webhook(request, app_secret_, verify_token_, "whatsapp_business_account");
    if (auto* done = std::get_if<receive_result>(&opened)) {
        return std::move(*done);
    }
    const json& doc = std::get<json>(opened);
    std::vector<event> events;
    for (const json& entry : *meta::array_member(doc, "entry")) {
        const json* changes = meta::array_member(entry, "changes");
        if (changes == nullptr) {
            continue;
        }
        for (const json& change : *changes) {
            const json* value = meta::member(change, "value");
            if (meta::string_member(change, "field") != "messages" || value == nullptr ||
                !value->is_object()) {
                continue;
            }
            // One app's callback gets the events of every number of its business accounts.
            if (const json* metadata = meta::member(*value, "metadata")) {
                const std::string number = meta::string_member(*metadata, "phone_number_id");
                if (!number.empty() && number != phone_number_id_) {
                    continue;
                }
            }
            const json* contacts = meta::array_member(*value, "contacts");
            auto name_of = [&](const std::string& wa_id) {
                if (contacts == nullptr) {
                    return std::string{};
                }
                for (const json& c : *contacts) {
                    if (meta::string_member(c, "wa_id") == wa_id || contacts->size() == 1) {
                        const json* profile = meta::member(c, "profile");
                        return profile == nullptr ? std::string{} : meta::string_member(*profile, "name");
                    }
                }
                return std::string{};
            };
            if (const json* messages = meta::array_member(*value, "messages")) {
                for (const json& m : *messages) {
                    const std::string id = meta::string_member(m, "id");
                    if (!is_provider_id(id)) {
                        return receive_result::reject(400, "missing or invalid message id");
                    }
                    const std::string from = meta::string_member(m, "from");
                    if (!is_wa_id(from)) {
                        return receive_result::reject(400, "invalid sender");
                    }
                    auto text = message_text(m);
                    if (!text) {
                        continue;
                    }
                    events.emplace_back(
                        incoming_message{id, "whatsapp:" + from, std::move(*text), name_of(from)});
                }
            }
            if (const json* statuses = meta::array_member(*value, "statuses")) {
                for (const json& s : *statuses) {
                    const std::string id = meta::string_member(s, "id");
                    if (!is_provider_id(id)) {
                        return receive_result::reject(400, "missing or invalid status id");
                    }
                    const auto state = status_of(meta::string_member(s, "status"));
                    if (!state) {
                        continue;
                    }
                    const std::string code =
                        *state == msg_state::failed ? first_error_code(s) : std::string{};
                    events.emplace_back(status_update{id, *state, code});
                    const std::string recipient = meta::string_member(s, "recipient_id");
                    if (code == std::to_string(code_opted_out) && is_wa_id(recipient)) {
                        events.emplace_back(
                            channel_event{channel_event::kind::stop_contact, "whatsapp:" + recipient});
                    }
                }
            }
        }
    }
    if (events.empty()) {
        return receive_result::ignore("no messages or statuses");
    }
    return receive_result::accept(std::move(events));
}

http_reply whatsapp_handler::reply(endpoint, const receive_result& result) const {
    return meta::reply(result);
}

bool whatsapp_handler::in_service_window(const outgoing_message& message) {
    return message.last_inbound_at && message.now - *message.last_inbound_at < service_window;
}

send_request whatsapp_handler::build_send(const outgoing_message& message) const {
    std::string to(urn_path(message.urn));
    if (!to.empty() && to.front() == '+') {
        to.erase(0, 1);
    }
    json body = {{"messaging_product", "whatsapp"}, {"to", to}};
    // Outside the window only a template reaches the contact. Without a configured template the text
    // goes as it is and Meta decides: it refuses with 131047 (here or in a failed status) if the
    // window is indeed closed, and delivers it if the contact wrote through a way we did not see.
    if (in_service_window(message) || template_name_.empty()) {
        body["type"] = "text";
        body["text"] = {{"body", message.text}};
    } else {
        body["type"] = "template";
        body["template"] = {
            {"name", template_name_},
            {"language", {{"code", template_language_}}},
            {"components",
             json::array(
                 {{{"type", "body"},
                   {"parameters",
                    json::array({{{"type", "text"}, {"text", template_parameter(message.text)}}})}}})},
        };
    }
    send_request req;
    req.method = "POST";
    req.url = api_base_ + "/" + phone_number_id_ + "/messages";
    req.headers.push_back({"Authorization", "Bearer " + access_token_});
    req.headers.push_back({"Content-Type", "application/json"});
    // Text that is not UTF-8 goes with U+FFFD rather than throwing out of the sender.
    req.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    return req;
}

send_result whatsapp_handler::parse_send_response(const outgoing_message&,
                                                  const http_response& response) const {
    if (response.status >= 200 && response.status < 300) {
        const json doc = json::parse(response.body, nullptr, false);
        const json* messages = doc.is_discarded() ? nullptr : meta::array_member(doc, "messages");
        const std::string id = messages == nullptr || messages->empty()
                                   ? std::string{}
                                   : meta::string_member(messages->front(), "id");
        if (!is_provider_id(id)) {
            return {send_error::bad_response, "", "no message id in the answer"};
        }
        return {send_error::none, id, ""};
    }
    const auto error = meta::parse_graph_error(response.body);
    const long long code = error ? error->code : 0;
    if (code == code_opted_out) {
        return {send_error::contact_stopped, "", "contact stopped marketing messages (131050)"};
    }
    if (code == code_outside_window) {
        return {send_error::invalid_message, "", "outside the 24-hour window: template required (131047)"};
    }
    if (code == code_throughput || code == code_spam_rate || code == code_pair_rate) {
        send_result r{send_error::throttled, "", "rate limited by Meta (" + std::to_string(code) + ")"};
        r.retry_after = retry_after_header(response.headers);
        return r;
    }
    if (code == code_template_params || code == code_template_missing) {
        return {send_error::config, "", "template refused (" + std::to_string(code) + ")"};
    }
    return meta::classify_failure(response, error);
}

}  // namespace flowgate::handlers
