#pragma once
// Africa's Talking SMS (reference/providers.md §3): form-encoded incoming messages, delivery reports
// and bulk opt-out notifications; sends through /version1/messaging with the `apiKey` header. Africa's
// Talking signs nothing, so every webhook URL carries the channel's `url_secret` as `?secret=`.

#include "handlers/handler.hpp"

namespace flowgate::handlers {

class africastalking_handler final : public handler {
   public:
    explicit africastalking_handler(const channel_settings& settings);

    static handler_type describe();
    static constexpr const char* default_api_base = "https://api.africastalking.com";

    bool allows(endpoint e, std::string_view method) const override;
    receive_result receive(endpoint e, const raw_request& request) const override;
    http_reply reply(endpoint e, const receive_result& result) const override;
    send_request build_send(const outgoing_message& message) const override;
    send_result parse_send_response(const outgoing_message& message,
                                    const http_response& response) const override;

   private:
    std::string address_;
    std::string username_;
    std::string api_key_;
    std::string url_secret_;
    std::string api_base_;
    std::string default_country_;
};

}  // namespace flowgate::handlers
