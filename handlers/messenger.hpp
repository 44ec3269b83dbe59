#pragma once
// Facebook Messenger (providers.md §8): Meta's webhook with entry[].messaging[], page-scoped ids
// (PSIDs, no phone numbers) and the Graph send API.

#include "handlers/handler.hpp"

namespace flowgate::handlers {

class messenger_handler final : public handler {
   public:
    explicit messenger_handler(const channel_settings& settings);

    static handler_type describe();

    bool allows(endpoint e, std::string_view method) const override;
    receive_result receive(endpoint e, const raw_request& request) const override;
    http_reply reply(endpoint e, const receive_result& result) const override;
    send_request build_send(const outgoing_message& message) const override;
    send_result parse_send_response(const outgoing_message& message,
                                    const http_response& response) const override;

   private:
    std::string page_id_;
    std::string page_access_token_;
    std::string app_secret_;
    std::string verify_token_;
    std::string api_base_;
};

}  // namespace flowgate::handlers
