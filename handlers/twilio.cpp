#include "handlers/twilio.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <nlohmann/json.hpp>

#include "handlers/crypto.hpp"
#include "handlers/urn.hpp"

namespace flowgate::handlers {

namespace {

using json = nlohmann::json;

constexpr std::string_view default_api_base = "https://api.twilio.com";
constexpr std::string_view whatsapp_prefix = "whatsapp:";

std::unique_ptr<handler> make_twilio(const channel_settings& settings) {
    return std::make_unique<twilio_handler>(settings);
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
    for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
        s.replace(pos, from.size(), to);
    }
}

// The URLs Twilio may have signed for the one we were called on (providers.md §1.3): its back end
// is inconsistent about the port, so both "without any port" and "with the scheme's default port
// when none is given" are tried; twilio-node also accepts an apostrophe in the query either raw or
// as %27.
std::vector<std::string> url_variants(std::string_view url) {
    std::vector<std::string> out;
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) {
        out.emplace_back(url);
    } else {
        const std::string_view scheme = url.substr(0, scheme_end);
        const std::size_t authority_start = scheme_end + 3;
        std::size_t authority_end = url.find_first_of("/?#", authority_start);
        if (authority_end == std::string_view::npos) {
            authority_end = url.size();
        }
        const std::string_view authority = url.substr(authority_start, authority_end - authority_start);
        const auto at = authority.rfind('@');
        const std::size_t host_start = at == std::string_view::npos ? 0 : at + 1;
        const auto colon = authority.rfind(':');
        const auto bracket = authority.rfind(']');
        const bool has_port = colon != std::string_view::npos && colon >= host_start &&
                              (bracket == std::string_view::npos || colon > bracket);
        const std::string_view head = url.substr(0, authority_start + (has_port ? colon : authority.size()));
        const std::string_view tail = url.substr(authority_end);
        out.push_back(std::string(head) + std::string(tail));
        if (has_port) {
            out.emplace_back(url);
        } else if (scheme == "https" || scheme == "http") {
            out.push_back(std::string(head) + (scheme == "https" ? ":443" : ":80") + std::string(tail));
        }
    }
    const std::size_t n = out.size();
    for (std::size_t i = 0; i < n; ++i) {
        const auto q = out[i].find('?');
        if (q == std::string::npos) {
            continue;
        }
        std::string query = out[i].substr(q);
        if (query.find("%27") != std::string::npos) {
            replace_all(query, "%27", "'");
            out.push_back(out[i].substr(0, q) + query);
        } else if (query.find('\'') != std::string::npos) {
            replace_all(query, "'", "%27");
            out.push_back(out[i].substr(0, q) + query);
        }
    }
    return out;
}

// A flat JSON object's string values as fields; nullopt when the body is not one.
std::optional<form_fields> json_fields(std::string_view body) {
    const json doc = json::parse(body, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        return std::nullopt;
    }
    form_fields out;
    for (const auto& [key, value] : doc.items()) {
        if (value.is_string()) {
            out.emplace_back(key, value.get<std::string>());
        } else if (value.is_number()) {
            out.emplace_back(key, value.dump());
        }
    }
    return out;
}

// The request's parameters: the query for GET, the form (or flat JSON) body for POST.
std::optional<form_fields> read_params(const raw_request& request) {
    if (request.method == "GET") {
        return decode_form(request.query);
    }
    if (request.content_type() == "application/json") {
        return json_fields(request.body);
    }
    return decode_form(request.body);
}

std::string first_of(const form_fields& params, std::initializer_list<std::string_view> keys) {
    for (const auto key : keys) {
        if (const std::string* v = find_field(params, key); v != nullptr && !v->empty()) {
            return *v;
        }
    }
    return {};
}

