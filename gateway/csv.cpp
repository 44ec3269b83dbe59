#include "gateway/csv.hpp"

namespace flowgate::gateway::csv {

document parse(std::string_view text, std::size_t max_records) {
    document out;
    if (text.substr(0, 3) == "\xEF\xBB\xBF") {
        text.remove_prefix(3);
    }
    std::size_t line = 1;
    std::size_t i = 0;
    const std::size_t n = text.size();
    // A record break: CRLF, LF or a lone CR. Returns its length at `at` (0: none).
    const auto line_break = [&](std::size_t at) -> std::size_t {
        if (at >= n) {
            return 0;
        }
        if (text[at] == '\r') {
            return at + 1 < n && text[at + 1] == '\n' ? 2 : 1;
        }
        return text[at] == '\n' ? 1 : 0;
    };
    while (i < n) {
        record rec;
        rec.line = line;
        for (;;) {  // one field per turn
            std::string field;
            if (i < n && text[i] == '"') {
                const std::size_t opened_on = line;
                ++i;
                for (;;) {
                    if (i >= n) {
                        out.error = "line " + std::to_string(opened_on) + ": a quoted field is never closed";
                        return out;
                    }
                    if (text[i] == '"') {
                        if (i + 1 < n && text[i + 1] == '"') {
                            field += '"';
                            i += 2;
                            continue;
                        }
                        ++i;
                        break;
                    }
                    if (const std::size_t b = line_break(i); b != 0) {
                        field.append(text.substr(i, b));
                        i += b;
                        ++line;
                        continue;
                    }
                    field += text[i++];
                }
                if (i < n && text[i] != ',' && line_break(i) == 0) {
                    out.error = "line " + std::to_string(line) +
                                ": a closing quote must be followed by a comma or the end of the line "
                                "(write a quote inside a quoted field as \"\")";
                    return out;
                }
            } else {
                // Unquoted: up to the next comma or line break. A stray quote is kept as it is.
                while (i < n && text[i] != ',' && line_break(i) == 0) {
                    field += text[i++];
                }
            }
            rec.fields.push_back(std::move(field));
            if (i < n && text[i] == ',') {
                ++i;
                continue;
            }
            break;  // a line break or the end
        }
        if (const std::size_t b = line_break(i); b != 0) {
            i += b;
            ++line;
        }
        const bool blank = rec.fields.size() == 1 && rec.fields.front().empty();
        if (!blank) {
            if (out.records.size() == max_records) {
                out.truncated = true;
                return out;
            }
            out.records.push_back(std::move(rec));
        }
    }
    return out;
}

}  // namespace flowgate::gateway::csv
