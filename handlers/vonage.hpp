#pragma once
// Vonage (Nexmo) legacy SMS API (providers.md §2): inbound SMS and delivery receipts as GET query,
// POST form or POST JSON, optionally signed with `sig`; sends through /sms/json.

#include <map>

#include "handlers/handler.hpp"

namespace flowgate::handlers {

class vonage_handler final : public handler {
   public:
    explicit vonage_handler(const channel_settings& settings);

    static handler_type describe();

    bool allows(endpoint e, std::string_view method) const override;
    receive_result receive(endpoint e, const raw_request& request) const override;
    http_reply reply(endpoint e, const receive_result& result) const override;
    send_request build_send(const outgoing_message& message) const override;
    send_result parse_send_response(const outgoing_message& message,
                                    const http_response& response) const override;

    // The signing methods Vonage offers: "md5hash" (md5 of the string followed by the secret, the
    // legacy default) and HMAC with "md5", "sha1", "sha256" or "sha512".
    enum class sig_method { md5hash, md5, sha1, sha256, sha512 };
    static std::optional<sig_method> parse_sig_method(std::string_view name);

    // Lower-case hex `sig` over every parameter but `sig`: sorted by name, `&name=value` each, with
    // '&' and '=' in values replaced by '_'. `skip_empty` leaves out blank values (vonage-java-sdk).
    static std::string signature(sig_method method,
                                 std::string_view secret,
                                 const std::map<std::string, std::string>& params,
                                 bool skip_empty = false);

   private:
    std::string channel_id_;
    std::string address_;
    std::string api_key_;
    std::string api_secret_;
    std::string signature_secret_;
    std::optional<sig_method> method_;  // nullopt: an unknown method was configured (fail closed)
    std::string api_base_;
    std::string public_url_;  // from the gateway, for the per-message DLR callback; empty: none
    std::string default_country_;
};

}  // namespace flowgate::handlers
