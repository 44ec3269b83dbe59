#include "flows/template.hpp"

#include <cstdio>
#include <ctime>
#include <optional>
#include <vector>

#include "flows/calendar.hpp"
#include "flows/expression.hpp"

namespace flowgate::flows {

namespace {

bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_ident(char c) { return is_letter(c) || (c >= '0' && c <= '9') || c == '_'; }

// One piece of a template: literal text, a variable such as @results.city.category, or an
// expression such as @(upper(contact.name)).
struct piece {
    enum class kind { literal, variable, expression, unclosed };
    kind k = kind::literal;
    std::string text;  // the literal, or the source as written: "@results.x", "@(upper(x))", "@(x"
    std::vector<std::string> path;  // variable
    std::optional<expression> expr;
};

std::vector<piece> parse(std::string_view text) {
    std::vector<piece> out;
    std::string literal;
    const auto flush = [&] {
        if (!literal.empty()) {
            out.push_back({piece::kind::literal, std::move(literal), {}, std::nullopt});
            literal.clear();
        }
    };
    std::size_t i = 0;
    while (i < text.size()) {
        const char c = text[i];
        if (c != '@') {
            literal += c;
            ++i;
            continue;
        }
        if (i + 1 < text.size() && text[i + 1] == '@') {
            literal += '@';
            i += 2;
            continue;
        }
        if (i + 1 < text.size() && text[i + 1] == '(') {
            const std::size_t end = expression_end(text.substr(i + 2));
            flush();
            if (end == std::string_view::npos) {
                // RapidPro leaves it as written; check_template reports it.
                out.push_back({piece::kind::unclosed, std::string(text.substr(i)), {}, std::nullopt});
                literal += '@';
                ++i;
                continue;
            }
            out.push_back({piece::kind::expression,
                           std::string(text.substr(i, end + 3)),
                           {},
                           expression::parse(text.substr(i + 2, end))});
            i += end + 3;
            continue;
        }
        if (i + 1 >= text.size() || !is_letter(text[i + 1])) {
            // "a @ b", "@5pm" ...: the @ stays as it is.
            literal += '@';
            ++i;
            continue;
        }
        std::vector<std::string> path;
        std::size_t j = i + 1;
        for (;;) {
            const std::size_t start = j;
            while (j < text.size() && is_ident(text[j])) {
                ++j;
            }
            path.emplace_back(text.substr(start, j - start));
            // A dot continues the path only before another name: "@contact.name." ends a sentence.
            if (j + 1 < text.size() && text[j] == '.' && is_ident(text[j + 1])) {
                ++j;
                continue;
            }
            break;
        }
        flush();
        out.push_back(
            {piece::kind::variable, std::string(text.substr(i, j - i)), std::move(path), std::nullopt});
        i = j;
    }
    flush();
    return out;
}

bool is_root(const std::string& name) {
    return name == "contact" || name == "fields" || name == "results" || name == "input" || name == "run" ||
           name == "workshop";
}

bool is_valid_path(const std::vector<std::string>& p) {
    if (p.empty()) {
        return false;
    }
    const std::string& root = p[0];
    if (root == "contact") {
        return p.size() == 1 || (p.size() == 2 && (p[1] == "name" || p[1] == "language" || p[1] == "uuid")) ||
               (p.size() == 3 && p[1] == "fields");
    }
    if (root == "fields") {
        return p.size() == 2;
    }
    if (root == "results") {
        return p.size() == 2 || (p.size() == 3 && (p[2] == "value" || p[2] == "category" ||
                                                   p[2] == "category_localized" || p[2] == "input"));
    }
    if (root == "input") {
        return p.size() == 1 || (p.size() == 2 && p[1] == "text");
    }
    if (root == "workshop") {
        return p.size() == 2 &&
               (p[1] == "title" || p[1] == "place" || p[1] == "date" || p[1] == "time" || p[1] == "id");
    }
    if (root == "run") {
        return (p.size() == 2 && (p[1] == "flow" || p[1] == "created_on")) ||
               (p.size() == 3 && p[1] == "flow" && (p[2] == "name" || p[2] == "uuid" || p[2] == "id"));
    }
    return false;
}

std::string field(const contact_view& contact, const std::string& name) {
    if (const auto it = contact.fields.find(name); it != contact.fields.end()) {
        return it->second;
    }
    if (const auto it = contact.fields.find(result_key(name)); it != contact.fields.end()) {
        return it->second;
    }
    return {};
}

// RapidPro's datetime text: 2026-03-05T09:30:00.000Z (UTC).
std::string iso_utc(timestamp t) {
    const auto ms = to_millis(t);
    const auto day = std::chrono::floor<std::chrono::days>(
        std::chrono::sys_time<std::chrono::milliseconds>(t.time_since_epoch()));
    const std::chrono::year_month_day ymd{day};
    const std::chrono::hh_mm_ss hms{t.time_since_epoch() - day.time_since_epoch()};
    char buf[40];
    std::snprintf(buf,
                  sizeof buf,
                  "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ",
                  static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()),
                  static_cast<int>(hms.hours().count()),
                  static_cast<int>(hms.minutes().count()),
                  static_cast<int>(hms.seconds().count()),
                  static_cast<int>(((ms % 1000) + 1000) % 1000));
    return buf;
}

// The value of a valid path (see is_valid_path).
std::string resolve(const std::vector<std::string>& p, const template_context& ctx) {
    const std::string& root = p[0];
    if (root == "contact") {
        if (p.size() == 1 || p[1] == "name") {
            return ctx.contact.name;
        }
        if (p[1] == "language") {
            return ctx.contact.language;
        }
        if (p[1] == "uuid") {
            return ctx.contact.uuid;
        }
        return field(ctx.contact, p[2]);
    }
    if (root == "fields") {
        return field(ctx.contact, p[1]);
    }
    if (root == "results") {
        const auto it = ctx.run.results.find(result_key(p[1]));
        if (it == ctx.run.results.end()) {
            return {};
        }
        if (p.size() == 2 || p[2] == "value") {
            return it->second.value;
        }
        if (p[2] == "category" || p[2] == "category_localized") {
            return it->second.category;
        }
        return it->second.input;
    }
    if (root == "workshop") {
        const workshop* w = ctx.workshop;
        if (w == nullptr) {
            return {};
        }
        if (p[1] == "title") {
            return in_language(w->title, ctx.language);
        }
        if (p[1] == "place") {
            return in_language(w->place, ctx.language);
        }
        if (p[1] == "date") {
            return format_local_date(w->starts_at, w->timezone, ctx.language);
        }
        if (p[1] == "time") {
            return format_local_time(w->starts_at, w->timezone, ctx.language);
        }
        return w->id;
    }
    if (root == "run") {
        if (p[1] == "created_on") {
            return ctx.run.started_at == timestamp{} ? std::string() : iso_utc(ctx.run.started_at);
        }
        if (p.size() == 3 && (p[2] == "uuid" || p[2] == "id")) {
            return ctx.run.flow_id;
        }
        return ctx.flow_name.empty() ? ctx.run.flow_id : std::string(ctx.flow_name);
    }
    return std::string(ctx.input);
}

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

std::string joined(const std::vector<std::string>& path) {
    std::string out;
    for (const auto& part : path) {
        out += (out.empty() ? "" : ".") + part;
    }
    return out;
}

// Long expressions are cut in messages; the pointer already says which text it is.
std::string excerpt(const std::string& source) {
    constexpr std::size_t max = 60;
    if (source.size() <= max) {
        return source;
    }
    std::size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(source[cut]) & 0xC0) == 0x80) {
        --cut;
    }
    return source.substr(0, cut) + "...";
}

}  // namespace

