#include "handlers/vonage.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <nlohmann/json.hpp>

#include "handlers/crypto.hpp"
#include "handlers/form.hpp"
#include "handlers/urn.hpp"

namespace flowgate::handlers {

namespace {

using json = nlohmann::json;
using params_map = std::map<std::string, std::string>;

constexpr std::string_view default_api_base = "https://rest.nexmo.com";

std::unique_ptr<handler> make_vonage(const channel_settings& settings) {
    return std::make_unique<vonage_handler>(settings);
}

bool is_blank(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
}

// The request's parameters — query (GET), form or top-level JSON fields (POST) — one value per name,
// the last one winning; the signature is checked over exactly this map and the events are read from
// it, so a repeated name cannot smuggle an unsigned value past the check.
std::optional<params_map> read_params(const raw_request& request) {
    params_map out;
    if (request.method == "POST" && request.content_type() == "application/json") {
        const json doc = json::parse(request.body, nullptr, false);
        if (doc.is_discarded() || !doc.is_object()) {
            return std::nullopt;
        }
        for (const auto& [key, value] : doc.items()) {
            if (value.is_string()) {
                out[key] = value.get<std::string>();
            } else if (value.is_null()) {
                out[key] = "";
            } else {
                out[key] = value.dump();
            }
        }
        return out;
    }
    const auto form = decode_form(request.method == "POST" ? request.body : request.query);
    if (!form) {
        return std::nullopt;
    }
    for (const auto& [key, value] : *form) {
        out[key] = value;
    }
    return out;
}

std::string field(const params_map& params, const std::string& key) {
    const auto it = params.find(key);
    return it == params.end() ? std::string{} : it->second;
}

// Vonage's numbers are international digits without '+'.
std::optional<std::string> urn_of(const std::string& msisdn, std::string_view default_country) {
    if (msisdn.empty()) {
        return std::nullopt;
    }
    const auto phone = normalize_phone(msisdn.front() == '+' ? msisdn : "+" + msisdn, default_country);
    if (!phone) {
        return std::nullopt;
    }
    return "tel:" + *phone;
}

std::optional<msg_state> state_of(std::string_view status) {
    if (status == "delivered") {
        return msg_state::delivered;
    }
    if (status == "accepted" || status == "buffered") {
        return msg_state::sent;
    }
    if (status == "failed" || status == "rejected" || status == "expired") {
        return msg_state::failed;
    }
    return std::nullopt;  // "unknown": the carrier said nothing final
}

receive_result receipt_of(const params_map& params, std::string_view default_country) {
    const std::string message_id = field(params, "messageId");
    if (!is_provider_id(message_id)) {
        return receive_result::reject(400, "missing messageId");
    }
    const std::string status = field(params, "status");
    if (status.empty()) {
        return receive_result::reject(400, "missing status");
    }
    const auto state = state_of(status);
    if (!state) {
        return receive_result::ignore("status without a final outcome");
    }
    // Our sends carry our message id as client-ref: it names the message for every part's receipt.
    const std::string client_ref = field(params, "client-ref");
    std::string code = field(params, "err-code");
    if (code == "0" || code.size() > 8 ||
        !std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        code.clear();
    }
    std::vector<event> events{
        status_update{is_provider_id(client_ref) ? client_ref : message_id, *state, code}};
    // err-code 9 "illegal number": the recipient asked not to receive messages from this service.
    if (*state == msg_state::failed && code == "9") {
        if (auto urn = urn_of(field(params, "msisdn"), default_country)) {
            events.emplace_back(channel_event{channel_event::kind::stop_contact, std::move(*urn)});
        }
    }
    return receive_result::accept(std::move(events));
}

receive_result message_of(const params_map& params, std::string_view default_country) {
    const std::string message_id = field(params, "messageId");
    if (!is_provider_id(message_id)) {
        return receive_result::reject(400, "missing messageId");
    }
    const std::string msisdn = field(params, "msisdn");
    if (msisdn.empty()) {
        return receive_result::reject(400, "missing msisdn");
    }
    auto urn = urn_of(msisdn, default_country);
    if (!urn) {
        return receive_result::reject(400, "invalid msisdn");
    }
    if (field(params, "type") == "binary") {
        return receive_result::ignore("binary message");
    }
    std::string text = field(params, "text");
    if (!is_valid_utf8(text)) {
        return receive_result::reject(400, "text is not UTF-8");
    }
    return receive_result::accept({incoming_message{message_id, std::move(*urn), std::move(text), ""}});
}

// Every character in GSM 03.38's basic or extension table (providers.md §9.1, §9.2)? Otherwise the
// message must go as type=unicode, or Arabic arrives garbled.
bool is_gsm7(std::string_view text) {
    static constexpr std::u32string_view table =
        U"@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà\f^{}\\[~]|€";
    std::size_t i = 0;
    while (i < text.size()) {
        const auto b0 = static_cast<unsigned char>(text[i]);
        char32_t cp = 0;
        std::size_t len = 1;
        if (b0 < 0x80) {
            cp = b0;
        } else if ((b0 & 0xe0) == 0xc0) {
            len = 2;
            cp = b0 & 0x1f;
        } else if ((b0 & 0xf0) == 0xe0) {
            len = 3;
            cp = b0 & 0x0f;
        } else {
            return false;  // 4-byte sequences (emoji) and stray bytes are never GSM-7
        }
        if (i + len > text.size()) {
            return false;
        }
        for (std::size_t k = 1; k < len; ++k) {
            cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3f);
        }
        const bool alnum =
            (cp >= U'A' && cp <= U'Z') || (cp >= U'a' && cp <= U'z') || (cp >= U'0' && cp <= U'9');
        if (!alnum && table.find(cp) == std::u32string_view::npos) {
            return false;
        }
        i += len;
    }
    return true;
}

// A non-zero `status` of one message element (providers.md §2.4).
send_result classify_status(int status) {
    const std::string detail = "Vonage status " + std::to_string(status);
    switch (status) {
        case 1:   // throttled: 30 requests per second per key by default
        case 10:  // too many binds
            return {send_error::throttled, "", detail, std::chrono::seconds{1}};
        case 5:  // internal error
            return {send_error::server_error, "", detail};
        case 7:  // number barred: the destination is on the blocked list
            return {send_error::contact_stopped, "", detail};
        case 2:   // missing parameters
        case 3:   // invalid parameters
        case 6:   // invalid message (unroutable prefix)
        case 12:  // message too long
        case 22:  // invalid network code
        case 33:  // number de-activated
        case 34:  // invalid or missing msisdn
            return {send_error::invalid_message, "", detail};
        case 4:   // invalid credentials
        case 8:   // account barred
        case 9:   // quota exceeded (no credit)
        case 11:  // account not enabled for HTTP
        case 14:  // invalid signature
        case 15:  // invalid sender address
        case 23:  // invalid callback URL
        case 29:  // non-whitelisted destination (demo account)
        case 32:  // signature and API secret both given
            return {send_error::config, "", detail};
        default:
            return {send_error::bad_response, "", detail};
    }
}

}  // namespace

