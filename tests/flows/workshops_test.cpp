// Workshops in flows: the calendar arithmetic of reminders, the "workshop" nodes of our format and
// what the engine does with them (a numbered menu of open workshops, a place or the waiting list,
// cancelling), against a small in-memory workshop book.

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "flows/calendar.hpp"
#include "flows/engine.hpp"
#include "flows/loader.hpp"

namespace flowgate::flows {
namespace {

using nlohmann::json;
using std::chrono::minutes;

constexpr std::int64_t hour_ms = 3600 * 1000;

timestamp utc(const char* local) { return *parse_local(local, "UTC"); }

struct reminder_case {
    const char* label;
    const char* tz;
    const char* start;  // local, in tz
    int offset_minutes;
    std::optional<int> at;
    const char* due_utc;  // the instant, written as UTC wall time
};

TEST(calendar, reminder_times_follow_the_venue_calendar) {
    const std::vector<reminder_case> cases = {
        {"two days before at 10:00",
         "Asia/Amman",
         "2027-03-14T16:00",
         -2 * 24 * 60,
         10 * 60,
         "2027-03-12T07:00"},
        {"two hours before", "Asia/Amman", "2027-03-14T16:00", -120, std::nullopt, "2027-03-14T11:00"},
        {"a day after at 18:00", "Africa/Lagos", "2027-03-14T10:00", 24 * 60, 18 * 60, "2027-03-15T17:00"},
        {"a day before, same hour",
         "Africa/Lagos",
         "2027-03-14T10:00",
         -24 * 60,
         std::nullopt,
         "2027-03-13T09:00"},
        // Beirut moves its clocks on 28 March 2027: the reminder is at 10:00 on its own day's clock.
        {"across the DST change",
         "Asia/Beirut",
         "2027-03-29T10:00",
         -2 * 24 * 60,
         10 * 60,
         "2027-03-27T08:00"},
        {"exact hours across the DST change",
         "Asia/Beirut",
         "2027-03-29T10:00",
         -48 * 60 - 30,
         std::nullopt,
         "2027-03-27T06:30"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const auto start = parse_local(c.start, c.tz);
        ASSERT_TRUE(start);
        EXPECT_EQ(reminder_time(*start, c.tz, minutes(c.offset_minutes), c.at), utc(c.due_utc));
    }
}

TEST(calendar, local_times_parse_strictly) {
    EXPECT_EQ(parse_local("2027-03-14T10:00", "Asia/Amman"), utc("2027-03-14T07:00"));
    EXPECT_EQ(parse_local("2027-03-14T10:00", "Africa/Lagos"), utc("2027-03-14T09:00"));
    for (const char* bad : {"2027-02-30T10:00",
                            "2027-03-14 10:00",
                            "2027-03-14T24:00",
                            "2027-03-14T10:00Z",
                            "14/03/2027 10:00",
                            "",
                            "2027-3-14T10:00"}) {
        EXPECT_FALSE(parse_local(bad, "UTC")) << bad;
    }
    EXPECT_TRUE(is_time_zone("Asia/Beirut"));
    EXPECT_FALSE(is_time_zone("Asia/Nowhere"));
}

TEST(calendar, dates_read_in_the_participant_language) {
    const auto t = *parse_local("2027-03-29T10:00", "Asia/Amman");
    EXPECT_EQ(format_local_date(t, "Asia/Amman", "en"), "Mon, 29 Mar");
    EXPECT_EQ(format_local_date(t, "Asia/Amman", "fr"), "lun. 29 mars");
    EXPECT_EQ(format_local_date(t, "Asia/Amman", "ar"), "الاثنين، ٢٩ مارس");
    // August in French without its circumflex: GSM-7, not UCS-2.
    EXPECT_EQ(format_local_date(*parse_local("2027-08-02T10:00", "Asia/Amman"), "Asia/Amman", "fr"),
              "lun. 2 aout");
    EXPECT_EQ(format_local_time(t, "Asia/Amman", "en"), "10:00");
    EXPECT_EQ(format_local_time(t, "Africa/Lagos", "en"), "08:00");
    EXPECT_EQ(format_local_time(t, "Asia/Amman", "ar"), "١٠:٠٠");
}

// The gateway reads these from the store; here a map stands in.
class test_book final : public workshop_book {
   public:
    std::vector<workshop> workshops;
    std::map<std::string, registration_status> registrations;

    std::vector<workshop> open_workshops(timestamp now) const override {
        std::vector<workshop> out;
        for (const auto& w : workshops) {
            if (w.open && w.starts_at > now) {
                out.push_back(w);
            }
        }
        return out;
    }
    std::optional<workshop> find_workshop(std::string_view id) const override {
        for (const auto& w : workshops) {
            if (w.id == id) {
                return w;
            }
        }
        return std::nullopt;
    }
    std::optional<registration_status> registration(std::string_view id) const override {
        const auto it = registrations.find(std::string(id));
        return it == registrations.end() ? std::nullopt : std::optional(it->second);
    }
};

test_book two_workshops() {
    test_book b;
    b.workshops.push_back({"amman",
                           {{"en", "Leadership, Amman"}, {"ar", "القيادة، عمّان"}},
                           {{"en", "Weibdeh Centre"}, {"ar", "مركز اللويبدة"}},
                           *parse_local("2027-03-14T10:00", "Asia/Amman"),
                           "Asia/Amman",
                           1,
                           0,
                           true});
    b.workshops.push_back({"irbid",
                           {{"en", "Mediation, Irbid"}, {"ar", "الوساطة، إربد"}},
                           {{"en", "Irbid Library"}, {"ar", "مكتبة إربد"}},
                           *parse_local("2027-03-21T10:00", "Asia/Amman"),
                           "Asia/Amman",
                           20,
                           0,
                           true});
    return b;
}

const char* const signup = R"({
  "id": "signup", "language": "en",
  "nodes": [
    {"id": "choose", "workshop": "choose", "ask": {"en": "Which workshop?", "ar": "أي ورشة؟"},
     "result": "Workshop", "next": "register", "other": "hint", "none": "nothing_open"},
    {"id": "hint", "send": "Reply with the number of a workshop", "next": "choose"},
    {"id": "nothing_open", "send": "No workshop is open now"},
    {"id": "register", "workshop": "register", "result": "Registration",
     "registered": "confirm", "waitlisted": "waitlist", "unavailable": "choose"},
    {"id": "confirm", "send": {"en": "You are registered: @workshop.title, @workshop.date @workshop.time, @workshop.place",
                               "ar": "تم تسجيلك: @workshop.title، @workshop.date @workshop.time، @workshop.place"}},
    {"id": "waitlist", "send": "@workshop.title is full: you are on the waiting list"}
  ]
})";

const char* const cancel = R"({
  "id": "cancel", "language": "en",
  "nodes": [
    {"id": "ask", "ask": "Reply 1 to come, 2 to cancel", "cases": [
      {"test": "has_any_word", "args": [1], "category": "Coming", "next": "thanks"},
      {"test": "has_any_word", "args": [2], "category": "Cancel", "next": "cancel"}]},
    {"id": "thanks", "send": "See you at @workshop.title"},
    {"id": "cancel", "workshop": "cancel", "send": "Your place at @workshop.title is cancelled"}
  ]
})";