// "+962791234567" → "tel:+962791234567"; "whatsapp:+962791234567" → "whatsapp:962791234567"
// (RapidPro's WhatsApp URNs are the digits without '+').
std::optional<std::string> urn_of(std::string_view address, std::string_view default_country) {
    if (address.starts_with(whatsapp_prefix)) {
        const auto phone = normalize_phone(address.substr(whatsapp_prefix.size()), default_country);
        if (!phone) {
            return std::nullopt;
        }
        return std::string(whatsapp_prefix) + phone->substr(1);
    }
    const auto phone = normalize_phone(address, default_country);
    if (!phone) {
        return std::nullopt;
    }
    return "tel:" + *phone;
}

// A Messaging Service SID ("MG" + 32 hex digits) sends with the service's own senders.
bool is_messaging_service(std::string_view address) {
    return address.size() == 34 && address.starts_with("MG") &&
           std::all_of(address.begin() + 2, address.end(), [](unsigned char c) { return std::isxdigit(c); });
}

// Error codes that mean the contact opted out: 21610 (replied STOP to this sender), 63014 (the
// WhatsApp user blocked the business).
bool is_opt_out_code(std::string_view code) { return code == "21610" || code == "63014"; }

std::optional<msg_state> state_of(std::string_view status) {
    if (status == "accepted" || status == "scheduled" || status == "queued") {
        return msg_state::queued;
    }
    // partially_delivered: some segments were not delivered, so it is not "delivered".
    if (status == "sending" || status == "sent" || status == "partially_delivered") {
        return msg_state::sent;
    }
    if (status == "delivered" || status == "read") {
        return msg_state::delivered;
    }
    if (status == "failed" || status == "undelivered" || status == "canceled") {
        return msg_state::failed;
    }
    return std::nullopt;
}

receive_result status_of(const form_fields& params, std::string_view default_country) {
    const std::string id = first_of(params, {"MessageSid", "SmsSid"});
    if (!is_provider_id(id)) {
        return receive_result::reject(400, "missing MessageSid");
    }
    const std::string status = first_of(params, {"MessageStatus", "SmsStatus"});
    if (status.empty()) {
        return receive_result::reject(400, "missing MessageStatus");
    }
    const auto state = state_of(status);
    if (!state) {
        return receive_result::ignore("not an outbound message status");
    }
    std::string code = first_of(params, {"ErrorCode"});
    if (code.size() > 16 ||
        !std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        code.clear();
    }
    std::vector<event> events{status_update{id, *state, code}};
    if (*state == msg_state::failed && is_opt_out_code(code)) {
        if (auto to = urn_of(first_of(params, {"To"}), default_country)) {
            events.emplace_back(channel_event{channel_event::kind::stop_contact, std::move(*to)});
        }
    }
    return receive_result::accept(std::move(events));
}

receive_result message_of(const form_fields& params, std::string_view default_country) {
    const std::string id = first_of(params, {"MessageSid", "SmsMessageSid", "SmsSid"});
    if (!is_provider_id(id)) {
        return receive_result::reject(400, "missing MessageSid");
    }
    const std::string from = first_of(params, {"From"});
    if (from.empty()) {
        return receive_result::reject(400, "missing From");
    }
    auto urn = urn_of(from, default_country);
    if (!urn) {
        return receive_result::reject(400, "invalid From");
    }
    const std::string* body = find_field(params, "Body");
    const std::string text = body == nullptr ? std::string{} : *body;
    if (!is_valid_utf8(text)) {
        return receive_result::reject(400, "Body is not UTF-8");
    }
    std::string name = first_of(params, {"ProfileName"});
    if (!is_valid_utf8(name)) {
        name.clear();
    }
    std::vector<event> events{incoming_message{id, *urn, text, std::move(name)}};
    // Advanced Opt-Out: Twilio has already stopped sending to this contact.
    if (first_of(params, {"OptOutType"}) == "STOP") {
        events.emplace_back(channel_event{channel_event::kind::stop_contact, std::move(*urn)});
    }
    return receive_result::accept(std::move(events));
}

}  // namespace

handler_type twilio_handler::describe() {
    return {"twilio",
            {
                {"address", setting_spec::kind::string, true},
                {"account_sid", setting_spec::kind::string, true},
                {"auth_token", setting_spec::kind::secret, true, {}, true},
                {"api_base", setting_spec::kind::url, false},
            },
            &make_twilio};
}

