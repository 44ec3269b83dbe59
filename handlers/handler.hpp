#pragma once
// The one small, pure interface every provider handler implements (STYLE.md): a request in,
// events out; a message in, an HTTP request description out. No sockets, no database, no clock.

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/types.hpp"

namespace flowgate::handlers {

struct http_header {
    std::string name;
    std::string value;
};

bool is_valid_utf8(std::string_view text);

// A provider's message id we can keep as a dedupe key: 1 to 255 bytes of valid UTF-8.
inline constexpr std::size_t max_provider_id_length = 255;
bool is_provider_id(std::string_view id);

// Case-insensitive lookup; "" when absent.
std::string_view find_header(const std::vector<http_header>& headers, std::string_view name);

// What the server hands a handler: the raw bytes as they arrived (signatures are over them).
struct raw_request {
    std::string method;  // "GET", "POST", ...
    std::string path;    // "/c/local/receive"
    std::string query;   // the raw query string, without '?'
    std::vector<http_header> headers;
    std::string body;
    std::string public_url;  // server.public_url + path (+ '?' + query): the URL the provider called

    std::string_view header(std::string_view name) const { return find_header(headers, name); }
    // The media type without parameters, lower-cased: "application/json".
    std::string content_type() const;
};

// Events a webhook carries.
struct incoming_message {
    std::string external_id;  // the provider's message id: the dedupe key with the channel
    std::string urn;          // normalised sender, e.g. "tel:+962790000000"
    std::string text;
    std::string contact_name;  // when the provider knows it

    friend bool operator==(const incoming_message&, const incoming_message&) = default;
};
struct status_update {
    std::string message_id;  // our message id or the provider's
    msg_state state = msg_state::sent;
    std::string error_code;  // provider's code on failure, if any

    friend bool operator==(const status_update&, const status_update&) = default;
};
struct channel_event {
    enum class kind { stop_contact, new_conversation } type = kind::new_conversation;
    std::string urn;

    friend bool operator==(const channel_event&, const channel_event&) = default;
};
using event = std::variant<incoming_message, status_update, channel_event>;

enum class endpoint { receive, status };

struct http_reply {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
};

// Courier's three outcomes: accepted (2xx, events to store), ignored (200 with a reason, nothing to
// store), rejected (4xx with a short fixed reason — never a secret or an echo of the payload).
struct receive_result {
    enum class outcome { accepted, ignored, rejected } result = outcome::accepted;
    int http_status = 200;
    std::string reason;
    std::vector<event> events;
    // Set by a handler that answers the request itself, with no events to store (Meta's GET
    // verification handshake echoes hub.challenge): the server sends it as it is.
    std::optional<http_reply> respond = std::nullopt;
    // Verified by the channel's previous secret, not its current one (a rotation's overlap).
    bool previous_secret = false;

    static receive_result accept(std::vector<event> events);
    static receive_result ignore(std::string reason);
    static receive_result reject(int http_status, std::string reason);
};

// An outbound message as the sender hands it to a handler.
struct outgoing_message {
    std::string id;  // our message UUID
    std::string channel_id;
    std::string urn;
    std::string text;
    // When the sender builds the request, and when the contact last wrote to us on this channel
    // (unset: never): WhatsApp allows free text only within 24 hours of it, a template otherwise.
    timestamp now = {};
    std::optional<timestamp> last_inbound_at = std::nullopt;
};

// An HTTP request for the sender to perform.
struct send_request {
    std::string method = "POST";
    std::string url;
    std::vector<http_header> headers;
    std::string body;
};

struct http_response {
    int status = 0;
    std::vector<http_header> headers;
    std::string body;
};

// Send errors are a closed set; the sender decides retries from it.
enum class send_error {
    none,
    config,             // the channel is misconfigured (not retryable)
    invalid_message,    // the provider refused this message (not retryable)
    connection_failed,  // no answer: connect/TLS/timeout (retryable)
    throttled,          // 429 or the provider's rate error (retryable)
    server_error,       // 5xx (retryable)
    bad_response,       // an answer we cannot take as success (not retryable)
    contact_stopped,    // the contact opted out at the provider (not retryable; stops the contact)
};
const char* to_string(send_error e);
bool is_retryable(send_error e);

// Channels that sign nothing (Africa's Talking, Infobip, Kannel) carry a secret in their webhook
// URLs: the `secret` query parameter against the channel's url_secret, in constant time. No
// configured secret lets nothing in.
bool has_url_secret(const raw_request& request, std::string_view expected);

// An HTTP Retry-After header in seconds ("120"); nullopt when absent or not a number of seconds
// (the HTTP-date form is not used by the providers we talk to). Capped at a day.
std::optional<std::chrono::seconds> retry_after_header(const std::vector<http_header>& headers);

struct send_result {
    send_error error = send_error::none;
    std::string provider_id;
    std::string detail;  // short and fixed: never the message text or a secret
    // throttled: how long the provider asked us to wait (HTTP Retry-After, Telegram's retry_after).
    std::optional<std::chrono::seconds> retry_after = std::nullopt;
};

class handler {
   public:
    virtual ~handler() = default;

    // Whether `method` is allowed on an endpoint (else 405).
    virtual bool allows(endpoint e, std::string_view method) const = 0;
    // Verify and parse. `default_country` is the config's, for national phone numbers.
    virtual receive_result receive(endpoint e, const raw_request& request) const = 0;
    // What the provider wants back once the events are durably stored (or rejected/ignored).
    virtual http_reply reply(endpoint e, const receive_result& result) const = 0;
    virtual send_request build_send(const outgoing_message& message) const = 0;
    virtual send_result parse_send_response(const outgoing_message& message,
                                            const http_response& response) const = 0;
};

// What a channel's config entry holds after validation, secrets resolved.
struct channel_settings {
    std::string id;
    std::string type;
    std::string default_country;
    std::map<std::string, std::string> values;

    std::string get(std::string_view key) const;
    // A URL setting (or `fallback` when it is not set) without trailing slashes, ready for paths.
    std::string url(std::string_view key, std::string_view fallback = {}) const;
};

// Every channel's settings also hold "public_url": server.public_url, the address providers reach
// us at, for handlers that name our status URL in each send (Twilio's StatusCallback, Kannel's
// dlr-url). Empty when the config has none.

// One key a provider type accepts in its channel config.
struct setting_spec {
    std::string name;
    enum class kind { string, url, secret } type = kind::string;
    bool required = false;
    std::vector<std::string> choices = {};  // non-empty: the value must be one of these
    // A secret that checks inbound requests (a signing key, a URL secret, a verify token): during
    // a rotation the channel may also name `<name>_previous`, and requests that pass with it are
    // accepted too (handlers/rotation.hpp).
    bool rotates = false;
};

struct handler_type {
    std::string name;
    std::vector<setting_spec> settings;
    std::unique_ptr<handler> (*make)(const channel_settings&);
    // The longest text one message may carry where the provider does not join parts itself, in
    // split_text's units (0: no limit of ours). Longer texts are queued as several messages.
    std::size_t max_text_length = 0;
};

// Splits UTF-8 `text` into parts of at most `max_chars` characters as Telegram counts them (UTF-16
// code units: a character beyond U+FFFF, such as most emoji, counts two), never inside a UTF-8
// sequence. A part ends after the last space or line break that fits when there is one, otherwise at
// the last whole character that fits. The parts joined give `text` back; empty text gives no parts.
// Bytes that are not valid UTF-8 count one each and are kept as they are.
std::vector<std::string> split_text(std::string_view text, std::size_t max_chars);

}  // namespace flowgate::handlers
