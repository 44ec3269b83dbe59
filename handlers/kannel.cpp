#include "handlers/kannel.hpp"

#include <algorithm>
#include <cctype>

#include "handlers/crypto.hpp"
#include "handlers/form.hpp"
#include "handlers/urn.hpp"

namespace flowgate::handlers {

namespace {

std::unique_ptr<handler> make_kannel(const channel_settings& settings) {
    return std::make_unique<kannel_handler>(settings);
}

void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xc0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xe0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
        out += static_cast<char>(0xf0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    }
}

// UCS-2 / UTF-16BE bytes (Kannel's coding=2 without mo-recode) → UTF-8; nullopt when malformed.
std::optional<std::string> utf16be_to_utf8(std::string_view bytes) {
    if (bytes.size() % 2 != 0) {
        return std::nullopt;
    }
    std::string out;
    for (std::size_t i = 0; i < bytes.size(); i += 2) {
        char32_t unit =
            (static_cast<unsigned char>(bytes[i]) << 8) | static_cast<unsigned char>(bytes[i + 1]);
        if (unit >= 0xd800 && unit <= 0xdbff) {
            if (i + 3 >= bytes.size()) {
                return std::nullopt;
            }
            const char32_t low =
                (static_cast<unsigned char>(bytes[i + 2]) << 8) | static_cast<unsigned char>(bytes[i + 3]);
            if (low < 0xdc00 || low > 0xdfff) {
                return std::nullopt;
            }
            unit = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
            i += 2;
        } else if (unit >= 0xdc00 && unit <= 0xdfff) {
            return std::nullopt;
        }
        append_utf8(out, unit);
    }
    return out;
}

// WINDOWS-1252 (what Kannel 1.4 keeps 7-bit text in, and what mo-recode picks when it can) → UTF-8.
std::string cp1252_to_utf8(std::string_view bytes) {
    static constexpr char16_t high[32] = {0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
                                          0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008d, 0x017d, 0x008f,
                                          0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
                                          0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178};
    std::string out;
    for (unsigned char c : bytes) {
        append_utf8(out, c >= 0x80 && c < 0xa0 ? high[c - 0x80] : c);
    }
    return out;
}

// Control bytes no text message holds; UTF-16BE Arabic is full of them (0x06 high bytes).
bool has_control_bytes(std::string_view bytes) {
    return std::any_of(bytes.begin(), bytes.end(), [](unsigned char c) {
        return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f;
    });
}

// The text as UTF-8, from what the get-url carries: `charset` (%C) and `coding` (%c) when the
// operator added them; otherwise recognised from the bytes (UTF-8 with mo-recode, UTF-16BE without).
std::optional<std::string> decode_text(const std::string& bytes,
                                       const std::string* charset,
                                       const std::string* coding) {
    enum class cs { detect, utf8, utf16be, cp1252 } kind = cs::detect;
    if (charset != nullptr && !charset->empty()) {
        const std::string c = ascii_lower(*charset);
        if (c == "utf-16be" || c == "utf-16" || c == "ucs-2" || c == "ucs2") {
            kind = cs::utf16be;
        } else if (c == "utf-8" || c == "utf8") {
            kind = cs::utf8;
        } else if (c == "windows-1252" || c == "cp1252" || c == "iso-8859-1" || c == "latin1") {
            kind = cs::cp1252;
        }
    } else if (coding != nullptr && *coding == "2") {
        kind = cs::utf16be;
    }
    switch (kind) {
        case cs::utf16be:
            return utf16be_to_utf8(bytes);
        case cs::utf8:
            return is_valid_utf8(bytes) ? std::optional<std::string>(bytes) : std::nullopt;
        case cs::cp1252:
            return cp1252_to_utf8(bytes);
        case cs::detect:
            break;
    }
    const bool utf8 = is_valid_utf8(bytes);
    if (utf8 && !has_control_bytes(bytes)) {
        return bytes;
    }
    if (auto text = utf16be_to_utf8(bytes); text && !has_control_bytes(*text)) {
        return text;
    }
    return utf8 ? bytes : cp1252_to_utf8(bytes);
}

// Septets of one character in GSM 03.38: 1 basic, 2 extension, 0 not representable.
bool in_gsm7(char32_t c) {
    if ((c >= U'A' && c <= U'Z') || (c >= U'a' && c <= U'z') || (c >= U'0' && c <= U'9')) {
        return true;
    }
    static constexpr std::u32string_view basic =
        U"@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà";
    static constexpr std::u32string_view extension = U"\f^{}\\[~]|€";
    return basic.find(c) != std::u32string_view::npos || extension.find(c) != std::u32string_view::npos;
}

// Kannel's DLR types (§4.3): 1 delivered to the phone, 2 not delivered to the phone, 4 queued on
// the SMSC, 8 accepted by the SMSC, 16 rejected by the SMSC.
std::optional<msg_state> map_dlr_type(std::string_view type) {
    if (type == "1") {
        return msg_state::delivered;
    }
    if (type == "2" || type == "16") {
        return msg_state::failed;
    }
    if (type == "4" || type == "8") {
        return msg_state::sent;
    }
    return std::nullopt;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

}  // namespace

handler_type kannel_handler::describe() {
    return {"kannel",
            {
                {"address", setting_spec::kind::string, false},
                {"send_url", setting_spec::kind::url, true},
                {"username", setting_spec::kind::string, true},
                {"password", setting_spec::kind::secret, true},
                {"url_secret", setting_spec::kind::secret, true, {}, true},
                // Our status endpoint as Kannel reaches it ({public_url}/c/{id}/status); without it
                // no delivery reports are asked for.
                {"dlr_url", setting_spec::kind::url, false},
            },
            &make_kannel};
}

kannel_handler::kannel_handler(const channel_settings& settings)
    : address_(settings.get("address")),
      send_url_(settings.get("send_url")),
      username_(settings.get("username")),
      password_(settings.get("password")),
      url_secret_(settings.get("url_secret")),
      // Without its own dlr_url, the channel's status endpoint at the server's public URL.
      dlr_url_(!settings.get("dlr_url").empty() || settings.get("public_url").empty()
                   ? settings.get("dlr_url")
                   : settings.get("public_url") + "/c/" + settings.id + "/status"),
      default_country_(settings.default_country) {}

bool kannel_handler::is_gsm7(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            if (!in_gsm7(c)) {
                return false;
            }
            ++i;
            continue;
        }
        std::size_t n = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (n == 0 || i + n > text.size() || !is_valid_utf8(text.substr(i, n))) {
            return false;
        }
        char32_t cp = c & (0xff >> (n + 1));
        for (std::size_t k = 1; k < n; ++k) {
            cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3f);
        }
        if (!in_gsm7(cp)) {
            return false;
        }
        i += n;
    }
    return true;
}

