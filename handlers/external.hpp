#pragma once
// The generic `external` channel (DESIGN.md §4): any system that speaks our small JSON webhook.

#include "handlers/handler.hpp"

namespace flowgate::handlers {

class external_handler final : public handler {
   public:
    explicit external_handler(const channel_settings& settings);

    static handler_type describe();

    bool allows(endpoint e, std::string_view method) const override;
    receive_result receive(endpoint e, const raw_request& request) const override;
    http_reply reply(endpoint e, const receive_result& result) const override;
    send_request build_send(const outgoing_message& message) const override;
    send_result parse_send_response(const outgoing_message& message,
                                    const http_response& response) const override;

    // "sha256=<hex HMAC-SHA256(secret, body)>"
    static std::string signature(std::string_view secret, std::string_view body);

   private:
    std::string channel_id_;
    std::string send_url_;
    std::string secret_;
    std::string default_country_;
};

}  // namespace flowgate::handlers