flow_set load_all() {
    flow_set set;
    for (const char* text : {signup, cancel}) {
        auto r = load_flow(json::parse(text));
        EXPECT_TRUE(r.problems.empty()) << r.problems[0].pointer << ": " << r.problems[0].message;
        if (r.loaded) {
            set.add(std::move(*r.loaded));
        }
    }
    return set;
}

// Messages as "> text", registrations as "workshop: status", results as "result=value (category)".
std::vector<std::string> describe(const std::vector<effect>& effects) {
    std::vector<std::string> out;
    for (const auto& e : effects) {
        if (const auto* m = std::get_if<send_msg>(&e)) {
            out.push_back("> " + m->text);
        } else if (const auto* r = std::get_if<registration_changed>(&e)) {
            out.push_back(r->workshop_id + ": " + to_string(r->status));
        } else if (const auto* s = std::get_if<result_saved>(&e)) {
            out.push_back(s->key + "=" + s->value.value + " (" + s->value.category + ")");
        }
    }
    return out;
}

struct turn {
    std::string text;
    std::vector<std::string> out;
};

const std::string menu_en =
    "> Which workshop?\n1 Leadership, Amman: Sun, 14 Mar 10:00\n2 Mediation, Irbid: Sun, 21 Mar 10:00";

TEST(workshops, choose_register_and_waitlist) {
    struct transcript {
        const char* label;
        std::string language;
        std::function<void(test_book&)> setup;
        std::vector<turn> turns;
        bool ends = true;
    };
    const auto full_amman = [](test_book& b) { b.workshops[0].taken = 1; };
    const std::vector<transcript> cases = {
        {"by number",
         "en",
         {},
         {{"JOIN", {menu_en}},
          {"2",
           {"workshop=irbid (Chosen)",
            "irbid: registered",
            "registration=registered (Registered)",
            "> You are registered: Mediation, Irbid, Sun, 21 Mar 10:00, Irbid Library"}}}},
        {"by an Arabic-Indic digit with punctuation",
         "en",
         {},
         {{"JOIN", {menu_en}},
          {" ١. ",
           {"workshop=amman (Chosen)",
            "amman: registered",
            "registration=registered (Registered)",
            "> You are registered: Leadership, Amman, Sun, 14 Mar 10:00, Weibdeh Centre"}}}},
        {"by a word of the title, in Arabic",
         "ar",
         {},
         {{"JOIN",
           {"> أي ورشة؟\n1 القيادة، عمّان: الأحد، ١٤ مارس ١٠:٠٠\n2 الوساطة، إربد: الأحد، ٢١ مارس ١٠:٠٠"}},
          {"اربد",
           {"workshop=irbid (Chosen)",
            "irbid: registered",
            "registration=registered (Registered)",
            "> تم تسجيلك: الوساطة، إربد، الأحد، ٢١ مارس ١٠:٠٠، مكتبة إربد"}}}},
        {"a full workshop puts the contact on the waiting list",
         "en",
         full_amman,
         {{"JOIN", {menu_en}},
          {"amman",
           {"workshop=amman (Chosen)",
            "amman: waitlisted",
            "registration=waitlisted (Waitlisted)",
            "> Leadership, Amman is full: you are on the waiting list"}}}},
        {"a number not on the list, a word both have, then a choice",
         "en",
         {},
         {{"JOIN", {menu_en}},
          {"3", {"workshop=3 (Other)", "> Reply with the number of a workshop", menu_en}},
          {"workshop", {"workshop=workshop (Other)", "> Reply with the number of a workshop", menu_en}},
          {"Irbid please",
           {"workshop=irbid (Chosen)",
            "irbid: registered",
            "registration=registered (Registered)",
            "> You are registered: Mediation, Irbid, Sun, 21 Mar 10:00, Irbid Library"}}}},
        {"already registered: nothing changes",
         "en",
         [](test_book& b) { b.registrations["irbid"] = registration_status::registered; },
         {{"JOIN", {menu_en}},
          {"2",
           {"workshop=irbid (Chosen)",
            "registration=registered (Registered)",
            "> You are registered: Mediation, Irbid, Sun, 21 Mar 10:00, Irbid Library"}}}},
        {"nothing open",
         "en",
         [](test_book& b) {
             b.workshops[0].open = false;
             b.workshops[1].open = false;
         },
         {{"JOIN", {"workshop= (None)", "> No workshop is open now"}}}},
    };
    const flow_set flows = load_all();
    const engine eng(flows, {{{"JOIN"}, "signup"}}, environment{{"en", "ar"}});
    const timestamp now = *parse_local("2027-03-01T09:00", "Asia/Amman");
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        test_book book = two_workshops();
        if (c.setup) {
            c.setup(book);
        }
        contact_view contact{"c-1", "", c.language, {}};
        contact.workshops = &book;
        std::optional<session> s;
        for (const auto& t : c.turns) {
            SCOPED_TRACE(t.text);
            const auto out = eng.on_message(s, contact, t.text, now);
            EXPECT_EQ(describe(out.effects), t.out);
            s = out.session;
        }
        EXPECT_EQ(s.has_value(), !c.ends);
    }
}

