// Broadcasts against a real SQLite store: ten thousand contacts in three countries, three languages
// and a few time zones. The figures a preview gives are checked against figures the test computes
// from the data it generated; the send queues exactly those messages; a virtual clock shows that
// nothing goes out inside a contact's own quiet hours and everything after; progress adds up;
// a cancel leaves what was sent alone.

#include "gateway/broadcasts.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>

#include "gateway/api_routes.hpp"
#include "gateway/sqlite.hpp"
#include "gateway/sqlite_store.hpp"
#include "handlers/urn.hpp"
#include "tests/support/print.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sealed.hpp"

namespace flowgate::gateway {
namespace {

using json = nlohmann::json;

timestamp utc(const char* iso) { return api::parse_iso_utc(iso).value(); }

config::config make_config() {
    config::config cfg;
    cfg.languages = {"en", "ar", "fr"};
    cfg.timezone = "Europe/London";
    cfg.default_country = "JO";
    cfg.quiet_hours = std::pair{config::clock_time{21 * 60}, config::clock_time{8 * 60}};
    config::channel_config sms;
    sms.settings = {"sms", "external", "JO", {{"send_url", "http://127.0.0.1:9/send"}}};
    cfg.channels.push_back(sms);
    config::channel_config tg;
    tg.settings = {"telegram", "telegram", "JO", {{"bot_token", "1:x"}}};
    cfg.channels.push_back(tg);
    return cfg;
}

// 198 letters and spaces, then two GSM-7 escapes: 202 septets, two segments (153 each).
std::string english_text() {
    std::string s;
    while (s.size() < 198) {
        s += "Reminder workshop tomorrow ";
    }
    s.resize(198);
    return s + "[]";
}

// 140 Arabic letters: UCS-2, 140 units, three segments (67 each).
std::string arabic_text() {
    std::string s;
    for (int i = 0; i < 140; ++i) {
        s += "\u0628";
    }
    return s;
}

// One generated contact and what the test expects for them, derived from how it was made.
struct person {
    std::int64_t id = 0;
    std::string language;
    bool stopped = false;
    bool reachable = true;
    bool in_group = false;
    std::string zone;
};

constexpr int contact_count = 10000;

// Contact i: a number in Jordan, Lebanon or Nigeria (i % 3), a US number (several zones: the
// config's) for i % 50 == 48, only a Messenger id on a channel no longer configured for i % 50 == 49
// (unreachable: no configured channel sends to facebook URNs); language by i % 5; opted out when
// i % 7 == 0; in the group "Amman" when i % 4 == 0; a "timezone" field of Africa/Lagos when
// i % 11 == 0 and a bad one when i % 13 == 0.
std::vector<person> populate(sqlite_store& store) {
    std::vector<person> people;
    auto tx = store.begin_write();
    const auto t0 = utc("2027-03-01T00:00:00Z");
    for (int i = 0; i < contact_count; ++i) {
        person p;
        char number[40];
        std::string urn;
        std::string channel = "sms";
        if (i % 50 == 49) {
            urn = "facebook:" + std::to_string(100000 + i);
            channel = "old-messenger";
            p.reachable = false;
        } else if (i % 50 == 48) {
            std::snprintf(number, sizeof number, "tel:+1202555%04d", i % 10000);
            urn = number;
            p.zone = "Europe/London";
        } else if (i % 3 == 0) {
            std::snprintf(number, sizeof number, "tel:+96279%07d", i);
            urn = number;
            p.zone = "Asia/Amman";
        } else if (i % 3 == 1) {
            std::snprintf(number, sizeof number, "tel:+9613%06d", i);
            urn = number;
            p.zone = "Asia/Beirut";
        } else {
            std::snprintf(number, sizeof number, "tel:+234803%07d", i);
            urn = number;
            p.zone = "Africa/Lagos";
        }
        const auto c = tx->upsert_contact(urn, channel, t0);
        p.id = c.id;
        static const char* languages[] = {"en", "en", "ar", "fr", ""};
        p.language = languages[i % 5];
        if (!p.language.empty()) {
            tx->set_contact_language(c.id, p.language, t0);
        }
        if (i % 7 == 0) {
            p.stopped = true;
            tx->set_contact_stopped(c.id, true, t0);
        }
        if (i % 4 == 0) {
            p.in_group = true;
            tx->add_contact_group(c.id, {"", "Amman"});
        }
        if (i % 11 == 0) {
            tx->set_contact_field(c.id, "timezone", "Africa/Lagos");
            if (p.reachable) {
                p.zone = "Africa/Lagos";
            }
        } else if (i % 13 == 0) {
            tx->set_contact_field(c.id, "timezone", "Mars/Olympus");  // not a zone: the number's
        }
        people.push_back(p);
    }
    tx->commit();
    return people;
}

// The figures as the test computes them from the generated data, for those of `people` chosen.
json expected_figures(const std::vector<person>& people,
                      const std::function<bool(const person&)>& chosen,
                      const std::map<std::string, timestamp>& morning) {
    std::int64_t opted_out = 0, unreachable = 0, recipients = 0;
    std::map<std::string, std::int64_t> by_language, by_zone;
    for (const auto& p : people) {
        if (!chosen(p)) {
            continue;
        }
        if (p.stopped) {
            ++opted_out;
        } else if (!p.reachable) {
            ++unreachable;
        } else {
            ++recipients;
            ++by_language[p.language];
            ++by_zone[p.zone];
        }
    }
    const auto lang = [&](const char* language, const char* text_language) {
        const bool ar = std::string(text_language) == "ar";
        return json{{"language", language},
                    {"recipients", by_language[language]},
                    {"text_language", text_language},
                    {"encoding", ar ? "UCS-2" : "GSM-7"},
                    {"characters", ar ? 140 : 202},
                    {"segments", ar ? 3 : 2}};
    };
    json zones = json::array();
    std::vector<std::pair<timestamp, std::string>> order;
    for (const auto& [zone, when] : morning) {
        order.emplace_back(when, zone);
    }
    std::sort(order.begin(), order.end());
    for (const auto& [when, zone] : order) {
        if (by_zone[zone] > 0) {
            zones.push_back(
                {{"timezone", zone}, {"recipients", by_zone[zone]}, {"not_before", api::iso_utc(when)}});
        }
    }
    return {{"recipients", recipients},
            {"opted_out", opted_out},
            {"unreachable", unreachable},
            {"unknown", 0},
            {"languages", {lang("en", "en"), lang("ar", "ar"), lang("fr", "en"), lang("", "en")}},
            {"timezones", zones},
            {"total_segments",
             2 * (by_language["en"] + by_language["fr"] + by_language[""]) + 3 * by_language["ar"]}};
}

std::set<std::int64_t> contact_ids(const std::vector<outbound_record>& claimed) {
    std::set<std::int64_t> out;
    for (const auto& m : claimed) {
        out.insert(m.contact_id);
    }
    return out;
}

TEST(broadcasts, ten_thousand_contacts_planned_sent_held_for_the_night_and_cancelled) {
    test::temp_dir dir;
    const std::string path = dir.file("broadcasts.db");
    sqlite_store store(path);
    const auto cfg = make_config();
    const auto people = populate(store);
    const api_token staff{7, "Amal (Amman office)", api_role::staff};

    // Sent at 20:30 UTC on a March evening: 20:30 in London (no quiet yet), 23:30 in Amman,
    // 22:30 in Beirut (UTC+2 until the last Sunday of March), 21:30 in Lagos: each of those waits
    // for 08:00 on its own clock.
    const auto now = utc("2027-03-10T20:00:00Z");
    const std::map<std::string, timestamp> morning = {
        {"Europe/London", utc("2027-03-10T20:30:00Z")},
        {"Asia/Amman", utc("2027-03-11T05:00:00Z")},
        {"Asia/Beirut", utc("2027-03-11T06:00:00Z")},
        {"Africa/Lagos", utc("2027-03-11T07:00:00Z")},
    };
    const json body = {{"text", {{"en", english_text()}, {"ar", arabic_text()}}},
                       {"audience", {{"all", true}}},
                       {"channel", "sms"},
                       {"send_at", "2027-03-10T22:30:00+02:00"}};
    problems problems;
    const auto req = broadcasts::parse_request(body, cfg, problems);
    ASSERT_TRUE(req) << problems.front().pointer << ": " << problems.front().message;
    const auto plan = broadcasts::make_plan(*req, store.broadcast_contacts(req->audience), cfg, now);
    const json expected = expected_figures(
        people, [](const person&) { return true; }, morning);
    EXPECT_EQ(broadcasts::figures_json(plan), expected);
    EXPECT_TRUE(plan.too_long.empty());
    const std::int64_t recipients = expected.at("recipients");
    ASSERT_GT(recipients, 7000);

    auto record = broadcasts::record_of(*req, plan, staff, now);
    {
        auto tx = store.begin_write();
        broadcasts::save(*tx, record, plan, now);
        tx->commit();
    }
    auto stored = store.find_broadcast(record.uuid).value();
    EXPECT_EQ(stored.recipients, recipients);
    EXPECT_EQ(stored.created_by, "Amal (Amman office)");
    EXPECT_EQ(stored.figures, expected);
    EXPECT_EQ(stored.messages, (std::map<std::string, std::int64_t>{{"queued", recipients}}));
    EXPECT_EQ(broadcasts::to_string(broadcasts::status_of(stored, now)), std::string("scheduled"));
    EXPECT_EQ(store.list_broadcasts(10).at(0).uuid, record.uuid);
    {
        // Nothing to an opted-out contact; each language's text, the fallback for French.
        sqlite::connection db(path);
        test::add_reveal(db);
        sqlite::statement stopped(db,
                                  "SELECT count(*) FROM messages m JOIN contacts c ON c.id = m.contact_id "
                                  "WHERE m.broadcast_id = ?1 AND c.stopped = 1");
        stopped.bind(1, stored.id);
        ASSERT_TRUE(stopped.step());
        EXPECT_EQ(stopped.column_int64(0), 0);
        sqlite::statement texts(
            db,
            "SELECT c.language, reveal(m.text), m.encoding, m.segments, count(*) FROM messages m "
            "JOIN contacts c ON c.id = m.contact_id WHERE m.broadcast_id = ?1 "
            "GROUP BY 1, 2, 3, 4 ORDER BY 1");
        texts.bind(1, stored.id);
        std::map<std::string, std::string> got;
        while (texts.step()) {
            got[texts.column_text(0)] = texts.column_text(1) + "|" + texts.column_text(2) + "|" +
                                        std::to_string(texts.column_int64(3));
        }
        const std::string en = english_text() + "|GSM-7|2";
        EXPECT_EQ(got,
                  (std::map<std::string, std::string>{
                      {"", en}, {"ar", arabic_text() + "|UCS-2|3"}, {"en", en}, {"fr", en}}));
    }

    // The virtual clock: at each moment exactly the contacts whose morning (or send time) it is.
    std::map<std::int64_t, std::string> zone_of;
    for (const auto& p : people) {
        if (!p.stopped && p.reachable) {
            zone_of[p.id] = p.zone;
        }
    }
    std::vector<outbound_record> sending;
    const auto expect_claims = [&](timestamp at, const std::set<std::string>& zones) {
        SCOPED_TRACE(api::iso_utc(at) + " (+" + std::to_string(to_millis(at) % 1000) + "ms)");
        auto tx = store.begin_write();
        const auto claimed = tx->claim_outbound(at, 2 * contact_count);
        tx->commit();
        std::set<std::int64_t> want;
        for (const auto& [id, zone] : zone_of) {
            if (zones.count(zone) != 0) {
                want.insert(id);
            }
        }
        const auto got = contact_ids(claimed);
        EXPECT_EQ(claimed.size(), want.size());
        EXPECT_TRUE(got == want);
        sending.insert(sending.end(), claimed.begin(), claimed.end());
    };
    const auto ms = std::chrono::milliseconds(1);
    expect_claims(morning.at("Europe/London") - ms, {});
    expect_claims(morning.at("Europe/London"), {"Europe/London"});
    EXPECT_EQ(broadcasts::to_string(broadcasts::status_of(store.find_broadcast(record.uuid).value(),
                                                          morning.at("Europe/London"))),
              std::string("sending"));
    expect_claims(morning.at("Asia/Amman") - ms, {});
    expect_claims(morning.at("Asia/Amman"), {"Asia/Amman"});
    expect_claims(morning.at("Asia/Beirut") - ms, {});
    expect_claims(morning.at("Asia/Beirut"), {"Asia/Beirut"});
    expect_claims(morning.at("Africa/Lagos") - ms, {});
    expect_claims(morning.at("Africa/Lagos"), {"Africa/Lagos"});
    expect_claims(utc("2027-03-12T12:00:00Z"), {});  // everything went
    ASSERT_EQ(static_cast<std::int64_t>(sending.size()), recipients);

    // Progress: of every six messages, two sent, one sent and then delivered, two failed (one of
    // them reported failed by the provider afterwards), one still being sent (counted as queued).
    const auto later = utc("2027-03-11T08:00:00Z");
    broadcasts::progress want;
    {
        auto tx = store.begin_write();
        for (std::size_t i = 0; i < sending.size(); ++i) {
            const auto& m = sending[i];
            switch (i % 6) {
                case 0:
                case 1:
                    tx->mark_sent(m.id, "p-" + std::to_string(m.id), later);
                    ++want.sent;
                    break;
                case 2:
                    tx->mark_sent(m.id, "p-" + std::to_string(m.id), later);
                    EXPECT_TRUE(
                        tx->apply_status("sms", "p-" + std::to_string(m.id), msg_state::delivered, later));
                    ++want.delivered;
                    break;
                case 3:
                    tx->mark_failed(m.id, "invalid_message: HTTP 400", later);
                    ++want.failed;
                    break;
                case 4:
                    EXPECT_TRUE(tx->apply_status("sms", m.uuid, msg_state::failed, later, "30008"));
                    ++want.failed;
                    break;
                default:
                    ++want.queued;
            }
        }
        tx->commit();
    }
    stored = store.find_broadcast(record.uuid).value();
    const auto got = broadcasts::progress_of(stored);
    EXPECT_EQ(got.queued, want.queued);
    EXPECT_EQ(got.sent, want.sent);
    EXPECT_EQ(got.delivered, want.delivered);
    EXPECT_EQ(got.failed, want.failed);
    EXPECT_EQ(got.cancelled, 0);
    EXPECT_EQ(got.queued + got.sent + got.delivered + got.failed + got.cancelled, recipients);
    EXPECT_EQ(stored.pending, want.queued);
    EXPECT_EQ(broadcasts::to_string(broadcasts::status_of(stored, later)), std::string("sending"));
    {
        auto tx = store.begin_write();
        for (std::size_t i = 5; i < sending.size(); i += 6) {
            tx->mark_sent(sending[i].id, "", later);
        }
        tx->commit();
    }
    stored = store.find_broadcast(record.uuid).value();
    EXPECT_EQ(stored.pending, 0);
    EXPECT_EQ(broadcasts::to_string(broadcasts::status_of(stored, later)), std::string("done"));

    // A second broadcast, to the group, in the daytime everywhere: a hundred messages go out (sixty
    // of them are sent, forty are still being sent), then it is cancelled.
    const auto day = utc("2027-03-11T09:00:00Z");
    const json to_group = {
        {"text", "Bring a pen"}, {"audience", {{"group", "Amman"}}}, {"send_at", "2027-03-11T10:00:00Z"}};
    const auto group_req = broadcasts::parse_request(to_group, cfg, problems).value();
    const auto group_plan =
        broadcasts::make_plan(group_req, store.broadcast_contacts(group_req.audience), cfg, day);
    const std::map<std::string, timestamp> ten = {{"Europe/London", utc("2027-03-11T10:00:00Z")},
                                                  {"Asia/Amman", utc("2027-03-11T10:00:00Z")},
                                                  {"Asia/Beirut", utc("2027-03-11T10:00:00Z")},
                                                  {"Africa/Lagos", utc("2027-03-11T10:00:00Z")}};
    auto group_figures = broadcasts::figures_json(group_plan);
    auto want_group = expected_figures(
        people, [](const person& p) { return p.in_group; }, ten);
    // One text for everybody (the base language's), eleven characters, one segment each.
    json one_text = json::array();
    for (const auto& l : want_group.at("languages")) {
        one_text.push_back({{"language", l.at("language")},
                            {"recipients", l.at("recipients")},
                            {"text_language", "en"},
                            {"encoding", "GSM-7"},
                            {"characters", 11},
                            {"segments", 1}});
    }
    want_group["languages"] = one_text;
    want_group["total_segments"] = want_group.at("recipients");
    // The zones all open at 10:00 UTC: the figures list them in the plan's order, compared as sets.
    EXPECT_EQ(group_figures.at("timezones").size(), want_group.at("timezones").size());
    for (const auto& z : want_group.at("timezones")) {
        EXPECT_NE(std::find(group_figures.at("timezones").begin(), group_figures.at("timezones").end(), z),
                  group_figures.at("timezones").end())
            << z.dump();
    }
    group_figures.erase("timezones");
    want_group.erase("timezones");
    EXPECT_EQ(group_figures, want_group);
    auto group_record = broadcasts::record_of(group_req, group_plan, staff, day);
    {
        auto tx = store.begin_write();
        broadcasts::save(*tx, group_record, group_plan, day);
        tx->commit();
    }
    const std::int64_t group_recipients = want_group.at("recipients");
    ASSERT_GT(group_recipients, 1000);
    std::vector<outbound_record> first;
    {
        auto tx = store.begin_write();
        EXPECT_TRUE(tx->claim_outbound(utc("2027-03-11T09:59:59Z"), 100).empty());
        first = tx->claim_outbound(utc("2027-03-11T10:00:00Z"), 100);
        ASSERT_EQ(first.size(), 100u);
        for (std::size_t i = 0; i < 60; ++i) {
            tx->mark_sent(first[i].id, "g-" + std::to_string(first[i].id), utc("2027-03-11T10:00:01Z"));
        }
        tx->commit();
    }
    const auto cancel_at = utc("2027-03-11T10:00:02Z");
    {
        auto tx = store.begin_write();
        const auto b = tx->find_broadcast(group_record.uuid).value();
        EXPECT_EQ(broadcasts::to_string(broadcasts::status_of(b, cancel_at)), std::string("sending"));
        EXPECT_EQ(static_cast<std::int64_t>(tx->cancel_broadcast(b.id, cancel_at)), group_recipients - 100);
        EXPECT_TRUE(tx->claim_outbound(utc("2027-03-12T10:00:00Z"), 100).empty()) << "nothing left to send";
        for (std::size_t i = 60; i < 100; ++i) {
            tx->mark_sent(first[i].id, "", cancel_at);  // the sends in flight finish
        }
        tx->commit();
    }
    const auto cancelled = store.find_broadcast(group_record.uuid).value();
    EXPECT_EQ(broadcasts::to_string(broadcasts::status_of(cancelled, cancel_at)), std::string("cancelled"));
    const auto p = broadcasts::progress_of(cancelled);
    EXPECT_EQ(p.sent, 100);
    EXPECT_EQ(p.cancelled, group_recipients - 100);
    EXPECT_EQ(p.queued + p.delivered + p.failed, 0);
    EXPECT_EQ(p.queued + p.sent + p.delivered + p.failed + p.cancelled, group_recipients);
    // The first broadcast is untouched by the second's cancel.
    EXPECT_EQ(broadcasts::progress_of(store.find_broadcast(record.uuid).value()).cancelled, 0);
}

TEST(broadcasts, a_countrys_one_time_zone) {
    const std::vector<std::pair<std::string, std::optional<std::string>>> cases = {
        {"JO", "Asia/Amman"},
        {"LB", "Asia/Beirut"},
        {"NG", "Africa/Lagos"},
        {"US", std::nullopt},  // several
        {"QQ", std::nullopt},  // no such country
        {"", std::nullopt},
    };
    for (const auto& [region, zone] : cases) {
        EXPECT_EQ(broadcasts::region_time_zone(region), zone) << region;
    }
    const std::vector<std::pair<std::string, std::optional<std::string>>> numbers = {
        {"tel:+962791234567", "JO"},
        {"whatsapp:9613123456", "LB"},
        {"tel:+2348031234567", "NG"},
        {"telegram:12345", std::nullopt},
        {"tel:+999", std::nullopt},
    };
    for (const auto& [urn, region] : numbers) {
        EXPECT_EQ(handlers::phone_region(urn), region) << urn;
    }
}

TEST(broadcasts, each_contacts_zone) {
    const auto cfg = make_config();
    broadcasts::zone_finder zones(cfg);
    struct zone_case {
        const char* label;
        std::string field;
        std::vector<std::pair<std::string, std::string>> urns;
        std::string urn;
        std::string zone;
    };
    const std::vector<zone_case> cases = {
        {"the field wins", "Asia/Beirut", {{"tel:+962791234567", "sms"}}, "tel:+962791234567", "Asia/Beirut"},
        {"a bad field is passed over",
         "Asia/Nowhere",
         {{"tel:+962791234567", "sms"}},
         "tel:+962791234567",
         "Asia/Amman"},
        {"the number's country", "", {{"tel:+2348031234567", "sms"}}, "tel:+2348031234567", "Africa/Lagos"},
        {"a country with several zones: the config's",
         "",
         {{"tel:+12025550123", "sms"}},
         "tel:+12025550123",
         "Europe/London"},
        {"not a number: another URN's number",
         "",
         {{"telegram:5", "telegram"}, {"tel:+9613123456", "sms"}},
         "telegram:5",
         "Asia/Beirut"},
        {"no number at all: the config's", "", {{"telegram:5", "telegram"}}, "telegram:5", "Europe/London"},
    };
    for (const auto& c : cases) {
        broadcast_contact contact;
        contact.timezone = c.field;
        contact.urns = c.urns;
        EXPECT_EQ(zones.zone_of(contact, c.urn), c.zone) << c.label;
    }
}

TEST(broadcasts, quiet_hours_on_a_zones_clock) {
    auto cfg = make_config();  // quiet from 21:00 to 08:00
    struct quiet_case {
        const char* at;
        const char* zone;
        const char* until;
    };
    const std::vector<quiet_case> cases = {
        {"2027-03-10T12:00:00Z", "Asia/Amman", "2027-03-10T12:00:00Z"},   // 15:00: not quiet
        {"2027-03-10T18:00:00Z", "Asia/Amman", "2027-03-11T05:00:00Z"},   // 21:00: quiet from then
        {"2027-03-10T04:59:00Z", "Asia/Amman", "2027-03-10T05:00:00Z"},   // 07:59
        {"2027-03-10T05:00:00Z", "Asia/Amman", "2027-03-10T05:00:00Z"},   // 08:00: over
        {"2027-07-10T20:00:00Z", "Asia/Beirut", "2027-07-11T05:00:00Z"},  // summer time, UTC+3
        {"2027-03-10T20:00:00Z", "Africa/Lagos", "2027-03-11T07:00:00Z"},
        {"2027-03-10T20:00:00Z", "Europe/London", "2027-03-10T20:00:00Z"},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(api::iso_utc(cfg.outside_quiet_hours(utc(c.at), c.zone)), c.until) << c.at << " " << c.zone;
    }
    cfg.timezone = "Asia/Amman";
    EXPECT_EQ(cfg.outside_quiet_hours(utc("2027-03-10T18:00:00Z")),
              cfg.outside_quiet_hours(utc("2027-03-10T18:00:00Z"), "Asia/Amman"))
        << "the config's zone by default";
}

TEST(broadcasts, who_is_reached_on_which_urn_and_channel) {
    const auto cfg = make_config();  // sms (external: tel, ext) and telegram
    struct address_case {
        const char* label;
        std::vector<std::pair<std::string, std::string>> urns;
        std::string channel;
        std::optional<std::pair<std::string, std::string>> address;
    };
    using addr = std::pair<std::string, std::string>;
    const std::vector<address_case> cases = {
        {"own channel", {{"tel:+962791234567", "sms"}}, "", addr{"tel:+962791234567", "sms"}},
        {"own channel: the first URN on a configured channel",
         {{"tel:+962791234567", "gone"}, {"telegram:5", "telegram"}},
         "",
         addr{"telegram:5", "telegram"}},
        {"own channel gone: a configured channel that reaches the URN",
         {{"tel:+962791234567", "gone"}},
         "",
         addr{"tel:+962791234567", "sms"}},
        {"nothing reaches it", {{"facebook:1", "gone"}}, "", std::nullopt},
        {"no URN at all", {}, "", std::nullopt},
        {"a given channel: the URN last used on it",
         {{"tel:+962791234567", "sms"}, {"telegram:5", "telegram"}},
         "telegram",
         addr{"telegram:5", "telegram"}},
        {"a given channel: a URN of a scheme it sends to",
         {{"telegram:5", "old"}, {"ext:abc", "old"}},
         "sms",
         addr{"ext:abc", "sms"}},
        {"a given channel that reaches none of the URNs",
         {{"tel:+962791234567", "sms"}},
         "telegram",
         std::nullopt},
        {"a WhatsApp number is the same number by SMS",
         {{"whatsapp:962791234567", "wa"}},
         "sms",
         addr{"tel:+962791234567", "sms"}},
    };
    for (const auto& c : cases) {
        broadcast_contact contact;
        contact.urns = c.urns;
        EXPECT_EQ(broadcasts::address_of(contact, c.channel, cfg), c.address) << c.label;
    }
}

TEST(broadcasts, status_and_progress) {
    broadcast_record b;
    b.send_at = utc("2027-03-10T10:00:00Z");
    b.recipients = 10;
    struct status_case {
        const char* label;
        bool cancelled;
        std::int64_t pending;
        const char* now;
        const char* status;
    };
    const std::vector<status_case> cases = {
        {"before its time", false, 10, "2027-03-10T09:59:59Z", "scheduled"},
        {"at its time", false, 10, "2027-03-10T10:00:00Z", "sending"},
        {"some still to go", false, 1, "2027-03-11T10:00:00Z", "sending"},
        {"all gone", false, 0, "2027-03-11T10:00:00Z", "done"},
        {"cancelled before its time", true, 0, "2027-03-10T09:00:00Z", "cancelled"},
        {"cancelled while sending", true, 2, "2027-03-10T11:00:00Z", "cancelled"},
    };
    for (const auto& c : cases) {
        b.cancelled = c.cancelled;
        b.pending = c.pending;
        EXPECT_EQ(std::string(broadcasts::to_string(broadcasts::status_of(b, utc(c.now)))), c.status)
            << c.label;
    }
    // Every state counts somewhere; a message erased with its contact counts as failed.
    b.messages = {{"queued", 1},
                  {"sending", 1},
                  {"sent", 2},
                  {"delivered", 1},
                  {"failed", 1},
                  {"unknown", 1},
                  {"expired", 1},
                  {"cancelled", 1}};
    const auto p = broadcasts::progress_of(b);
    EXPECT_EQ(p.queued, 2);
    EXPECT_EQ(p.sent, 2);
    EXPECT_EQ(p.delivered, 1);
    EXPECT_EQ(p.failed, 4);
    EXPECT_EQ(p.cancelled, 1);
}

TEST(broadcasts, requests_are_read_and_normalised) {
    auto cfg = make_config();
    auto flow = flows::flow{};
    flow.id = "2f3a0c1e-0000-4000-8000-000000000001";
    flow.name = "Workshop feedback";
    flow.language = "en";
    cfg.flows->add(flow);
    problems problems;
    const auto r = broadcasts::parse_request(
        json{{"text", "Hello"},
             {"audience", {{"urns", {"0791234567", "+962 79 123 4567", "telegram:5"}}}},
             {"preview", true}},
        cfg,
        problems);
    ASSERT_TRUE(r) << problems.front().message;
    EXPECT_EQ(r->text, (flows::lang_text{{"en", "Hello"}})) << "a plain string is the base language's";
    EXPECT_EQ(r->audience.urns, (std::vector<std::string>{"tel:+962791234567", "telegram:5"}))
        << "normalised like an inbound number, each once";
    EXPECT_EQ(r->audience_json.dump(), json({{"urns", {"tel:…67", "telegram:…"}}}).dump())
        << "never a number in what is stored and shown";
    EXPECT_TRUE(r->preview);
    EXPECT_FALSE(r->send_at);

    const auto by_name = broadcasts::parse_request(
        json{{"text", {{"en", "Tell us"}}},
             {"audience", {{"flow", "Workshop feedback"}, {"non_responders", true}}}},
        cfg,
        problems);
    ASSERT_TRUE(by_name);
    EXPECT_EQ(by_name->audience.flow_id, flow.id);
    EXPECT_TRUE(by_name->audience.non_responders);

    const auto workshop = broadcasts::parse_request(
        json{{"text", "Hi"}, {"audience", {{"workshop", "amman"}}}, {"send_at", "2027-03-14T10:00:00+03:00"}},
        cfg,
        problems);
    ASSERT_TRUE(workshop);
    EXPECT_EQ(workshop->audience.status, flows::registration_status::registered) << "the default";
    EXPECT_EQ(workshop->audience_json, json({{"workshop", "amman"}, {"status", "registered"}}));
    EXPECT_EQ(api::iso_utc(workshop->send_at.value()), "2027-03-14T07:00:00Z");
    EXPECT_TRUE(problems.empty());
}

}  // namespace
}  // namespace flowgate::gateway
