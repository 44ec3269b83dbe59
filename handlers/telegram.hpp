#pragma once
// Telegram Bot API (providers.md §6): Update JSON on the webhook, authenticated by the secret token
// Telegram repeats in X-Telegram-Bot-Api-Secret-Token; replies through sendMessage.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "handlers/handler.hpp"

namespace flowgate::handlers {

class telegram_handler final : public handler {
   public:
    explicit telegram_handler(const channel_settings& settings);

    static handler_type describe();

    // sendMessage takes 1 to 4096 characters; longer texts go as several messages (split_text).
    static constexpr std::size_t max_text_chars = 4096;

    bool allows(endpoint e, std::string_view method) const override;
    receive_result receive(endpoint e, const raw_request& request) const override;
    http_reply reply(endpoint e, const receive_result& result) const override;
    // One sendMessage with the whole text: the sender splits a longer text first (split_text).
    send_request build_send(const outgoing_message& message) const override;
    send_result parse_send_response(const outgoing_message& message,
                                    const http_response& response) const override;

   private:
    std::string bot_token_;
    std::string secret_token_;
    std::string api_base_;
};

// Splits UTF-8 `text` into parts of at most `max_chars` characters as Telegram counts them (UTF-16
// code units: a character beyond U+FFFF, such as most emoji, counts two), never inside a UTF-8
// sequence. A part ends after the last space or line break that fits when there is one, otherwise at
// the last whole character that fits. The parts joined give `text` back; empty text gives no parts.
// Bytes that are not valid UTF-8 count one each and are kept as they are.
std::vector<std::string> split_text(std::string_view text, std::size_t max_chars);

}  // namespace flowgate::handlers