TEST(workshops, a_started_or_closed_workshop_is_unavailable) {
    const flow_set flows = load_all();
    const engine eng(flows, {{{"JOIN"}, "signup"}}, environment{{"en"}});
    test_book book = two_workshops();
    contact_view contact{"c-1", "", "en", {}};
    contact.workshops = &book;
    const timestamp now = *parse_local("2027-03-01T09:00", "Asia/Amman");
    const auto menu = eng.on_message(std::nullopt, contact, "JOIN", now);
    // Between the menu and the answer, Amman closes: the answer finds it unavailable and the menu
    // comes again, now without it.
    book.workshops[0].open = false;
    const auto out = eng.on_message(menu.session, contact, "1", now + minutes(5));
    EXPECT_EQ(describe(out.effects),
              (std::vector<std::string>{"workshop=amman (Chosen)",
                                        "registration= (Unavailable)",
                                        "> Which workshop?\n1 Mediation, Irbid: Sun, 21 Mar 10:00"}));
}

TEST(workshops, a_reminder_run_cancels_its_workshop) {
    const flow_set flows = load_all();
    const engine eng(flows, {}, environment{{"en"}});
    test_book book = two_workshops();
    book.registrations["amman"] = registration_status::registered;
    contact_view contact{"c-1", "", "en", {}};
    contact.workshops = &book;
    const timestamp now = *parse_local("2027-03-12T10:00", "Asia/Amman");
    const auto started = eng.start("cancel", std::nullopt, contact, now, "amman");
    ASSERT_TRUE(started.session);
    EXPECT_EQ(started.session->workshop_id, "amman");
    EXPECT_EQ(to_json(*started.session)["workshop"], "amman") << "kept across a restart";
    const auto out = eng.on_message(started.session, contact, "2", now);
    EXPECT_EQ(
        describe(out.effects),
        (std::vector<std::string>{"amman: cancelled", "> Your place at Leadership, Amman is cancelled"}));
    // A contact with no place has nothing to cancel.
    book.registrations.clear();
    const auto again =
        eng.on_message(eng.start("cancel", std::nullopt, contact, now, "amman").session, contact, "2", now);
    EXPECT_EQ(describe(again.effects),
              (std::vector<std::string>{"> Your place at Leadership, Amman is cancelled"}));
}