bool kannel_handler::allows(endpoint, std::string_view method) const { return method == "GET"; }

receive_result kannel_handler::receive(endpoint e, const raw_request& request) const {
    const auto query = decode_form(request.query);
    if (!query || !has_url_secret(request, url_secret_)) {
        return receive_result::reject(403, "invalid secret");
    }
    const std::string* id = find_field(*query, "id");
    if (id == nullptr) {
        return receive_result::reject(400, "missing id");
    }
    if (!is_provider_id(*id)) {
        return receive_result::reject(400, "invalid id");
    }

    if (e == endpoint::status) {
        const std::string* type = find_field(*query, "type");
        if (type == nullptr || type->empty()) {
            return receive_result::reject(400, "missing type");
        }
        if (*type == "32") {
            return receive_result::ignore("intermediate report");
        }
        const auto state = map_dlr_type(*type);
        if (!state) {
            return receive_result::reject(400, "unknown type");
        }
        return receive_result::accept(
            {status_update{*id, *state, *state == msg_state::failed ? "dlr-" + *type : std::string{}}});
    }

    const std::string* from = find_field(*query, "from");
    if (from == nullptr || from->empty()) {
        return receive_result::reject(400, "missing from");
    }
    auto urn = parse_urn(*from, default_country_);
    if (!urn) {
        // An operator's alphanumeric sender: nothing to answer, and nothing for Kannel to retry.
        return receive_result::ignore("sender is not a phone number");
    }
    const std::string* raw_text = find_field(*query, "text");
    if (raw_text == nullptr) {
        return receive_result::reject(400, "missing text");
    }
    auto text = decode_text(*raw_text, find_field(*query, "charset"), find_field(*query, "coding"));
    if (!text) {
        return receive_result::reject(400, "text does not match its charset");
    }
    return receive_result::accept({incoming_message{*id, std::move(*urn), std::move(*text), ""}});
}

http_reply kannel_handler::reply(endpoint, const receive_result& result) const {
    // A 2xx body would become a reply SMS if the sms-service allows replies (max-messages > 0),
    // and a trailing newline an extra empty one (kannel.md, gotcha 3): always empty.
    if (result.result != receive_result::outcome::rejected) {
        return {result.http_status, "text/plain", ""};
    }
    return {result.http_status, "text/plain", result.reason};
}

send_request kannel_handler::build_send(const outgoing_message& message) const {
    form_fields fields{
        {"username", username_},
        {"password", password_},
        {"to", std::string(urn_path(message.urn))},
    };
    if (!address_.empty()) {
        fields.emplace_back("from", address_);
    }
    fields.emplace_back("text", message.text);
    fields.emplace_back("charset", "UTF-8");
    if (!is_gsm7(message.text)) {
        fields.emplace_back("coding", "2");
    }
    if (!dlr_url_.empty()) {
        // Kannel substitutes %d (the DLR type) when it calls back; our id says which message.
        std::string dlr = dlr_url_;
        dlr += dlr.find('?') == std::string::npos ? '?' : '&';
        dlr += "secret=" + percent_encode(url_secret_) + "&id=" + percent_encode(message.id) + "&type=%d";
        fields.emplace_back("dlr-mask", "31");
        fields.emplace_back("dlr-url", dlr);
    }
    send_request req;
    req.method = "GET";
    req.url = send_url_ + (send_url_.find('?') == std::string::npos ? "?" : "&") + encode_form(fields);
    return req;
}

send_result kannel_handler::parse_send_response(const outgoing_message&,
                                                const http_response& response) const {
    const int status = response.status;
    const std::string_view body = response.body;
    if (status >= 200 && status < 300) {
        // "0: Accepted for delivery", "3: Queued for later delivery", "Sent." (several recipients).
        if (starts_with(body, "0:") || starts_with(body, "3:") || starts_with(body, "Sent.")) {
            return {send_error::none, "", ""};
        }
        return {send_error::bad_response, "", "not a sendsms answer"};
    }
    if (status == 401 || (status == 403 && !starts_with(body, "Not routable"))) {
        return {send_error::config, "", "sendsms authorization failed"};
    }
    if (status == 403) {
        return {send_error::invalid_message, "", "not routable"};
    }
    if (status == 429) {
        return {send_error::throttled, "", "HTTP 429"};
    }
    if (status >= 500) {
        return {send_error::server_error, "", "HTTP " + std::to_string(status)};
    }
    if (status == 400 && starts_with(body, "Sender missing")) {
        return {send_error::config, "", "sender missing"};
    }
    if (status >= 400) {
        return {send_error::invalid_message, "", "HTTP " + std::to_string(status)};
    }
    return {send_error::bad_response, "", "HTTP " + std::to_string(status)};
}

}  // namespace flowgate::handlers
