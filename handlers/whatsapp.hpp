#pragma once
// WhatsApp Business Platform, Cloud API (providers.md §7): Meta's webhook for messages and statuses,
// the Graph send API, and the 24-hour customer-service window.

#include <chrono>

#include "handlers/handler.hpp"

namespace flowgate::handlers {

class whatsapp_handler final : public handler {
   public:
    explicit whatsapp_handler(const channel_settings& settings);

    static handler_type describe();

    // Free text is allowed for this long after the contact's last message; a template after it.
    static constexpr std::chrono::hours service_window{24};

    bool allows(endpoint e, std::string_view method) const override;
    receive_result receive(endpoint e, const raw_request& request) const override;
    http_reply reply(endpoint e, const receive_result& result) const override;
    send_request build_send(const outgoing_message& message) const override;
    send_result parse_send_response(const outgoing_message& message,
                                    const http_response& response) const override;

    // Whether `message` may go as free text: the contact wrote to us within the window.
    static bool in_service_window(const outgoing_message& message);

   private:
    std::string phone_number_id_;
    std::string access_token_;
    std::string app_secret_;
    std::string verify_token_;
    std::string api_base_;
    std::string template_name_;
    std::string template_language_;
};

}  // namespace flowgate::handlers
