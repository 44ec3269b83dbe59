#pragma once
// Kannel's smsbox (reference/providers.md §4, reference/kannel.md). Inbound through an sms-service
// get-url (DESIGN.md §4: `/c/{id}/receive?from=%p&to=%P&text=%a&id=%I`), replies through the sendsms
// URL, delivery reports through the `dlr-url` we hand it. Kannel signs nothing, so every URL that
// reaches us carries the channel's `url_secret` as `?secret=`.

#include <string>
#include <string_view>

#include "handlers/handler.hpp"

namespace flowgate::handlers {

class kannel_handler final : public handler {
   public:
    explicit kannel_handler(const channel_settings& settings);

    static handler_type describe();

    bool allows(endpoint e, std::string_view method) const override;
    receive_result receive(endpoint e, const raw_request& request) const override;
    http_reply reply(endpoint e, const receive_result& result) const override;
    send_request build_send(const outgoing_message& message) const override;
    send_result parse_send_response(const outgoing_message& message,
                                    const http_response& response) const override;

    // Whether UTF-8 `text` fits GSM 03.38's basic and extension tables (providers.md §9.1, §9.2);
    // otherwise it goes out as UCS-2 (`coding=2`). Invalid UTF-8 is not GSM-7.
    static bool is_gsm7(std::string_view text);

   private:
    std::string address_;
    std::string send_url_;
    std::string username_;
    std::string password_;
    std::string url_secret_;
    std::string dlr_url_;
    std::string default_country_;
};

}  // namespace flowgate::handlers
