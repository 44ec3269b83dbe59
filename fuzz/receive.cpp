// One provider's handler as the server drives it (the provider is the program's name: fuzz_twilio), from an
// HTTP-like input (common.hpp's request_text). The first line picks the call:
//   POST receive?a=1 / GET status?... — a webhook: allows(), then receive() and reply(), as the
//     server does. The request is authenticated the way the provider would (signature header,
//     `sig` parameter, URL secret, secret token) unless the input already carries that header or
//     parameter, so the parsers behind the checks are reached and the checks are fuzzed too.
//   SEND <urn> — build_send() of the body as the text.
//   RESPONSE <status> — parse_send_response() of the headers and body as the provider's answer.

#include <nlohmann/json.hpp>

#include "fuzz/common.hpp"
#include "handlers/crypto.hpp"
#include "handlers/external.hpp"
#include "handlers/form.hpp"
#include "handlers/meta.hpp"
#include "handlers/registry.hpp"
#include "handlers/twilio.hpp"
#include "handlers/vonage.hpp"

namespace {

using namespace flowgate;
using namespace flowgate::handlers;

std::string provider;  // from the program's name, set once in LLVMFuzzerInitialize
constexpr std::string_view public_base = "https://gw.example.org/c/fuzz/";

// Secrets the handler is configured with: no reply may show them.
const std::vector<std::string> secrets = {"s3cret-token", "s3cret-app", "s3cret-api", "s3cret-url"};

channel_settings settings() {
    channel_settings s;
    s.id = "fuzz";
    s.type = std::string(provider);
    s.default_country = "JO";
    s.values = {
        {"address", "+962790000000"},
        {"account_sid", "AC0123456789abcdef0123456789abcdef"},
        {"auth_token", "s3cret-token"},
        {"api_key", "s3cret-api"},
        {"api_secret", "s3cret-api"},
        {"signature_secret", "s3cret-token"},
        {"signature_method", "sha256"},
        {"username", "fuzz"},
        {"password", "s3cret-api"},
        {"url_secret", "s3cret-url"},
        {"send_url", "https://sms.example.org/send"},
        {"bot_token", "123:s3cret-api"},
        {"secret_token", "s3cret-token"},
        {"phone_number_id", "106540352242922"},
        {"page_id", "1234567890"},
        {"access_token", "s3cret-api"},
        {"page_access_token", "s3cret-api"},
        {"app_secret", "s3cret-app"},
        {"verify_token", "s3cret-token"},
        {"template_name", "fuzz_template"},
        {"secret", "s3cret-app"},
        {"public_url", "https://gw.example.org"},
    };
    return s;
}

const handler& the_handler() {
    static const std::unique_ptr<handler> h = [] {
        const handler_type* type = find_handler_type(provider);
        fuzz::require(type != nullptr, "the program's name names a handler type (fuzz_twilio)");
        return type->make(settings());
    }();
    return *h;
}

bool has_header(const raw_request& r, std::string_view name) { return !r.header(name).empty(); }

void add_query(raw_request& r, const std::string& pair) { r.query += (r.query.empty() ? "" : "&") + pair; }

bool query_has(const raw_request& r, std::string_view key) {
    const auto q = decode_form(r.query);
    return !q || find_field(*q, key) != nullptr;
}

// Vonage's signed parameters, read as its handler reads them (the last value of a name wins).
std::optional<std::map<std::string, std::string>> vonage_params(const raw_request& r, nlohmann::json* doc) {
    std::map<std::string, std::string> out;
    if (r.method == "POST" && r.content_type() == "application/json") {
        *doc = nlohmann::json::parse(r.body, nullptr, false);
        if (doc->is_discarded() || !doc->is_object()) {
            return std::nullopt;
        }
        for (const auto& [key, value] : doc->items()) {
            out[key] = value.is_string() ? value.get<std::string>() : value.is_null() ? "" : value.dump();
        }
        return out;
    }
    const auto form = decode_form(r.method == "POST" ? r.body : r.query);
    if (!form) {
        return std::nullopt;
    }
    for (const auto& [key, value] : *form) {
        out[key] = value;
    }
    return out;
}

void authenticate(raw_request& r) {
    const std::string secret = "s3cret-token";
    if (provider == "twilio" && !has_header(r, "x-twilio-signature")) {
        form_fields params;
        if (r.method == "POST" && r.content_type() == "application/json" && !query_has(r, "bodySHA256")) {
            add_query(r, "bodySHA256=" + to_hex(sha256(r.body)));
        } else if (r.method == "POST") {
            params = decode_form(r.body).value_or(form_fields{});
        }
        r.public_url = std::string(public_base) + r.path + (r.query.empty() ? "" : "?" + r.query);
        r.headers.push_back({"X-Twilio-Signature", twilio_handler::signature(secret, r.public_url, params)});
    } else if (provider == "vonage") {
        nlohmann::json doc;
        const auto params = vonage_params(r, &doc);
        if (params && params->count("sig") == 0) {
            const std::string sig =
                vonage_handler::signature(vonage_handler::sig_method::sha256, secret, *params, false);
            if (doc.is_object()) {
                doc["sig"] = sig;
                r.body = doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
            } else if (r.method == "POST") {
                r.body += (r.body.empty() ? "" : "&") + std::string("sig=") + sig;
            } else {
                add_query(r, "sig=" + sig);
            }
        }
    } else if (provider == "africastalking" || provider == "infobip" || provider == "kannel") {
        if (!query_has(r, "secret")) {
            add_query(r, "secret=s3cret-url");
        }
    } else if (provider == "telegram" && !has_header(r, "x-telegram-bot-api-secret-token")) {
        r.headers.push_back({"X-Telegram-Bot-Api-Secret-Token", secret});
    } else if (provider == "whatsapp" || provider == "messenger") {
        if (r.method == "GET" && !query_has(r, "hub.verify_token")) {
            add_query(r, "hub.verify_token=" + secret);
        } else if (!has_header(r, "x-hub-signature-256")) {
            r.headers.push_back({"X-Hub-Signature-256", meta::signature("s3cret-app", r.body)});
        }
    } else if (provider == "external" && !has_header(r, "x-flowgate-signature")) {
        r.headers.push_back({"X-Flowgate-Signature", external_handler::signature("s3cret-app", r.body)});
    }
    r.public_url = std::string(public_base) + r.path + (r.query.empty() ? "" : "?" + r.query);
}

void check_text(std::string_view text, const char* what) { fuzz::require(is_valid_utf8(text), what); }

// A reply may echo what the caller sent (Meta's hub.challenge): a secret the caller wrote into its
// own request is no leak. Any other secret in a reply is one.
void check_no_secret(std::string_view text, std::string_view caller_sent = {}) {
    for (const auto& s : secrets) {
        if (caller_sent.find(s) != std::string_view::npos) {
            continue;
        }
        fuzz::require(text.find(s) == std::string_view::npos, "a reply shows no secret");
    }
}

void webhook(const fuzz::request_text& in, std::string_view input) {
    const handler& h = the_handler();
    const endpoint e = in.target == "status" ? endpoint::status : endpoint::receive;
    if (!h.allows(e, in.method)) {
        return;  // the server answers 405 without calling the handler
    }
    raw_request r;
    r.method = in.method;
    r.path = "/c/fuzz/" + std::string(e == endpoint::status ? "status" : "receive");
    r.query = in.query;
    r.headers = in.headers;
    r.body = in.body;
    authenticate(r);

    const receive_result result = h.receive(e, r);
    switch (result.result) {
        case receive_result::outcome::accepted:
            fuzz::require(result.http_status >= 200 && result.http_status < 300, "accepted is 2xx");
            break;
        case receive_result::outcome::ignored:
            fuzz::require(result.events.empty(), "ignored carries no events");
            break;
        case receive_result::outcome::rejected:
            fuzz::require(result.http_status >= 400 && result.http_status < 500, "rejected is 4xx");
            fuzz::require(result.events.empty(), "rejected carries no events");
            break;
    }
    // Events are stored as they are (SQLite text, JSON in the API): ids and texts must be UTF-8.
    for (const event& ev : result.events) {
        if (const auto* m = std::get_if<incoming_message>(&ev)) {
            fuzz::require(is_provider_id(m->external_id), "a message id is a provider id");
            fuzz::require(!m->urn.empty(), "a message has a URN");
            check_text(m->urn, "a URN is UTF-8");
            check_text(m->text, "a message text is UTF-8");
            check_text(m->contact_name, "a contact name is UTF-8");
        } else if (const auto* s = std::get_if<status_update>(&ev)) {
            fuzz::require(is_provider_id(s->message_id), "a status names a provider id");
            check_text(s->error_code, "an error code is UTF-8");
        } else if (const auto* c = std::get_if<channel_event>(&ev)) {
            fuzz::require(!c->urn.empty(), "a channel event has a URN");
            check_text(c->urn, "a URN is UTF-8");
        }
    }
    check_no_secret(result.reason, input);
    if (result.respond) {
        check_no_secret(result.respond->body, input);
    } else {
        const http_reply reply = h.reply(e, result);
        check_no_secret(reply.body, input);
    }
}

outgoing_message message(std::string urn, std::string text) {
    outgoing_message m;
    m.id = "0b9c1e2a-3f4d-4e5f-8a6b-7c8d9e0f1a2b";
    m.channel_id = "fuzz";
    m.urn = std::move(urn);
    m.text = std::move(text);
    m.now = from_millis(1780000000000);
    return m;
}

}  // namespace