twilio_handler::twilio_handler(const channel_settings& settings)
    : channel_id_(settings.id),
      address_(settings.get("address")),
      account_sid_(settings.get("account_sid")),
      auth_token_(settings.get("auth_token")),
      api_base_(settings.url("api_base", default_api_base)),
      public_url_(settings.url("public_url")),
      default_country_(settings.default_country) {}

namespace {

// What Twilio signs after the URL: the parameters sorted, each name then its value.
std::string signed_parameters(const form_fields& params) {
    std::vector<const std::pair<std::string, std::string>*> sorted;
    sorted.reserve(params.size());
    for (const auto& p : params) {
        sorted.push_back(&p);
    }
    std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return *a < *b; });
    sorted.erase(
        std::unique(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return *a == *b; }),
        sorted.end());
    std::string out;
    for (const auto* p : sorted) {
        out += p->first;
        out += p->second;
    }
    return out;
}

std::string signature_over(std::string_view auth_token, std::string_view url, std::string_view parameters) {
    std::string data;
    data.reserve(url.size() + parameters.size());
    data += url;
    data += parameters;
    return to_base64(hmac(digest::sha1, auth_token, data));
}

}  // namespace

std::string twilio_handler::signature(std::string_view auth_token,
                                      std::string_view url,
                                      const form_fields& params) {
    return signature_over(auth_token, url, signed_parameters(params));
}

namespace {

// The POST body as a form, when the request is a form POST: decoded once, for both the signature
// and the message. `decoded` is empty when the body is not a valid form.
struct body_form {
    bool is_form = false;
    std::optional<form_fields> decoded;
};

body_form read_body_form(const raw_request& request) {
    body_form f;
    if (request.method == "POST" && request.content_type() == "application/x-www-form-urlencoded") {
        f.is_form = true;
        f.decoded = decode_form(request.body);
    }
    return f;
}

bool signature_holds(std::string_view auth_token, const raw_request& request, const body_form& form) {
    const std::string_view given = request.header("x-twilio-signature");
    if (auth_token.empty() || given.empty()) {
        return false;
    }
    const form_fields* params = nullptr;
    const auto query = decode_form(request.query);
    const std::string* body_sha256 = query ? find_field(*query, "bodySHA256") : nullptr;
    if (body_sha256 != nullptr) {
        // JSON webhooks: the URL carries the body's hash and only the URL is signed.
        if (!equal_constant_time(ascii_lower(*body_sha256), to_hex(sha256(request.body)))) {
            return false;
        }
    } else if (request.method == "POST") {
        if (!form.is_form || !form.decoded) {
            return false;
        }
        params = &*form.decoded;
    }
    // Every form of the URL is tried, whichever matches: the time taken does not tell which did.
    const std::string parameters = params != nullptr ? signed_parameters(*params) : std::string();
    bool ok = false;
    for (const auto& url : url_variants(request.public_url)) {
        ok = equal_constant_time(signature_over(auth_token, url, parameters), given) || ok;
    }
    return ok;
}

}  // namespace

bool twilio_handler::valid_signature(std::string_view auth_token, const raw_request& request) {
    return signature_holds(auth_token, request, read_body_form(request));
}

bool twilio_handler::allows(endpoint, std::string_view method) const {
    return method == "POST" || method == "GET";
}

receive_result twilio_handler::receive(endpoint e, const raw_request& request) const {
    if (request.method == "POST") {
        const std::string type = request.content_type();
        if (type != "application/x-www-form-urlencoded" && type != "application/json") {
            return receive_result::reject(415, "unsupported content type");
        }
    }
    if (request.header("x-twilio-signature").empty()) {
        return receive_result::reject(403, "missing signature");
    }
    auto form = read_body_form(request);
    if (!signature_holds(auth_token_, request, form)) {
        return receive_result::reject(403, "invalid signature");
    }
    const auto params = form.is_form ? std::move(form.decoded) : read_params(request);
    if (!params) {
        return receive_result::reject(400, "malformed parameters");
    }
    // A status callback pointed at the receive URL is still a status callback.
    const std::string* message_status = find_field(*params, "MessageStatus");
    if (e == endpoint::status || (message_status != nullptr && *message_status != "received")) {
        return status_of(*params, default_country_);
    }
    return message_of(*params, default_country_);
}

