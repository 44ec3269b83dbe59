#include "handlers/handler.hpp"

#include <algorithm>

#include "handlers/crypto.hpp"
#include "handlers/form.hpp"

namespace flowgate::handlers {

namespace {

// Length in bytes of the UTF-8 sequence at `i` and its length in UTF-16 units; an invalid byte is a
// sequence of its own.
std::pair<std::size_t, std::size_t> sequence_at(std::string_view text, std::size_t i) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t n = c < 0x80             ? 1
                    : (c & 0xe0) == 0xc0 ? 2
                    : (c & 0xf0) == 0xe0 ? 3
                    : (c & 0xf8) == 0xf0 ? 4
                                         : 0;
    if (n == 0 || i + n > text.size() || !is_valid_utf8(text.substr(i, n))) {
        return {1, 1};
    }
    return {n, n == 4 ? 2 : 1};
}

bool iequals(std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
        return ascii_lower(x) == ascii_lower(y);
    });
}
}  // namespace

bool is_valid_utf8(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        std::size_t n = 0;
        char32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + n >= text.size()) {
            return false;
        }
        for (std::size_t k = 1; k <= n; ++k) {
            const auto cc = static_cast<unsigned char>(text[i + k]);
            if ((cc & 0xc0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (cc & 0x3f);
        }
        // Overlong forms, surrogates and values past U+10FFFF are invalid.
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        i += n + 1;
    }
    return true;
}

std::string_view find_header(const std::vector<http_header>& headers, std::string_view name) {
    for (const auto& h : headers) {
        if (iequals(h.name, name)) {
            return h.value;
        }
    }
    return {};
}

std::string raw_request::content_type() const {
    std::string_view v = header("content-type");
    v = v.substr(0, v.find(';'));
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) {
        v.remove_suffix(1);
    }
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
        v.remove_prefix(1);
    }
    return ascii_lower(v);
}

bool is_provider_id(std::string_view id) {
    return !id.empty() && id.size() <= max_provider_id_length && is_valid_utf8(id);
}

receive_result receive_result::accept(std::vector<event> events) {
    return {outcome::accepted, 200, "", std::move(events)};
}
receive_result receive_result::ignore(std::string reason) {
    return {outcome::ignored, 200, std::move(reason), {}};
}
receive_result receive_result::reject(int http_status, std::string reason) {
    return {outcome::rejected, http_status, std::move(reason), {}};
}

bool has_url_secret(const raw_request& request, std::string_view expected) {
    if (expected.empty()) {
        return false;
    }
    const auto query = decode_form(request.query);
    if (!query) {
        return false;
    }
    const std::string* given = find_field(*query, "secret");
    return given != nullptr && equal_constant_time(*given, expected);
}

std::optional<std::chrono::seconds> retry_after_header(const std::vector<http_header>& headers) {
    const std::string_view v = find_header(headers, "Retry-After");
    if (v.empty() || v.size() > 9 ||
        !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::nullopt;
    }
    return std::min<std::chrono::seconds>(std::chrono::seconds(std::stol(std::string(v))),
                                          std::chrono::hours(24));
}

std::vector<std::string> split_text(std::string_view text, std::size_t max_chars) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t i = start;
        std::size_t units = 0;
        std::size_t after_space = 0;  // end of the last space or line break that fits, 0 if none
        while (i < text.size()) {
            const auto [bytes, cost] = sequence_at(text, i);
            // Every part holds at least one character, so a tiny limit still makes progress.
            if (units + cost > max_chars && i > start) {
                break;
            }
            units += cost;
            i += bytes;
            if (bytes == 1 && (text[i - 1] == ' ' || text[i - 1] == '\n')) {
                after_space = i;
            }
        }
        const std::size_t end = i < text.size() && after_space > start ? after_space : i;
        parts.emplace_back(text.substr(start, end - start));
        start = end;
    }
    return parts;
}

const char* to_string(send_error e) {
    switch (e) {
        case send_error::none:
            return "none";
        case send_error::config:
            return "config";
        case send_error::invalid_message:
            return "invalid_message";
        case send_error::connection_failed:
            return "connection_failed";
        case send_error::throttled:
            return "throttled";
        case send_error::server_error:
            return "server_error";
        case send_error::bad_response:
            return "bad_response";
        case send_error::contact_stopped:
            return "contact_stopped";
    }
    return "unknown";
}

bool is_retryable(send_error e) {
    return e == send_error::connection_failed || e == send_error::throttled || e == send_error::server_error;
}

std::string channel_settings::get(std::string_view key) const {
    const auto it = values.find(std::string(key));
    return it == values.end() ? std::string{} : it->second;
}

std::string channel_settings::url(std::string_view key, std::string_view fallback) const {
    std::string out = get(key);
    if (out.empty()) {
        out = fallback;
    }
    while (!out.empty() && out.back() == '/') {
        out.pop_back();
    }
    return out;
}

}  // namespace flowgate::handlers