flowgate::problems check_template(std::string_view text) {
    const std::string hint = " (write @@ for a literal @)";
    flowgate::problems out;
    for (const auto& p : parse(text)) {
        switch (p.k) {
            case piece::kind::literal:
                break;
            case piece::kind::variable:
                // "@word" alone is ordinary text ("see you @home"). "@word.more" renders as written
                // too (as in RapidPro: info@example.org), but it looks like a variable, so a typo
                // in one must not go out to contacts unnoticed: the author writes @@ to mean it.
                if (is_root(p.path[0]) ? !is_valid_path(p.path) : p.path.size() > 1) {
                    out.push_back({"", "unknown variable " + quoted(p.text) + hint});
                }
                break;
            case piece::kind::unclosed:
                out.push_back({"", quoted(excerpt(p.text)) + " has no closing \")\"" + hint});
                break;
            case piece::kind::expression: {
                const std::string where = excerpt(p.text) + ": ";
                for (const auto& path : p.expr->paths()) {
                    if (!is_valid_path(path)) {
                        out.push_back({"", where + "unknown variable " + quoted(joined(path))});
                    }
                }
                for (const auto& message : p.expr->problems()) {
                    out.push_back({"", where + message});
                }
                break;
            }
        }
    }
    return out;
}

std::string render(std::string_view text, const template_context& ctx, std::optional<std::string>* error) {
    std::string out;
    for (const auto& p : parse(text)) {
        switch (p.k) {
            case piece::kind::literal:
                out += p.text;
                break;
            case piece::kind::variable:
                if (!is_root(p.path[0])) {
                    out += p.text;
                } else if (is_valid_path(p.path)) {
                    out += resolve(p.path, ctx);
                }
                // A malformed variable under a known root renders as nothing, like a missing value.
                break;
            case piece::kind::unclosed:
                break;  // parse() has put the "@" into the next literal
            case piece::kind::expression: {
                const auto value =
                    p.expr->evaluate([&](const expression_path& path) -> std::optional<std::string> {
                        if (!is_valid_path(path)) {
                            return std::nullopt;
                        }
                        return resolve(path, ctx);
                    });
                if (!value && error != nullptr && !*error) {
                    *error = "could not evaluate " + excerpt(p.text);
                }
                out += value.value_or("");
                break;
            }
        }
    }
    return out;
}

}  // namespace flowgate::flows