struct problem_case {
    const char* label;
    const char* node;
    flowgate::problems expected;
};

TEST(workshops, loader_reports_mistakes_in_workshop_nodes) {
    const std::vector<problem_case> cases = {
        {"choose without a question",
         R"({"id": "c", "workshop": "choose", "next": "end"})",
         {{"/nodes/0/ask", "is required: the question the list of workshops follows"}}},
        {"an unknown operation",
         R"({"id": "c", "workshop": "enrol"})",
         {{"/nodes/0/workshop", "must be \"choose\", \"register\" or \"cancel\""}}},
        {"a key of another kind of node",
         R"({"id": "c", "workshop": "register", "cases": [], "next": "end"})",
         {{"/nodes/0/cases", "is not for a \"workshop\": \"register\" node"},
          {"/nodes/0/next", "is not for a \"workshop\": \"register\" node"}}},
        {"a reference to no node",
         R"({"id": "c", "workshop": "cancel", "next": "nowhere"})",
         {{"/nodes/0/next", "no node has the id \"nowhere\""}}},
        {"an unknown workshop variable",
         R"({"id": "c", "workshop": "cancel", "send": "Bye @workshop.room", "next": "end"})",
         {{"/nodes/0/send", "unknown variable \"@workshop.room\" (write @@ for a literal @)"}}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        json doc = json::parse(R"({"id": "f", "language": "en", "nodes": []})");
        doc["nodes"].push_back(json::parse(c.node));
        doc["nodes"].push_back(json::parse(R"({"id": "end", "send": "bye"})"));
        EXPECT_EQ(load_flow(doc).problems, c.expected);
    }
}

}  // namespace
}  // namespace flowgate::flows
