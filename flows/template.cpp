#include "flows/template.hpp"

#include <optional>
#include <vector>

namespace flowgate::flows {

namespace {

bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_ident(char c) { return is_letter(c) || (c >= '0' && c <= '9') || c == '_'; }

// One piece of a template: literal text, or a variable such as @results.city.category.
struct piece {
    std::string literal;
    std::vector<std::string> path;  // empty: a literal
    std::string source;             // the variable as written, "@results.city.category"
};

std::vector<piece> parse(std::string_view text) {
    std::vector<piece> out;
    std::string literal;
    const auto flush = [&] {
        if (!literal.empty()) {
            out.push_back({std::move(literal), {}, {}});
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
        if (i + 1 >= text.size() || !is_letter(text[i + 1])) {
            // "a @ b", "@(" ...: the @ stays as it is (check_template reports "@(").
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
        out.push_back({{}, std::move(path), std::string(text.substr(i, j - i))});
        i = j;
    }
    flush();
    return out;
}

bool is_root(const std::string& name) {
    return name == "contact" || name == "fields" || name == "results" || name == "input";
}

bool is_valid_path(const std::vector<std::string>& p) {
    const std::string& root = p[0];
    if (root == "contact") {
        return p.size() == 1 || (p.size() == 2 && (p[1] == "name" || p[1] == "language" || p[1] == "uuid")) ||
               (p.size() == 3 && p[1] == "fields");
    }
    if (root == "fields") {
        return p.size() == 2;
    }
    if (root == "results") {
        return p.size() == 2 || (p.size() == 3 && (p[2] == "value" || p[2] == "category" || p[2] == "input"));
    }
    if (root == "input") {
        return p.size() == 1 || (p.size() == 2 && p[1] == "text");
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
        if (p[2] == "category") {
            return it->second.category;
        }
        return it->second.input;
    }
    return std::string(ctx.input);
}

}  // namespace

flowgate::problems check_template(std::string_view text) {
    flowgate::problems out;
    for (const auto& p : parse(text)) {
        if (p.path.empty()) {
            continue;
        }
        // "@word" alone is ordinary text ("see you @home"); "@word.more" looks like a variable, so
        // a typo in one must not go out to contacts as it is.
        if (is_root(p.path[0]) ? !is_valid_path(p.path) : p.path.size() > 1) {
            out.push_back({"", "unknown variable \"" + p.source + "\" (write @@ for a literal @)"});
        }
    }
    for (std::size_t i = 0; i + 1 < text.size(); ++i) {
        if (text[i] == '@' && text[i + 1] == '@') {
            ++i;
        } else if (text[i] == '@' && text[i + 1] == '(') {
            out.push_back({"", "expressions like \"@(...)\" are not supported (write @@ for a literal @)"});
        }
    }
    return out;
}

std::string render(std::string_view text, const template_context& ctx) {
    std::string out;
    for (const auto& p : parse(text)) {
        if (p.path.empty()) {
            out += p.literal;
        } else if (!is_root(p.path[0])) {
            out += p.source;
        } else if (is_valid_path(p.path)) {
            out += resolve(p.path, ctx);
        }
        // A malformed variable under a known root renders as nothing, like a missing value.
    }
    return out;
}

}  // namespace flowgate::flows