// One object file for every provider: each fuzz_<provider> program is this one, linked under its name.
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
    const std::string_view self = (*argv)[0];
    const auto slash = self.rfind('/');
    const std::string_view name = slash == std::string_view::npos ? self : self.substr(slash + 1);
    provider = std::string(name.substr(name.find('_') == std::string_view::npos ? 0 : name.find('_') + 1));
    (void)the_handler();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const fuzz::request_text in = fuzz::parse_request(fuzz::as_text(data, size));
    const handler& h = the_handler();
    if (in.method == "SEND") {
        outgoing_message m = message(in.target, in.body);
        if (!in.headers.empty()) {
            m.last_inbound_at = m.now - std::chrono::hours(in.headers.size());
        }
        (void)h.build_send(m);
    } else if (in.method == "RESPONSE") {
        http_response response;
        response.status = std::atoi(in.target.c_str());
        response.headers = in.headers;
        response.body = in.body;
        const send_result result = h.parse_send_response(message("tel:+962791234567", "hi"), response);
        fuzz::require(result.provider_id.empty() || is_provider_id(result.provider_id),
                      "a provider id is 1 to 255 bytes of UTF-8");
        check_no_secret(result.detail);
    } else {
        webhook(in, fuzz::as_text(data, size));
    }
    return 0;
}
