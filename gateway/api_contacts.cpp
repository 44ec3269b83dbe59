// Contacts: search, one contact, CSV import, erasure (docs/api.md, "Contacts").

#include <utility>

#include <boost/beast/http.hpp>
#include <memory>
#include <variant>

#include "gateway/api_routes.hpp"
#include "gateway/clock.hpp"
#include "gateway/csv.hpp"
#include "gateway/responses.hpp"
#include "handlers/handler.hpp"
#include "handlers/urn.hpp"

namespace flowgate::gateway::api {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using json = nlohmann::json;

namespace {

// One import is one transaction: its size is bounded here and by the body limit (routes.cpp).
constexpr std::size_t max_import_rows = 50000;
constexpr std::size_t max_name_chars = 128;
constexpr std::size_t max_group_chars = 64;
constexpr std::size_t max_field_chars = 640;

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

// Characters, not bytes (the text is valid UTF-8).
std::size_t char_count(std::string_view s) {
    std::size_t n = 0;
    for (const unsigned char c : s) {
        n += (c & 0xC0) != 0x80 ? 1 : 0;
    }
    return n;
}

bool has_control(std::string_view s, bool line_breaks_allowed) {
    for (const unsigned char c : s) {
        if ((c < 0x20 || c == 0x7f) && !(line_breaks_allowed && (c == '\n' || c == '\r'))) {
            return true;
        }
    }
    return false;
}

// "" when `text` will do as a name, a group's name or (with line breaks) a field's value, else
// why not.
std::string label_problem(std::string_view text, std::size_t max_chars, bool line_breaks_allowed = false) {
    if (has_control(text, line_breaks_allowed)) {
        return line_breaks_allowed ? "has a control character" : "has a line break or a control character";
    }
    if (char_count(text) > max_chars) {
        return "is longer than " + std::to_string(max_chars) + " characters";
    }
    return {};
}

// A contact field's key as flows write them ("a-z, 0-9 and _").
bool is_field_key(std::string_view key) { return !key.empty() && flows::result_key(key) == key; }

json contact_json(const contact_details& d) {
    const auto& c = d.contact;
    json urns = json::array();
    for (const auto& u : d.urns) {
        urns.push_back(handlers::mask_urn(u));
    }
    json groups = json::array();
    for (const auto& g : c.groups) {
        groups.push_back(g.name);
    }
    return {{"uuid", c.uuid},
            {"name", c.name},
            {"language", c.language},
            {"stopped", c.stopped},
            {"urns", urns},
            {"groups", groups},
            {"fields", c.fields},
            {"created_at", iso_utc(d.created_at)}};
}

// What staff type into the search box, as the inbound URN it would be: a local number with the
// programme's country, spaces, Arabic-Indic digits, "tel:..." or "whatsapp:..." (nullopt if none).
std::optional<std::string> search_urn(std::string_view text, const config::config& cfg) {
    text = trim(text);
    if (text.rfind("whatsapp:", 0) == 0) {
        // WhatsApp's ids are international numbers without "+": written with one, or spaced, they
        // are still that number.
        std::string_view path = trim(text.substr(9));
        if (!path.empty() && path.front() == '+') {
            path.remove_prefix(1);
        }
        if (const auto phone = handlers::normalize_phone("+" + std::string(path), "")) {
            return "whatsapp:" + phone->substr(1);
        }
    }
    return handlers::parse_urn(text, cfg.default_country);
}

// A non-negative whole number (a paging cursor).
std::optional<std::int64_t> whole_number(std::string_view s) {
    if (s.empty() || s.size() > 18) {
        return std::nullopt;
    }
    std::int64_t n = 0;
    for (const char ch : s) {
        if (ch < '0' || ch > '9') {
            return std::nullopt;
        }
        n = n * 10 + (ch - '0');
    }
    return n;
}

asio::awaitable<http_response> list_contacts(const context& ctx, const call& c) {
    contact_query q;
    if (const auto* v = c.query_value("urn")) {
        const auto urn = search_urn(*v, ctx.cfg);
        if (!urn) {
            const auto colon = v->find(':');
            const std::string scheme =
                colon == std::string::npos ? "tel" : std::string(trim(v->substr(0, colon)));
            co_return bad_field("/urn",
                                scheme == "tel" || scheme == "whatsapp" ? "not a phone number" : "not a URN");
        }
        q.urns.push_back(*urn);
        if (const auto sibling = handlers::same_number_urn(*urn)) {
            q.urns.push_back(*sibling);
        }
    }
    if (const auto* v = c.query_value("group")) {
        const auto group = trim(*v);
        if (group.empty() || !label_problem(group, max_group_chars).empty()) {
            co_return bad_field("/group", "must be a group's name");
        }
        q.group = std::string(group);
    }
    if (const auto* v = c.query_value("field")) {
        const auto colon = v->find(':');
        if (colon == std::string::npos || !is_field_key(v->substr(0, colon))) {
            co_return bad_field("/field", "must be KEY:VALUE, with a key of a-z, 0-9 and _");
        }
        q.field = std::pair(v->substr(0, colon), std::string(trim(v->substr(colon + 1))));
    }
    if (const auto* v = c.query_value("stopped")) {
        if (*v != "true" && *v != "false") {
            co_return bad_field("/stopped", "must be true or false");
        }
        q.stopped = *v == "true";
    }
    if (const auto* v = c.query_value("q")) {
        const auto part = trim(*v);
        if (!label_problem(part, max_name_chars).empty()) {
            co_return bad_field("/q", "must be part of a name");
        }
        q.name_part = std::string(part);
    }
    const auto limit = query_limit(c, "limit", 50, 500);
    if (!limit) {
        co_return bad_field("/limit", "must be a whole number from 1 to 500");
    }
    if (const auto* v = c.query_value("after")) {
        const auto after = whole_number(*v);
        if (!after) {
            co_return bad_field("/after", "must be a next_after from an earlier page");
        }
        q.after = *after;
    }
    // One more than asked tells whether there is a next page.
    q.limit = static_cast<std::size_t>(*limit) + 1;
    auto found = ctx.st.find_contacts(q);
    const bool more = found.size() > static_cast<std::size_t>(*limit);
    if (more) {
        found.pop_back();
    }
    json out = json::array();
    for (const auto& d : found) {
        out.push_back(contact_json(d));
    }
    json body = {{"contacts", out}};
    if (more) {
        body["next_after"] = std::to_string(found.back().contact.id);
    }
    co_return json_response(http::status::ok, body);
}

asio::awaitable<http_response> get_contact(const context& ctx, const call& c) {
    const auto d = ctx.st.find_contact(c.param(0));
    if (!d) {
        co_return error_response(http::status::not_found, "no such contact");
    }
    json body = contact_json(*d);
    json regs = json::array();
    for (const auto& [workshop, status] : d->registrations) {
        regs.push_back({{"workshop", workshop}, {"status", flows::to_string(status)}});
    }
    body["registrations"] = regs;
    co_return json_response(http::status::ok, body);
}

// --- import ---

enum class column_kind { urn, phone, name, language, groups, field };

struct column {
    column_kind kind = column_kind::name;
    std::string header;  // as written, for messages
    std::string key;     // a field's
};

struct import_row {
    std::size_t line = 0;
    std::string urn;
    std::string name;
    std::string language;
    std::vector<std::string> groups;
    std::vector<std::pair<std::string, std::string>> fields;
};

// The URN scheme a channel type reaches contacts on.
std::string_view scheme_of(std::string_view channel_type) {
    if (channel_type == "telegram") {
        return "telegram";
    }
    if (channel_type == "whatsapp") {
        return "whatsapp";
    }
    if (channel_type == "messenger") {
        return "facebook";
    }
    return "tel";  // the SMS providers and the external channel
}

// The channel an imported contact is reached on: the first configured one for the URN's scheme.
std::string channel_for(const std::string& urn, const config::config& cfg) {
    const std::string_view scheme = std::string_view(urn).substr(0, urn.find(':'));
    for (const auto& ch : cfg.channels) {
        if (scheme_of(ch.settings.type) == scheme) {
            return ch.settings.id;
        }
    }
    return cfg.channels.empty() ? std::string() : cfg.channels.front().settings.id;
}

// The header row's columns, or the 400 naming the one that is wrong.
std::variant<std::vector<column>, http_response> read_header(const std::vector<std::string>& cells) {
    std::vector<column> cols;
    bool has_urn = false;
    for (std::size_t i = 0; i < cells.size(); ++i) {
        const std::string header(trim(cells[i]));
        const std::string lower = ascii_lower(header);
        const std::string pointer = "/" + pointer_token(header);
        column col;
        col.header = header;
        if (header.empty()) {
            return bad_field("/", "column " + std::to_string(i + 1) + " of the header has no name");
        } else if (lower == "urn") {
            col.kind = column_kind::urn;
        } else if (lower == "phone") {
            col.kind = column_kind::phone;
        } else if (lower == "name") {
            col.kind = column_kind::name;
        } else if (lower == "language") {
            col.kind = column_kind::language;
        } else if (lower == "groups") {
            col.kind = column_kind::groups;
        } else if (lower.rfind("field:", 0) == 0) {
            col.kind = column_kind::field;
            col.key = std::string(trim(std::string_view(header).substr(6)));
            if (!is_field_key(col.key)) {
                return bad_field(pointer, "a field key uses only a-z, 0-9 and \"_\"");
            }
        } else {
            return bad_field(pointer,
                             "unknown column (the columns are urn or phone, name, language, groups and "
                             "field:KEY)");
        }
        for (const auto& other : cols) {
            if (other.kind == col.kind && other.key == col.key) {
                return bad_field(pointer, "the column appears twice");
            }
        }
        if (col.kind == column_kind::urn || col.kind == column_kind::phone) {
            if (has_urn) {
                return bad_field(pointer, "give either urn or phone, not both");
            }
            has_urn = true;
        }
        cols.push_back(std::move(col));
    }
    if (!has_urn) {
        return bad_field("/phone", "the header needs a urn or phone column");
    }
    return cols;
}

// One data row, or why not: "/phone: not a phone number".
std::variant<import_row, std::string> read_row(const csv::record& rec,
                                               const std::vector<column>& cols,
                                               const config::config& cfg) {
    if (rec.fields.size() > cols.size()) {
        return "/: more cells than the header has columns";
    }
    import_row row;
    row.line = rec.line;
    for (std::size_t i = 0; i < cols.size(); ++i) {
        const auto& col = cols[i];
        const std::string_view cell = i < rec.fields.size() ? trim(rec.fields[i]) : std::string_view{};
        const std::string pointer = "/" + pointer_token(col.header);
        if (cell.empty()) {
            if (col.kind == column_kind::urn || col.kind == column_kind::phone) {
                return pointer + ": missing";
            }
            continue;  // an empty cell changes nothing
        }
        switch (col.kind) {
            case column_kind::phone: {
                const auto phone = handlers::normalize_phone(cell, cfg.default_country);
                if (!phone) {
                    return pointer + ": not a phone number";
                }
                row.urn = "tel:" + *phone;
                break;
            }
            case column_kind::urn: {
                const auto urn = search_urn(cell, cfg);
                if (!urn) {
                    return pointer + ": not a phone number or URN";
                }
                row.urn = *urn;
                break;
            }
            case column_kind::name:
                if (const auto why = label_problem(cell, max_name_chars); !why.empty()) {
                    return pointer + ": " + why;
                }
                row.name = std::string(cell);
                break;
            case column_kind::language: {
                // ISO 639-1 as the config writes them ("ar") or ISO 639-3 as RapidPro does ("ara").
                const auto lang = flows::config_language(ascii_lower(cell), cfg.languages);
                if (!lang) {
                    std::string known;
                    for (const auto& l : cfg.languages) {
                        known += (known.empty() ? "" : ", ") + l;
                    }
                    return pointer + ": not one of the programme's languages (" + known + ")";
                }
                row.language = *lang;
                break;
            }
            case column_kind::groups: {
                std::string_view rest = cell;
                while (!rest.empty()) {
                    const auto semi = rest.find(';');
                    const auto name = trim(rest.substr(0, semi));
                    rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
                    if (name.empty()) {
                        continue;
                    }
                    if (const auto why = label_problem(name, max_group_chars); !why.empty()) {
                        return pointer + ": a group name " + why;
                    }
                    row.groups.emplace_back(name);
                }
                break;
            }
            case column_kind::field:
                if (const auto why = label_problem(cell, max_field_chars, true); !why.empty()) {
                    return pointer + ": " + why;
                }
                row.fields.emplace_back(col.key, std::string(cell));
                break;
        }
    }
    return row;
}

// "text/csv" or "text/csv; charset=utf-8" (other parameters, such as header=present, are fine).
bool is_utf8_csv(boost::beast::string_view header) {
    std::string_view rest(header.data(), header.size());
    const auto next = [&rest] {
        const auto semi = rest.find(';');
        const std::string part = ascii_lower(trim(rest.substr(0, semi)));
        rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
        return part;
    };
    if (next() != "text/csv") {
        return false;
    }
    while (!rest.empty()) {
        const std::string param = next();
        if (param.rfind("charset=", 0) == 0) {
            std::string_view value = std::string_view(param).substr(8);
            if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
                value = value.substr(1, value.size() - 2);
            }
            if (value != "utf-8" && value != "utf8") {
                return false;
            }
        }
    }
    return true;
}

struct import_counts {
    std::int64_t created = 0;
    std::int64_t updated = 0;
};

asio::awaitable<http_response> import_contacts(const context& ctx, const call& c) {
    if (!is_utf8_csv(c.request[http::field::content_type])) {
        co_return error_response(http::status::unsupported_media_type, "the body must be text/csv in UTF-8");
    }
    std::string channel_id;
    if (const auto* v = c.query_value("channel")) {
        if (ctx.cfg.find_channel(*v) == nullptr) {
            co_return bad_field("/channel", "no such channel");
        }
        channel_id = *v;
    }
    // Reading and checking every row (numbers through libphonenumber) is the slow part: not on an
    // I/O thread.
    struct checked {
        std::optional<http_response> refused;
        std::shared_ptr<std::vector<import_row>> rows = std::make_shared<std::vector<import_row>>();
        json errors = json::array();
    };
    const auto& config = ctx.cfg;
    auto check = co_await on_worker([&c, &config]() -> checked {
        const std::string& body = c.request.body();
        if (!handlers::is_valid_utf8(body)) {
            return {error_response(http::status::bad_request, "the body must be UTF-8 text")};
        }
        const auto doc = csv::parse(body, max_import_rows + 1);
        if (doc.truncated) {
            return {error_response(http::status::payload_too_large,
                                   "at most " + std::to_string(max_import_rows) + " rows in one import")};
        }
        if (doc.error) {
            return {error_response(http::status::bad_request, *doc.error)};
        }
        if (doc.records.empty()) {
            return {bad_field("/phone", "the CSV has no header row")};
        }
        auto header = read_header(doc.records.front().fields);
        if (auto* error = std::get_if<http_response>(&header)) {
            return {std::move(*error)};
        }
        const auto& cols = std::get<std::vector<column>>(header);
        checked out;
        for (std::size_t i = 1; i < doc.records.size(); ++i) {
            auto row = read_row(doc.records[i], cols, config);
            if (auto* why = std::get_if<std::string>(&row)) {
                out.errors.push_back({{"row", doc.records[i].line}, {"error", std::move(*why)}});
            } else {
                out.rows->push_back(std::move(std::get<import_row>(row)));
            }
        }
        return out;
    });
    if (check.refused) {
        co_return std::move(*check.refused);
    }
    auto rows = check.rows;
    json errors = std::move(check.errors);
    const auto now = gateway::now();
    auto counts = std::make_shared<import_counts>();
    const auto& cfg = ctx.cfg;
    // One job, one transaction: every good row is imported, or none (a 2xx means committed).
    writer::job job = [rows, counts, now, channel_id, &cfg, who = c.who](write_tx& tx) {
        *counts = {};
        for (const auto& row : *rows) {
            const bool known = tx.find_contact(row.urn).has_value();
            // A new contact from the URN of an erased contact who had opted out starts opted out;
            // an import never changes anyone's opt-out.
            const auto contact =
                tx.upsert_contact(row.urn, channel_id.empty() ? channel_for(row.urn, cfg) : channel_id, now);
            ++(known ? counts->updated : counts->created);
            if (!row.name.empty()) {
                tx.set_contact_name(contact.id, row.name);
            }
            if (!row.language.empty()) {
                tx.set_contact_language(contact.id, row.language, now);
            }
            for (const auto& g : row.groups) {
                tx.add_contact_group(contact.id, flows::group_ref{"", g});
            }
            for (const auto& [key, value] : row.fields) {
                tx.set_contact_field(contact.id, key, value);
            }
        }
        audit(tx, who, "contacts.import", "", counts->created + counts->updated, now);
    };
    const write_status st = co_await ctx.wr.write(std::move(job));
    if (st != write_status::committed) {
        co_return error_response(http::status::service_unavailable, "store unavailable");
    }
    co_return json_response(http::status::ok,
                            {{"created", counts->created},
                             {"updated", counts->updated},
                             {"rejected", errors.size()},
                             {"errors", errors}});
}

asio::awaitable<http_response> erase_contact(const context& ctx, const call& c) {
    const auto now = gateway::now();
    auto missing = std::make_shared<bool>(false);
    const auto& in = ctx.in;
    writer::job job = [&in, uuid = c.param(0), missing, now, who = c.who](write_tx& tx) {
        const auto id = tx.contact_id(uuid);
        if (!id) {
            *missing = true;
            return;
        }
        in.erase_contact(tx, *id, now);
        audit(tx, who, "contacts.erase", uuid, 1, now);
    };
    // The checkpoint takes the erased rows' old pages out of the log before the 204.
    const write_status st = co_await ctx.wr.write(std::move(job), writer::then::checkpoint);
    if (st != write_status::committed) {
        co_return error_response(http::status::service_unavailable, "store unavailable");
    }
    if (*missing) {
        co_return error_response(http::status::not_found, "no such contact");
    }
    ctx.outbound_queued();  // a freed place may have gone to someone waiting
    http_response res{http::status::no_content, 11};
    res.set(http::field::server, "flowgate");
    res.prepare_payload();
    co_return res;
}

const route routes[] = {
    {"GET",
     "/api/v1/contacts",
     api_role::staff,
     "Contacts matching every filter given, oldest first; URNs masked",
     list_contacts,
     {{"urn",
       "a number or URN as typed (\"0791234567\", \"+962 79 123 4567\", \"tel:+962791234567\", "
       "\"whatsapp:962791234567\"), normalised like an inbound one; matches it under SMS and WhatsApp"},
      {"group", "in the group of this name"},
      {"field", "KEY:VALUE: the contact field KEY has exactly VALUE"},
      {"stopped", "true: only contacts who opted out; false: only those who did not"},
      {"q", "part of the name"},
      {"limit", "contacts per page, 1 to 500 (50)"},
      {"after", "the next_after of the page before (paging)"}}},
    {"GET",
     "/api/v1/contacts/{uuid}",
     api_role::staff,
     "One contact, with their workshop registrations; URNs masked",
     get_contact},
    {"POST",
     "/api/v1/contacts/import",
     api_role::staff,
     "Creates or updates contacts from CSV in one transaction; bad rows are reported by line, good "
     "ones imported; opt-outs never change",
     import_contacts,
     {{"channel", "the channel new contacts are reached on (default: the first for their URN's scheme)"}},
     "CSV: UTF-8, a header row of urn or phone, name, language, groups (\";\"-separated), field:KEY; "
     "at most 50000 rows and 8 MiB"},
    {"DELETE",
     "/api/v1/contacts/{uuid}",
     api_role::admin,
     "Erases a contact and everything about them (204); a contact who opted out stays opted out",
     erase_contact,
     {},
     nullptr,
     "application/json",
     "204"},
};

}  // namespace

std::optional<std::string> urn_as_typed(std::string_view text, const config::config& cfg) {
    return search_urn(text, cfg);
}

std::span<const route> contact_routes() { return routes; }

}  // namespace flowgate::gateway::api
