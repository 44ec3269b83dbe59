#include "handlers/telegram.hpp"

#include <cstdint>
#include <nlohmann/json.hpp>

#include "handlers/crypto.hpp"
#include "handlers/urn.hpp"

namespace flowgate::handlers {

namespace {

using json = nlohmann::json;

constexpr const char* default_api_base = "https://api.telegram.org";

std::unique_ptr<handler> make_telegram(const channel_settings& settings) {
    return std::make_unique<telegram_handler>(settings);
}

const json* member(const json& doc, std::string_view key) {
    if (!doc.is_object()) {
        return nullptr;
    }
    const auto it = doc.find(key);
    return it == doc.end() ? nullptr : &*it;
}

std::string string_member(const json& doc, std::string_view key) {
    const json* v = member(doc, key);
    return v != nullptr && v->is_string() ? v->get<std::string>() : std::string{};
}

// Chat ids are 64-bit and negative for groups; message ids are positive.
std::optional<std::int64_t> int_member(const json& doc, std::string_view key) {
    const json* v = member(doc, key);
    if (v == nullptr || !v->is_number_integer()) {
        return std::nullopt;
    }
    if (v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
        return std::nullopt;
    }
    return v->get<std::int64_t>();
}

// "First Last", else the username (courier's rule).
std::string name_of(const json& user) {
    std::string name = string_member(user, "first_name");
    const std::string last = string_member(user, "last_name");
    if (!last.empty()) {
        name += name.empty() ? last : " " + last;
    }
    return name.empty() ? string_member(user, "username") : name;
}

// "/start", or "/start <payload>" from a t.me/<bot>?start=<payload> link.
bool is_start_command(std::string_view text) { return text == "/start" || text.rfind("/start ", 0) == 0; }

receive_result from_message(const json& message) {
    const json* chat = member(message, "chat");
    const auto chat_id = chat == nullptr ? std::nullopt : int_member(*chat, "id");
    if (!chat_id) {
        return receive_result::reject(400, "missing chat id");
    }
    const auto message_id = int_member(message, "message_id");
    if (!message_id) {
        return receive_result::reject(400, "missing message_id");
    }
    // Contacts are people: a group's messages would all become one "contact". The official sample
    // update has no chat.type, so its absence means a private chat.
    const std::string type = string_member(*chat, "type");
    if (!type.empty() && type != "private") {
        return receive_result::ignore("not a private chat");
    }
    const std::string urn = "telegram:" + std::to_string(*chat_id);
    std::string text = string_member(message, "text");
    if (is_start_command(text)) {
        return receive_result::accept({channel_event{channel_event::kind::new_conversation, urn}});
    }
    if (text.empty()) {
        // A photo, voice note or sticker: its caption, often empty; the contact did write.
        text = string_member(message, "caption");
    }
    const json* from = member(message, "from");
    std::string name = from != nullptr ? name_of(*from) : std::string{};
    if (name.empty()) {
        name = name_of(*chat);
    }
    // message_id is only unique within its chat; the chat makes it unique for the bot.
    return receive_result::accept(
        {incoming_message{std::to_string(*chat_id) + ":" + std::to_string(*message_id),
                          urn,
                          std::move(text),
                          std::move(name)}});
}

// A user who blocks the bot shows up as a my_chat_member update with the bot "kicked".
receive_result from_member_update(const json& update) {
    const json* chat = member(update, "chat");
    const auto chat_id = chat == nullptr ? std::nullopt : int_member(*chat, "id");
    if (!chat_id) {
        return receive_result::reject(400, "missing chat id");
    }
    const std::string type = string_member(*chat, "type");
    const json* now = member(update, "new_chat_member");
    if ((!type.empty() && type != "private") || now == nullptr || string_member(*now, "status") != "kicked") {
        return receive_result::ignore("membership change");
    }
    return receive_result::accept(
        {channel_event{channel_event::kind::stop_contact, "telegram:" + std::to_string(*chat_id)}});
}

bool contains(std::string_view text, std::string_view part) {
    return text.find(part) != std::string_view::npos;
}

}  // namespace

handler_type telegram_handler::describe() {
    return {"telegram",
            {
                {"bot_token", setting_spec::kind::secret, true},
                {"secret_token", setting_spec::kind::secret, true, {}, true},
                {"api_base", setting_spec::kind::url, false},
            },
            &make_telegram,
            telegram_handler::max_text_chars};
}

telegram_handler::telegram_handler(const channel_settings& settings)
    : bot_token_(settings.get("bot_token")),
      secret_token_(settings.get("secret_token")),
      api_base_(settings.url("api_base", default_api_base)) {}

// Telegram posts updates; it has no delivery reports.
bool telegram_handler::allows(endpoint e, std::string_view method) const {
    return e == endpoint::receive && method == "POST";
}

receive_result telegram_handler::receive(endpoint, const raw_request& request) const {
    // An empty secret would let anyone in: refuse everything until one is configured.
    if (secret_token_.empty() ||
        !equal_constant_time(request.header("x-telegram-bot-api-secret-token"), secret_token_)) {
        return receive_result::reject(403, "invalid secret token");
    }
    const json doc = json::parse(request.body, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        return receive_result::reject(400, "malformed JSON body");
    }
    if (!int_member(doc, "update_id")) {
        return receive_result::reject(400, "missing update_id");
    }
    if (const json* message = member(doc, "message"); message != nullptr && message->is_object()) {
        return from_message(*message);
    }
    if (const json* change = member(doc, "my_chat_member"); change != nullptr && change->is_object()) {
        return from_member_update(*change);
    }
    // Edited messages, channel posts, callback queries, ...
    return receive_result::ignore("update type not handled");
}

// A 2xx body may itself be read as a Bot API call, so it stays empty.
http_reply telegram_handler::reply(endpoint, const receive_result& result) const {
    if (result.result == receive_result::outcome::rejected) {
        return {result.http_status, "application/json", json{{"error", result.reason}}.dump()};
    }
    return {result.http_status, "text/plain", ""};
}

send_request telegram_handler::build_send(const outgoing_message& message) const {
    const std::string chat(urn_path(message.urn));
    json body;
    // Chat ids go as numbers; anything else (an @channel name) as a string.
    std::size_t used = 0;
    long long number = 0;
    try {
        number = std::stoll(chat, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != 0 && used == chat.size()) {
        body["chat_id"] = number;
    } else {
        body["chat_id"] = chat;
    }
    body["text"] = message.text;
    send_request req;
    req.method = "POST";
    req.url = api_base_ + "/bot" + bot_token_ + "/sendMessage";
    req.headers.push_back({"Content-Type", "application/json"});
    // Text that is not UTF-8 goes with U+FFFD rather than throwing out of the sender.
    req.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    return req;
}

send_result telegram_handler::parse_send_response(const outgoing_message& message,
                                                  const http_response& response) const {
    const json doc = json::parse(response.body, nullptr, false);
    const json* ok = member(doc, "ok");
    const bool is_ok = ok != nullptr && ok->is_boolean() && ok->get<bool>();
    if (response.status >= 200 && response.status < 300 && is_ok) {
        const json* result = member(doc, "result");
        const auto id = result == nullptr ? std::nullopt : int_member(*result, "message_id");
        if (!id) {
            return {send_error::bad_response, "", "no message_id in the answer"};
        }
        const json* chat = member(*result, "chat");
        const auto chat_id = chat == nullptr ? std::nullopt : int_member(*chat, "id");
        // The same "<chat>:<message>" form as inbound ids.
        return {send_error::none,
                (chat_id ? std::to_string(*chat_id) : std::string(urn_path(message.urn))) + ":" +
                    std::to_string(*id),
                ""};
    }
    // The Bot API repeats the HTTP status as error_code; a 2xx with ok=false is read by error_code.
    int code = response.status;
    if (code >= 200 && code < 300) {
        const auto error_code = int_member(doc, "error_code");
        if (!error_code) {
            return {send_error::bad_response, "", "answer without ok"};
        }
        code = static_cast<int>(*error_code);
    }
    const std::string description = string_member(doc, "description");
    if (code == 429) {
        send_result r{send_error::throttled, "", "too many requests"};
        const json* parameters = member(doc, "parameters");
        const auto seconds = parameters == nullptr ? std::nullopt : int_member(*parameters, "retry_after");
        r.retry_after = seconds && *seconds >= 0 ? std::optional(std::chrono::seconds{*seconds})
                                                 : retry_after_header(response.headers);
        return r;
    }
    if (code >= 500) {
        return {send_error::server_error, "", "HTTP " + std::to_string(code)};
    }
    if (code == 403) {
        // The user blocked the bot or deleted their account: an opt-out. Other 403s (the user never
        // started the bot) concern this contact, not the channel.
        if (contains(description, "bot was blocked by the user") ||
            contains(description, "user is deactivated")) {
            return {send_error::contact_stopped, "", "blocked by the user"};
        }
        return {send_error::invalid_message, "", "forbidden for this chat"};
    }
    // Telegram answers 401 for a revoked token and 404 for one it does not know.
    if (code == 401 || code == 404) {
        return {send_error::config, "", "bot token refused"};
    }
    if (code >= 400 && code < 500) {
        if (contains(description, "message is too long")) {
            return {send_error::invalid_message, "", "message is too long"};
        }
        return {send_error::invalid_message, "", "refused by Telegram (" + std::to_string(code) + ")"};
    }
    return {send_error::bad_response, "", "HTTP " + std::to_string(code)};
}

}  // namespace flowgate::handlers
