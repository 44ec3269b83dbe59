#include "gateway/broadcasts.hpp"

#include <unicode/strenum.h>
#include <unicode/timezone.h>

#include <algorithm>
#include <memory>
#include <set>

#include "flows/calendar.hpp"
#include "flows/keywords.hpp"
#include "flows/segments.hpp"
#include "gateway/api_routes.hpp"
#include "handlers/crypto.hpp"
#include "handlers/handler.hpp"
#include "handlers/registry.hpp"
#include "handlers/urn.hpp"

namespace flowgate::gateway::broadcasts {

using json = nlohmann::json;

namespace {

constexpr const char* kinds_text = "urns, group, workshop, flow, all";

// The key's value, and whether the key is there.
const json* member(const json& obj, std::string_view key) {
    const auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
}

std::optional<flows::lang_text> parse_text(const json* text, const config::config& cfg, problems& out) {
    const std::string& base = cfg.languages.front();
    if (text == nullptr) {
        out.push_back({"/text", "is required"});
        return std::nullopt;
    }
    if (text->is_string()) {
        if (text->get_ref<const std::string&>().empty()) {
            out.push_back({"/text", "must not be empty"});
            return std::nullopt;
        }
        return flows::lang_text{{base, text->get<std::string>()}};
    }
    if (!text->is_object()) {
        out.push_back({"/text",
                       "must be a text in the base language, or an object of texts by language such as "
                       "{\"en\": \"...\", \"ar\": \"...\"}"});
        return std::nullopt;
    }
    flows::lang_text texts;
    bool ok = true;
    for (const auto& [lang, t] : text->items()) {
        const std::string p = "/text/" + pointer_token(lang);
        if (std::find(cfg.languages.begin(), cfg.languages.end(), lang) == cfg.languages.end()) {
            out.push_back({p, "is not one of the config's languages"});
            ok = false;
        } else if (!t.is_string() || t.get_ref<const std::string&>().empty()) {
            out.push_back({p, "must be a non-empty string"});
            ok = false;
        } else {
            texts[lang] = t.get<std::string>();
        }
    }
    if (ok && texts.count(base) == 0) {
        out.push_back({"/text", "give the base language's text (" + base + ")"});
        ok = false;
    }
    return ok ? std::optional(std::move(texts)) : std::nullopt;
}

bool parse_audience(const json* a, const config::config& cfg, request& r, problems& out) {
    if (a == nullptr) {
        out.push_back({"/audience", "is required"});
        return false;
    }
    if (!a->is_object()) {
        out.push_back({"/audience", std::string("must be an object with one of ") + kinds_text});
        return false;
    }
    int kinds = 0;
    for (const char* k : {"urns", "group", "workshop", "flow", "all"}) {
        kinds += a->contains(k) ? 1 : 0;
    }
    if (kinds != 1) {
        out.push_back({"/audience", std::string("give exactly one of ") + kinds_text});
        return false;
    }
    for (const auto& [key, value] : a->items()) {
        static const std::set<std::string> known = {
            "urns", "group", "workshop", "status", "flow", "non_responders", "all"};
        if (known.count(key) == 0) {
            out.push_back({"/audience/" + pointer_token(key), "unknown key"});
            return false;
        }
    }
    if (a->contains("status") && !a->contains("workshop")) {
        out.push_back({"/audience/status", "goes with a workshop"});
        return false;
    }
    if (a->contains("non_responders") && !a->contains("flow")) {
        out.push_back({"/audience/non_responders", "goes with a flow"});
        return false;
    }
    auto& aud = r.audience;
    using kind = broadcast_audience::kind;
    if (const json* urns = member(*a, "urns")) {
        aud.type = kind::urns;
        if (!urns->is_array() || urns->empty()) {
            out.push_back({"/audience/urns", "must be a non-empty array of phone numbers or URNs"});
            return false;
        }
        std::set<std::string> seen;
        json masked = json::array();
        for (std::size_t i = 0; i < urns->size(); ++i) {
            const json& u = (*urns)[i];
            const auto urn = u.is_string()
                                 ? handlers::parse_urn(u.get_ref<const std::string&>(), cfg.default_country)
                                 : std::nullopt;
            if (!urn) {
                out.push_back({"/audience/urns/" + std::to_string(i), "not a phone number or URN"});
                return false;
            }
            if (seen.insert(*urn).second) {
                aud.urns.push_back(*urn);
                masked.push_back(handlers::mask_urn(*urn));
            }
        }
        r.audience_json = {{"urns", masked}};
    } else if (const json* group = member(*a, "group")) {
        aud.type = kind::group;
        if (!group->is_string() || group->get_ref<const std::string&>().empty()) {
            out.push_back({"/audience/group", "must be a group's name"});
            return false;
        }
        aud.group = group->get<std::string>();
        r.audience_json = {{"group", aud.group}};
    } else if (const json* workshop = member(*a, "workshop")) {
        aud.type = kind::workshop;
        if (!workshop->is_string() || workshop->get_ref<const std::string&>().empty()) {
            out.push_back({"/audience/workshop", "must be a workshop's id"});
            return false;
        }
        aud.workshop_id = workshop->get<std::string>();
        if (const json* status = member(*a, "status")) {
            const auto st = status->is_string()
                                ? flows::registration_status_from(status->get_ref<const std::string&>())
                                : std::nullopt;
            if (!st) {
                out.push_back(
                    {"/audience/status", "must be one of registered, waitlisted, attended, cancelled"});
                return false;
            }
            aud.status = *st;
        }
        r.audience_json = {{"workshop", aud.workshop_id}, {"status", flows::to_string(aud.status)}};
    } else if (const json* flow = member(*a, "flow")) {
        aud.type = kind::flow;
        const flows::flow* f =
            flow->is_string() ? cfg.flows->find(flow->get_ref<const std::string&>()) : nullptr;
        if (f == nullptr) {
            out.push_back({"/audience/flow", "no such flow"});
            return false;
        }
        aud.flow_id = f->id;
        if (const json* nr = member(*a, "non_responders")) {
            if (!nr->is_boolean()) {
                out.push_back({"/audience/non_responders", "must be true or false"});
                return false;
            }
            aud.non_responders = nr->get<bool>();
        }
        r.audience_json = {{"flow", aud.flow_id}, {"non_responders", aud.non_responders}};
    } else {
        aud.type = kind::all;
        if (*member(*a, "all") != true) {
            out.push_back({"/audience/all", "must be true"});
            return false;
        }
        r.audience_json = {{"all", true}};
    }
    return true;
}

}  // namespace

std::optional<request> parse_request(const json& body, const config::config& cfg, problems& out) {
    const std::size_t before = out.size();
    for (const auto& [key, value] : body.items()) {
        static const std::set<std::string> known = {"text", "audience", "channel", "send_at", "preview"};
        if (known.count(key) == 0) {
            out.push_back({"/" + pointer_token(key), "unknown key"});
        }
    }
    request r;
    if (auto text = parse_text(member(body, "text"), cfg, out)) {
        r.text = std::move(*text);
    }
    parse_audience(member(body, "audience"), cfg, r, out);
    if (const json* channel = member(body, "channel")) {
        if (!channel->is_string() || cfg.find_channel(channel->get_ref<const std::string&>()) == nullptr) {
            out.push_back({"/channel", "no such channel"});
        } else {
            r.channel_id = channel->get<std::string>();
        }
    }
    if (const json* send_at = member(body, "send_at")) {
        const auto t =
            send_at->is_string() ? api::parse_iso_utc(send_at->get_ref<const std::string&>()) : std::nullopt;
        if (!t) {
            out.push_back(
                {"/send_at", "must be an ISO 8601 time with a zone, such as \"2027-03-14T10:00:00+03:00\""});
        }
        r.send_at = t;
    }
    if (const json* preview = member(body, "preview")) {
        if (!preview->is_boolean()) {
            out.push_back({"/preview", "must be true or false"});
        } else {
            r.preview = preview->get<bool>();
        }
    }
    if (out.size() != before) {
        return std::nullopt;
    }
    return r;
}

bool reaches(std::string_view channel_type, std::string_view urn) {
    const auto colon = urn.find(':');
    const std::string_view scheme =
        colon == std::string_view::npos ? std::string_view{} : urn.substr(0, colon);
    if (channel_type == "external") {
        return scheme == "tel" || scheme == "ext";
    }
    if (channel_type == "twilio") {
        return scheme == "tel" || scheme == "whatsapp";
    }
    if (channel_type == "vonage" || channel_type == "africastalking" || channel_type == "infobip" ||
        channel_type == "kannel") {
        return scheme == "tel";
    }
    if (channel_type == "telegram") {
        return scheme == "telegram";
    }
    if (channel_type == "whatsapp") {
        return scheme == "whatsapp";
    }
    if (channel_type == "messenger") {
        return scheme == "facebook";
    }
    return false;
}

std::optional<std::pair<std::string, std::string>> address_of(const broadcast_contact& c,
                                                              std::string_view channel_id,
                                                              const config::config& cfg) {
    if (!channel_id.empty()) {
        const auto* channel = cfg.find_channel(channel_id);
        if (channel == nullptr) {
            return std::nullopt;
        }
        const std::string& type = channel->settings.type;
        for (const auto& [urn, on] : c.urns) {
            if (on == channel_id && reaches(type, urn)) {
                return std::pair{urn, std::string(channel_id)};
            }
        }
        for (const auto& [urn, on] : c.urns) {
            if (reaches(type, urn)) {
                return std::pair{urn, std::string(channel_id)};
            }
        }
        for (const auto& [urn, on] : c.urns) {
            if (const auto sibling = handlers::same_number_urn(urn); sibling && reaches(type, *sibling)) {
                return std::pair{*sibling, std::string(channel_id)};
            }
        }
        return std::nullopt;
    }
    for (const auto& [urn, on] : c.urns) {
        if (cfg.find_channel(on) != nullptr) {
            return std::pair{urn, on};
        }
    }
    for (const auto& [urn, on] : c.urns) {
        for (const auto& channel : cfg.channels) {
            if (reaches(channel.settings.type, urn)) {
                return std::pair{urn, channel.settings.id};
            }
        }
    }
    return std::nullopt;
}

std::optional<std::string> region_time_zone(std::string_view region) {
    if (region.size() != 2) {
        return std::nullopt;
    }
    const std::string code(region);
    UErrorCode status = U_ZERO_ERROR;
    std::unique_ptr<icu::StringEnumeration> zones(icu::TimeZone::createTimeZoneIDEnumeration(
        UCAL_ZONE_TYPE_CANONICAL_LOCATION, code.c_str(), nullptr, status));
    if (U_FAILURE(status) || !zones || zones->count(status) != 1 || U_FAILURE(status)) {
        return std::nullopt;
    }
    int32_t length = 0;
    const char* id = zones->next(&length, status);
    if (U_FAILURE(status) || id == nullptr) {
        return std::nullopt;
    }
    return std::string(id, static_cast<std::size_t>(length));
}

std::string zone_finder::zone_of(const broadcast_contact& c, std::string_view urn) {
    if (!c.timezone.empty()) {
        auto it = valid_.find(c.timezone);
        if (it == valid_.end()) {
            it = valid_.emplace(c.timezone, flows::is_time_zone(c.timezone)).first;
        }
        if (it->second) {
            return c.timezone;
        }
    }
    std::vector<std::string_view> urns{urn};
    for (const auto& [u, on] : c.urns) {
        urns.push_back(u);
    }
    for (const std::string_view u : urns) {
        if (const auto region = handlers::phone_region(u)) {
            auto it = region_.find(*region);
            if (it == region_.end()) {
                it = region_.emplace(*region, region_time_zone(*region)).first;
            }
            if (it->second) {
                return *it->second;
            }
            break;  // the number's country has several zones: the config's
        }
    }
    return cfg_.timezone;
}

plan make_plan(const request& r,
               const broadcast_audience_rows& audience,
               const config::config& cfg,
               timestamp now) {
    plan p;
    p.send_at = r.send_at && *r.send_at > now ? *r.send_at : now;
    p.unknown = audience.unknown;
    zone_finder zones(cfg);
    std::map<std::string, timestamp> not_before;  // zone → the end of its quiet hours
    std::map<std::string, language_figures> languages;
    std::map<std::string, zone_figures> by_zone;
    std::set<std::pair<std::string, std::string>> checked;  // (text language, channel)
    for (const auto& c : audience.contacts) {
        if (c.stopped) {
            ++p.opted_out;
            continue;
        }
        auto address = address_of(c, r.channel_id, cfg);
        if (!address) {
            ++p.unreachable;
            continue;
        }
        recipient rec;
        rec.contact_id = c.id;
        rec.urn = std::move(address->first);
        rec.channel_id = std::move(address->second);
        const auto [text_language, text] = flows::pick_text(r.text, c.language, "", cfg.languages);
        rec.text_language = text_language;
        rec.timezone = zones.zone_of(c, rec.urn);
        auto when = not_before.find(rec.timezone);
        if (when == not_before.end()) {
            when = not_before.emplace(rec.timezone, cfg.outside_quiet_hours(p.send_at, rec.timezone)).first;
        }
        rec.not_before = when->second;

        auto& lang = languages[c.language];
        if (lang.recipients == 0) {
            const auto seg = flows::count_segments(text);
            lang.language = c.language;
            lang.text_language = text_language;
            lang.encoding = flows::to_string(seg.encoding);
            lang.characters = seg.units;
            lang.segments = seg.segments;
        }
        ++lang.recipients;
        auto& zone = by_zone[rec.timezone];
        zone.timezone = rec.timezone;
        zone.not_before = rec.not_before;
        ++zone.recipients;

        if (checked.emplace(text_language, rec.channel_id).second) {
            const auto* channel = cfg.find_channel(rec.channel_id);
            const auto* type = channel ? handlers::find_handler_type(channel->settings.type) : nullptr;
            if (type && type->max_text_length > 0 &&
                handlers::split_text(text, type->max_text_length).size() > 1) {
                p.too_long.push_back({"/text/" + pointer_token(text_language),
                                      "too long for one message on channel " + rec.channel_id + " (" +
                                          std::to_string(type->max_text_length) + " characters at most)"});
            }
        }
        p.recipients.push_back(std::move(rec));
    }
    // The config's languages in its order, then others, then contacts with none.
    const auto rank = [&cfg](const std::string& lang) {
        const auto it = std::find(cfg.languages.begin(), cfg.languages.end(), lang);
        return std::pair(lang.empty()                ? 2
                         : it == cfg.languages.end() ? 1
                                                     : 0,
                         it == cfg.languages.end() ? std::size_t{0}
                                                   : static_cast<std::size_t>(it - cfg.languages.begin()));
    };
    for (auto& [key, figures] : languages) {
        p.total_segments += figures.recipients * static_cast<std::int64_t>(figures.segments);
        p.languages.push_back(std::move(figures));
    }
    std::stable_sort(p.languages.begin(), p.languages.end(), [&rank](const auto& a, const auto& b) {
        return rank(a.language) < rank(b.language);
    });
    for (auto& [key, figures] : by_zone) {
        p.timezones.push_back(std::move(figures));
    }
    std::stable_sort(p.timezones.begin(), p.timezones.end(), [](const auto& a, const auto& b) {
        return a.not_before < b.not_before;
    });
    return p;
}

json figures_json(const plan& p) {
    json languages = json::array();
    for (const auto& l : p.languages) {
        languages.push_back({{"language", l.language},
                             {"recipients", l.recipients},
                             {"text_language", l.text_language},
                             {"encoding", l.encoding},
                             {"characters", l.characters},
                             {"segments", l.segments}});
    }
    json timezones = json::array();
    for (const auto& z : p.timezones) {
        timezones.push_back({{"timezone", z.timezone},
                             {"recipients", z.recipients},
                             {"not_before", api::iso_utc(z.not_before)}});
    }
    return {{"recipients", static_cast<std::int64_t>(p.recipients.size())},
            {"opted_out", p.opted_out},
            {"unreachable", p.unreachable},
            {"unknown", p.unknown},
            {"languages", languages},
            {"timezones", timezones},
            {"total_segments", p.total_segments}};
}

broadcast_record record_of(const request& r, const plan& p, const api_token& who, timestamp now) {
    broadcast_record b;
    b.uuid = handlers::random_uuid();
    b.token_id = who.id;
    b.created_by = who.name;
    b.created_at = now;
    b.send_at = p.send_at;
    b.channel_id = r.channel_id;
    b.text = r.text;
    b.audience = r.audience_json;
    b.figures = figures_json(p);
    b.recipients = static_cast<std::int64_t>(p.recipients.size());
    b.total_segments = p.total_segments;
    return b;
}

void save(write_tx& tx, broadcast_record& b, const plan& p, timestamp now) {
    b.id = tx.insert_broadcast(b);
    std::map<std::string, flows::segment_info> segments;  // text language → its count
    for (const auto& rec : p.recipients) {
        const std::string& text = b.text.at(rec.text_language);
        auto seg = segments.find(rec.text_language);
        if (seg == segments.end()) {
            seg = segments.emplace(rec.text_language, flows::count_segments(text)).first;
        }
        new_outbound out{rec.channel_id,
                         rec.contact_id,
                         rec.urn,
                         text,
                         flows::to_string(seg->second.encoding),
                         static_cast<int>(seg->second.segments),
                         std::nullopt,
                         now};
        out.not_before = rec.not_before;
        out.broadcast_id = b.id;
        tx.queue_outbound(out);
    }
}

const char* to_string(status s) {
    switch (s) {
        case status::scheduled:
            return "scheduled";
        case status::sending:
            return "sending";
        case status::done:
            return "done";
        case status::cancelled:
            return "cancelled";
    }
    return "done";
}

status status_of(const broadcast_record& b, timestamp now) {
    if (b.cancelled) {
        return status::cancelled;
    }
    if (b.send_at > now) {
        return status::scheduled;
    }
    return b.pending > 0 ? status::sending : status::done;
}

progress progress_of(const broadcast_record& b) {
    progress p;
    std::int64_t total = 0;
    for (const auto& [state, n] : b.messages) {
        total += n;
        if (state == "queued" || state == "sending") {
            p.queued += n;
        } else if (state == "sent") {
            p.sent += n;
        } else if (state == "delivered") {
            p.delivered += n;
        } else if (state == "cancelled") {
            p.cancelled += n;
        } else {
            p.failed += n;  // failed, unknown, expired
        }
    }
    if (total < b.recipients) {
        p.failed += b.recipients - total;  // erased with their contact
    }
    return p;
}

}  // namespace flowgate::gateway::broadcasts
