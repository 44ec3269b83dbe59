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
    // One sendMessage with the whole text: longer texts are queued as several messages
    // (handler_type::max_text_length).
    send_request build_send(const outgoing_message& message) const override;
    send_result parse_send_response(const outgoing_message& message,
                                    const http_response& response) const override;

   private:
    std::string bot_token_;
    std::string secret_token_;
    std::string api_base_;
};

}  // namespace flowgate::handlers
