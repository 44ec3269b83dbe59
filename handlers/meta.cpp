#include "handlers/meta.hpp"

#include <cctype>

#include "handlers/crypto.hpp"
#include "handlers/form.hpp"

namespace flowgate::handlers::meta {

namespace {

using json = nlohmann::json;

constexpr std::size_t max_challenge_length = 256;

// Meta's challenge is a number. Letters, digits, '-', '_' and '.' are echoed, nothing else, so the
// handshake cannot be used to reflect markup.
bool is_plain_token(std::string_view text) {
    if (text.empty() || text.size() > max_challenge_length) {
        return false;
    }
    for (unsigned char c : text) {
        if (!std::isalnum(c) && c != '-' && c != '_' && c != '.') {
            return false;
        }
    }
    return true;
}

bool is_rate_limit_code(long long code) {
    // 4 app, 17 user, 32 page, 613 custom-rate limits; 80000-80099 business use case limits.
    return code == 4 || code == 17 || code == 32 || code == 613 || (code >= 80000 && code < 80100);
}

}  // namespace

std::string signature(std::string_view app_secret, std::string_view body) {
    return "sha256=" + to_hex(hmac(digest::sha256, app_secret, body));
}

bool signature_valid(const raw_request& request, std::string_view app_secret) {
    if (app_secret.empty()) {
        return false;
    }
    const std::string given = ascii_lower(request.header("x-hub-signature-256"));
    return equal_constant_time(given, signature(app_secret, request.body));
}

receive_result handshake(const raw_request& request, std::string_view verify_token) {
    const auto query = decode_form(request.query);
    if (!query) {
        return receive_result::reject(400, "malformed query");
    }
    const std::string* mode = find_field(*query, "hub.mode");
    const std::string* token = find_field(*query, "hub.verify_token");
    if (verify_token.empty() || mode == nullptr || *mode != "subscribe" || token == nullptr ||
        !equal_constant_time(*token, verify_token)) {
        return receive_result::reject(403, "verification failed");
    }
    const std::string* challenge = find_field(*query, "hub.challenge");
    if (challenge == nullptr || !is_plain_token(*challenge)) {
        return receive_result::reject(400, "missing or invalid hub.challenge");
    }
    receive_result r = receive_result::ignore("verification handshake");
    r.respond = http_reply{200, "text/plain", *challenge};
    return r;
}

std::variant<json, receive_result> open_webhook(const raw_request& request,
                                                std::string_view app_secret,
                                                std::string_view verify_token,
                                                std::string_view object) {
    if (request.method == "GET") {
        return handshake(request, verify_token);
    }
    if (!signature_valid(request, app_secret)) {
        return receive_result::reject(403, "invalid signature");
    }
    json doc = json::parse(request.body, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        return receive_result::reject(400, "malformed JSON body");
    }
    if (string_member(doc, "object") != object) {
        return receive_result::ignore("not a " + std::string(object) + " event");
    }
    if (array_member(doc, "entry") == nullptr) {
        return receive_result::reject(400, "missing entry");
    }
    return doc;
}

http_reply reply(const receive_result& result) {
    json body;
    switch (result.result) {
        case receive_result::outcome::accepted:
            body = {{"status", "accepted"}};
            break;
        case receive_result::outcome::ignored:
            body = {{"status", "ignored"}, {"reason", result.reason}};
            break;
        case receive_result::outcome::rejected:
            body = {{"status", "rejected"}, {"error", result.reason}};
            break;
    }
    return {result.http_status, "application/json", body.dump()};
}

const json* member(const json& doc, std::string_view key) {
    if (!doc.is_object()) {
        return nullptr;
    }
    const auto it = doc.find(key);
    return it == doc.end() ? nullptr : &*it;
}

const json* array_member(const json& doc, std::string_view key) {
    const json* v = member(doc, key);
    return v != nullptr && v->is_array() ? v : nullptr;
}

std::string string_member(const json& doc, std::string_view key) {
    const json* v = member(doc, key);
    return v != nullptr && v->is_string() ? v->get<std::string>() : std::string{};
}

std::optional<graph_error> parse_graph_error(std::string_view body) {
    const json doc = json::parse(body, nullptr, false);
    const json* err = doc.is_discarded() ? nullptr : member(doc, "error");
    const json* code = err == nullptr ? nullptr : member(*err, "code");
    if (code == nullptr || !code->is_number_integer()) {
        return std::nullopt;
    }
    graph_error out;
    out.code = code->get<long long>();
    if (const json* sub = member(*err, "error_subcode"); sub != nullptr && sub->is_number_integer()) {
        out.subcode = sub->get<long long>();
    }
    return out;
}

send_result classify_failure(const http_response& response, const std::optional<graph_error>& error) {
    const long long code = error ? error->code : 0;
    if (response.status == 429 || is_rate_limit_code(code)) {
        send_result r{send_error::throttled, "", "rate limited by Meta"};
        r.retry_after = retry_after_header(response.headers);
        return r;
    }
    if (response.status >= 500) {
        return {send_error::server_error, "", "HTTP " + std::to_string(response.status)};
    }
    if (code == 190 || code == 10 || (code >= 200 && code < 300) || response.status == 401 ||
        response.status == 403) {
        return {send_error::config, "", "access token or permission refused"};
    }
    if (response.status >= 400 && response.status < 500) {
        return {send_error::invalid_message,
                "",
                error ? "Graph error " + std::to_string(code) : "HTTP " + std::to_string(response.status)};
    }
    return {send_error::bad_response, "", "HTTP " + std::to_string(response.status)};
}

}  // namespace flowgate::handlers::meta
