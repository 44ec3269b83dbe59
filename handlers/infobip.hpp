#pragma once
// Infobip SMS (reference/providers.md §5): inbound JSON (`MO_JSON_2`, `results[]`), delivery reports
// (`results[]`), sends through /sms/3/messages with `Authorization: App <key>`. Infobip signs nothing
// by default, so every webhook URL carries the channel's `url_secret` as `?secret=`.

#include "handlers/handler.hpp"

namespace flowgate::handlers {

class infobip_handler final : public handler {
   public:
    explicit infobip_handler(const channel_settings& settings);

    static handler_type describe();
    // Infobip's shared base URL; each account also has its own (https://xxxxx.api.infobip.com).
    static constexpr const char* default_api_base = "https://api.infobip.com";

    bool allows(endpoint e, std::string_view method) const override;
    receive_result receive(endpoint e, const raw_request& request) const override;
    http_reply reply(endpoint e, const receive_result& result) const override;
    send_request build_send(const outgoing_message& message) const override;
    send_result parse_send_response(const outgoing_message& message,
                                    const http_response& response) const override;

   private:
    std::string address_;
    std::string api_key_;
    std::string api_base_;
    std::string url_secret_;
    std::string default_country_;
};

}  // namespace flowgate::handlers
