#include "handlers/form.hpp"

namespace flowgate::handlers {

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        // The run of characters that stand for themselves, copied at once.
        std::size_t j = i;
        while (j < text.size() && text[j] != '%' && !(plus_is_space && text[j] == '+')) {
            ++j;
        }
        out.append(text.data() + i, j - i);
        if (j == text.size()) {
            break;
        }
        if (text[j] == '+') {
            out += ' ';
            i = j + 1;
            continue;
        }
        if (j + 2 >= text.size()) {
            return std::nullopt;
        }
        const int hi = hex_value(text[j + 1]);
        const int lo = hex_value(text[j + 2]);
        if (hi < 0 || lo < 0) {
            return std::nullopt;
        }
        out += static_cast<char>(hi * 16 + lo);
        i = j + 3;
    }
    return out;
}

std::optional<form_fields> decode_form(std::string_view text) {
    form_fields fields;
    while (!text.empty()) {
        const auto amp = text.find('&');
        const std::string_view pair = text.substr(0, amp);
        text = amp == std::string_view::npos ? std::string_view{} : text.substr(amp + 1);
        if (pair.empty()) {
            continue;
        }
        const auto eq = pair.find('=');
        auto key = percent_decode(pair.substr(0, eq), true);
        auto value =
            percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
        if (!key || !value) {
            return std::nullopt;
        }
        fields.emplace_back(std::move(*key), std::move(*value));
    }
    return fields;
}

const std::string* find_field(const form_fields& fields, std::string_view key) {
    for (const auto& [k, v] : fields) {
        if (k == key) {
            return &v;
        }
    }
    return nullptr;
}

namespace {
// percent_encode, appended to `out`.
void append_percent_encoded(std::string& out, std::string_view text) {
    static constexpr char digits[] = "0123456789ABCDEF";
    // Written in place: an Arabic text triples in size, and growing the string a character at a
    // time reallocated it again and again.
    const std::size_t start = out.size();
    out.resize(start + text.size() * 3);
    char* p = out.data() + start;
    for (unsigned char c : text) {
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
            c == '_' || c == '.' || c == '~') {
            *p++ = static_cast<char>(c);
        } else {
            *p++ = '%';
            *p++ = digits[c >> 4];
            *p++ = digits[c & 0x0f];
        }
    }
    out.resize(static_cast<std::size_t>(p - out.data()));
}
}  // namespace

std::string percent_encode(std::string_view text) {
    std::string out;
    append_percent_encoded(out, text);
    return out;
}

std::string encode_form(const form_fields& fields) {
    std::size_t most = 0;
    for (const auto& [k, v] : fields) {
        most += (k.size() + v.size()) * 3 + 2;
    }
    std::string out;
    out.reserve(most);
    for (const auto& [k, v] : fields) {
        if (!out.empty()) {
            out += '&';
        }
        append_percent_encoded(out, k);
        out += '=';
        append_percent_encoded(out, v);
    }
    return out;
}

}  // namespace flowgate::handlers