http_reply twilio_handler::reply(endpoint, const receive_result& result) const {
    if (result.result == receive_result::outcome::rejected) {
        return {result.http_status, "text/plain; charset=utf-8", result.reason};
    }
    // An empty body is reported as error 11200; an empty TwiML response sends nothing back.
    return {200, "text/xml", empty_twiml};
}

send_request twilio_handler::build_send(const outgoing_message& message) const {
    // A view of message.urn itself (std::string::substr would give a temporary).
    const std::string_view urn = message.urn;
    const std::string_view scheme = urn.substr(0, urn.find(':'));
    const std::string_view path = urn_path(message.urn);
    const bool from_whatsapp = address_.starts_with(whatsapp_prefix);
    const bool whatsapp = scheme == "whatsapp" || from_whatsapp;

    std::string to(path);
    if (whatsapp) {
        to = std::string(whatsapp_prefix) + (path.starts_with('+') ? "" : "+") + std::string(path);
    }
    form_fields fields{{"To", to}};
    if (is_messaging_service(address_)) {
        fields.emplace_back("MessagingServiceSid", address_);
    } else if (whatsapp && !from_whatsapp) {
        fields.emplace_back("From", std::string(whatsapp_prefix) + address_);
    } else {
        fields.emplace_back("From", address_);
    }
    fields.emplace_back("Body", message.text);
    if (!public_url_.empty()) {
        fields.emplace_back("StatusCallback", public_url_ + "/c/" + channel_id_ + "/status");
    }

    send_request req;
    req.method = "POST";
    req.url = api_base_ + "/2010-04-01/Accounts/" + percent_encode(account_sid_) + "/Messages.json";
    req.headers.push_back({"Authorization", "Basic " + to_base64(account_sid_ + ":" + auth_token_)});
    req.headers.push_back({"Content-Type", "application/x-www-form-urlencoded"});
    req.headers.push_back({"Accept", "application/json"});
    req.body = encode_form(fields);
    return req;
}

send_result twilio_handler::parse_send_response(const outgoing_message&,
                                                const http_response& response) const {
    const json doc = json::parse(response.body, nullptr, false);
    const bool is_object = !doc.is_discarded() && doc.is_object();
    if (response.status >= 200 && response.status < 300) {
        if (is_object) {
            const auto sid = doc.find("sid");
            if (sid != doc.end() && sid->is_string() && is_provider_id(sid->get<std::string>())) {
                return {send_error::none, sid->get<std::string>(), ""};
            }
        }
        return {send_error::bad_response, "", "no sid in the response"};
    }

    std::string code;
    if (is_object) {
        const auto c = doc.find("code");
        if (c != doc.end() && c->is_number_integer()) {
            code = std::to_string(c->get<long long>());
        }
    }
    const std::string detail =
        code.empty() ? "HTTP " + std::to_string(response.status) : "Twilio error " + code;
    if (response.status == 429 || code == "20429") {
        return {send_error::throttled, "", detail, retry_after_header(response.headers)};
    }
    if (response.status >= 500) {
        return {send_error::server_error, "", detail};
    }
    if (is_opt_out_code(code)) {
        return {send_error::contact_stopped, "", detail};
    }
    // Credentials, geo permissions, a trial account, or a From this account cannot send from.
    static constexpr std::string_view config_codes[] = {
        "20003", "20404", "21408", "21608", "21606", "21601", "21212", "14102"};
    if (response.status == 401 || response.status == 403 || response.status == 404 ||
        std::find(std::begin(config_codes), std::end(config_codes), code) != std::end(config_codes)) {
        return {send_error::config, "", detail};
    }
    if (response.status >= 400 && response.status < 500) {
        return {send_error::invalid_message, "", detail};
    }
    return {send_error::bad_response, "", detail};
}

}  // namespace flowgate::handlers