handler_type vonage_handler::describe() {
    return {"vonage",
            {
                {"address", setting_spec::kind::string, true},
                {"api_key", setting_spec::kind::string, true},
                {"api_secret", setting_spec::kind::secret, true},
                {"signature_secret", setting_spec::kind::secret, false, {}, true},
                {"signature_method",
                 setting_spec::kind::string,
                 false,
                 {"md5hash", "md5", "sha1", "sha256", "sha512"}},
                {"api_base", setting_spec::kind::url, false},
            },
            &make_vonage};
}

vonage_handler::vonage_handler(const channel_settings& settings)
    : channel_id_(settings.id),
      address_(settings.get("address")),
      api_key_(settings.get("api_key")),
      api_secret_(settings.get("api_secret")),
      signature_secret_(settings.get("signature_secret")),
      method_(parse_sig_method(settings.get("signature_method").empty() ? "md5hash"
                                                                        : settings.get("signature_method"))),
      api_base_(settings.url("api_base", default_api_base)),
      public_url_(settings.url("public_url")),
      default_country_(settings.default_country) {}

std::optional<vonage_handler::sig_method> vonage_handler::parse_sig_method(std::string_view name) {
    const std::string n = ascii_lower(name);
    if (n == "md5hash") {
        return sig_method::md5hash;
    }
    if (n == "md5") {
        return sig_method::md5;
    }
    if (n == "sha1") {
        return sig_method::sha1;
    }
    if (n == "sha256") {
        return sig_method::sha256;
    }
    if (n == "sha512") {
        return sig_method::sha512;
    }
    return std::nullopt;
}

std::string vonage_handler::signature(sig_method method,
                                      std::string_view secret,
                                      const std::map<std::string, std::string>& params,
                                      bool skip_empty) {
    std::string data;
    for (const auto& [name, value] : params) {  // std::map: sorted by name
        if (name == "sig" || (skip_empty && is_blank(value))) {
            continue;
        }
        std::string v = value;
        std::replace(v.begin(), v.end(), '&', '_');
        std::replace(v.begin(), v.end(), '=', '_');
        data += '&';
        data += name;
        data += '=';
        data += v;
    }
    switch (method) {
        case sig_method::md5hash:
            return to_hex(md5(data + std::string(secret)));
        case sig_method::md5:
            return to_hex(hmac(digest::md5, secret, data));
        case sig_method::sha1:
            return to_hex(hmac(digest::sha1, secret, data));
        case sig_method::sha256:
            return to_hex(hmac(digest::sha256, secret, data));
        case sig_method::sha512:
            return to_hex(hmac(digest::sha512, secret, data));
    }
    return {};
}

