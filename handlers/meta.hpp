#pragma once
// What WhatsApp Cloud and Messenger share (providers.md §7, §8): both are Meta Graph API apps, with
// the same GET verification handshake, the same X-Hub-Signature-256 over the raw body, the same JSON
// envelope ({"object": ..., "entry": [...]}) and the same Graph error format on send.

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "handlers/handler.hpp"

namespace flowgate::handlers::meta {

// "sha256=<lower-case hex HMAC-SHA256(app_secret, body)>"
std::string signature(std::string_view app_secret, std::string_view body);

// Whether X-Hub-Signature-256 matches the raw body, compared in constant time. An empty app secret
// never matches: anyone can compute an HMAC under an empty key.
bool signature_valid(const raw_request& request, std::string_view app_secret);

// GET ?hub.mode=subscribe&hub.verify_token=...&hub.challenge=...: the challenge answered verbatim as
// text/plain (in receive_result::respond) when the token matches, else 403.
receive_result handshake(const raw_request& request, std::string_view verify_token);

// The common front of a Meta webhook: a GET is the handshake; a POST must carry a valid signature
// (checked before anything is parsed), then a JSON object whose "object" is `object` and whose
// "entry" is an array. Returns the document, or the result to answer with instead.
std::variant<nlohmann::json, receive_result> open_webhook(const raw_request& request,
                                                          std::string_view app_secret,
                                                          std::string_view verify_token,
                                                          std::string_view object);

// What both answer: 200 (or the rejection's status) with a small JSON body naming the outcome.
http_reply reply(const receive_result& result);

// Lenient accessors for webhook JSON: nullptr / "" when `doc` is not an object or the member is
// absent or of another type, so a surprising payload never throws.
const nlohmann::json* member(const nlohmann::json& doc, std::string_view key);
const nlohmann::json* array_member(const nlohmann::json& doc, std::string_view key);
std::string string_member(const nlohmann::json& doc, std::string_view key);

// A Graph API error body: {"error": {"code": N, "error_subcode": M, ...}}.
struct graph_error {
    long long code = 0;
    long long subcode = 0;
};
std::optional<graph_error> parse_graph_error(std::string_view body);

// The classification both providers share, for a response that is not a success and carries none of
// the provider's own codes: rate-limit codes and 429 → throttled, 5xx → server_error, token and
// permission errors (190, 10, 200-299, HTTP 401/403) → config, other 4xx → invalid_message.
send_result classify_failure(const http_response& response, const std::optional<graph_error>& error);

}  // namespace flowgate::handlers::meta
