#pragma once
// Twilio Programmable Messaging: SMS and WhatsApp via Twilio (providers.md §1). Inbound messages and
// status callbacks signed with X-Twilio-Signature; replies are TwiML; sends go to the REST API.

#include "handlers/form.hpp"
#include "handlers/handler.hpp"

namespace flowgate::handlers {

class twilio_handler final : public handler {
   public:
    explicit twilio_handler(const channel_settings& settings);

    static handler_type describe();

    bool allows(endpoint e, std::string_view method) const override;
    receive_result receive(endpoint e, const raw_request& request) const override;
    http_reply reply(endpoint e, const receive_result& result) const override;
    send_request build_send(const outgoing_message& message) const override;
    send_result parse_send_response(const outgoing_message& message,
                                    const http_response& response) const override;

    // base64(HMAC-SHA1(auth_token, url + name1 + value1 + ...)), the parameters sorted by name then
    // value, repeated (name, value) pairs counted once, as Twilio's SDKs compute it.
    static std::string signature(std::string_view auth_token,
                                 std::string_view url,
                                 const form_fields& params);

    // Whether X-Twilio-Signature matches the request as Twilio sent it to `request.public_url`: form
    // parameters appended (POST), or the URL alone with its bodySHA256 matching the raw body (JSON);
    // the URL tried with and without its port, as Twilio's SDKs do.
    static bool valid_signature(std::string_view auth_token, const raw_request& request);

    static constexpr const char* empty_twiml = R"(<?xml version="1.0" encoding="UTF-8"?><Response />)";

   private:
    std::string channel_id_;
    std::string address_;  // "+962790000000", "whatsapp:+14155238886" or a Messaging Service "MG…"
    std::string account_sid_;
    std::string auth_token_;
    std::string api_base_;
    std::string public_url_;  // from the gateway, for StatusCallback; empty: none is asked for
    std::string default_country_;
};

}  // namespace flowgate::handlers