bool vonage_handler::allows(endpoint, std::string_view method) const {
    return method == "GET" || method == "POST";
}

receive_result vonage_handler::receive(endpoint e, const raw_request& request) const {
    if (request.method == "POST") {
        const std::string type = request.content_type();
        if (type != "application/x-www-form-urlencoded" && type != "application/json") {
            return receive_result::reject(415, "unsupported content type");
        }
    }
    const auto params = read_params(request);
    if (!signature_secret_.empty()) {
        // The parameters are the signed message: unreadable ones cannot carry a valid signature.
        const std::string sig = params ? field(*params, "sig") : std::string{};
        if (sig.empty()) {
            return receive_result::reject(403, "missing signature");
        }
        if (!method_) {
            return receive_result::reject(403, "invalid signature");
        }
        // Vonage's SDKs differ on blank values (java skips them): either form is accepted.
        const std::string given = ascii_lower(sig);
        const bool ok = equal_constant_time(given, signature(*method_, signature_secret_, *params, false)) ||
                        equal_constant_time(given, signature(*method_, signature_secret_, *params, true));
        if (!ok) {
            return receive_result::reject(403, "invalid signature");
        }
    }
    if (!params) {
        return receive_result::reject(400, "malformed parameters");
    }
    // A delivery receipt sent to the receive URL is still a delivery receipt.
    const bool receipt = params->count("status") != 0 && params->count("text") == 0;
    if (e == endpoint::status || receipt) {
        return receipt_of(*params, default_country_);
    }
    return message_of(*params, default_country_);
}

http_reply vonage_handler::reply(endpoint, const receive_result& result) const {
    if (result.result == receive_result::outcome::rejected) {
        return {result.http_status, "text/plain; charset=utf-8", result.reason};
    }
    // Any 2xx stops Vonage's retries; the body is ignored.
    return {200, "text/plain; charset=utf-8", ""};
}

send_request vonage_handler::build_send(const outgoing_message& message) const {
    std::string to(urn_path(message.urn));
    if (to.starts_with('+')) {
        to.erase(0, 1);
    }
    std::string from = address_;
    if (from.starts_with('+')) {
        from.erase(0, 1);
    }
    form_fields fields{
        {"api_key", api_key_},
        {"api_secret", api_secret_},
        {"from", from},
        {"to", to},
        {"text", message.text},
        {"type", is_gsm7(message.text) ? "text" : "unicode"},
        {"client-ref", message.id},
    };
    if (!public_url_.empty()) {
        fields.emplace_back("callback", public_url_ + "/c/" + channel_id_ + "/status");
    }
    send_request req;
    req.method = "POST";
    req.url = api_base_ + "/sms/json";
    req.headers.push_back({"Content-Type", "application/x-www-form-urlencoded"});
    req.headers.push_back({"Accept", "application/json"});
    req.body = encode_form(fields);
    return req;
}

send_result vonage_handler::parse_send_response(const outgoing_message&,
                                                const http_response& response) const {
    const std::string http = "HTTP " + std::to_string(response.status);
    if (response.status == 429) {
        return {send_error::throttled, "", http, retry_after_header(response.headers)};
    }
    if (response.status >= 500) {
        return {send_error::server_error, "", http};
    }
    if (response.status == 401 || response.status == 403) {
        return {send_error::config, "", http};
    }
    if (response.status >= 400 && response.status < 500) {
        return {send_error::invalid_message, "", http};
    }
    if (response.status < 200 || response.status >= 300) {
        return {send_error::bad_response, "", http};
    }
    // HTTP 200 even on errors: each message part has its own status.
    const json doc = json::parse(response.body, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        return {send_error::bad_response, "", "unreadable response"};
    }
    const auto messages = doc.find("messages");
    if (messages == doc.end() || !messages->is_array() || messages->empty()) {
        return {send_error::bad_response, "", "no messages in the response"};
    }
    std::string first_id;
    for (const auto& m : *messages) {
        if (!m.is_object()) {
            return {send_error::bad_response, "", "unreadable response"};
        }
        int status = -1;
        const auto s = m.find("status");
        if (s != m.end() && s->is_string()) {
            const std::string& text = s->get_ref<const std::string&>();
            const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), status);
            if (ec != std::errc{} || end != text.data() + text.size()) {
                status = -1;
            }
        } else if (s != m.end() && s->is_number_integer()) {
            status = s->get<int>();
        }
        if (status < 0) {
            return {send_error::bad_response, "", "no status in the response"};
        }
        if (status != 0) {
            return classify_status(status);
        }
        const auto id = m.find("message-id");
        if (first_id.empty() && id != m.end() && id->is_string() && is_provider_id(id->get<std::string>())) {
            first_id = id->get<std::string>();
        }
    }
    if (first_id.empty()) {
        return {send_error::bad_response, "", "no message-id in the response"};
    }
    return {send_error::none, first_id, ""};
}

}  // namespace flowgate::handlers
