// Broadcasts through the real server: roles, every 400, a preview and then the same send reaching a
// fake provider (the external channel pointed at a local HTTP server), progress after the sends,
// audiences by workshop and by flow, a scheduled broadcast cancelled, and cancelling twice.

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "gateway/sqlite_store.hpp"
#include "tests/support/api.hpp"
#include "tests/support/http.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sample_flows.hpp"

namespace flowgate::gateway {
namespace {

using json = nlohmann::json;

timestamp at(std::int64_t ms) { return from_millis(ms); }

const std::string en_text = "Workshop tomorrow at 10";  // GSM-7, 23 characters, one segment
const std::string ar_text = "الورشة غدا";               // UCS-2, 10 characters, one segment

// On SQLite and on PostgreSQL.
class api_broadcasts_test : public ::testing::TestWithParam<test::backend> {
   protected:
    void SetUp() override {
        std::string why_not;
        where = test::new_database(GetParam(), dir.file("flowgate.db"), why_not);
        if (where.empty()) {
            GTEST_SKIP() << why_not;
        }
        dir.write("signup.json", test::signup_flow);
        dir.write("telegram_token", "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw");
        dir.write("telegram_secret", "tg_secret-0123456789");
        const json cfg = {
            {"server", {{"listen", "127.0.0.1:0"}, {"shutdown_grace", "5s"}}},
            {"store", {{test::backend_name(GetParam()), where}}},
            {"data_key", "none"},
            {"timezone", "Asia/Amman"},
            {"languages", {"en", "ar"}},
            {"channels",
             {{{"id", "local"}, {"type", "external"}, {"send_url", provider.url("/send")}},
              {{"id", "tg"},
               {"type", "telegram"},
               {"bot_token", "file:" + dir.file("telegram_token")},
               {"secret_token", "file:" + dir.file("telegram_secret")},
               {"api_base", "http://127.0.0.1:9"}}}},
            {"flows", {dir.file("signup.json")}},
            {"workshops",
             {{{"id", "amman"},
               {"title", "Leadership, Amman"},
               {"place", "Weibdeh"},
               {"starts_at", "2027-03-14T10:00"},
               {"capacity", 20}}}},
        };
        dir.write("config.json", cfg.dump());
        tokens = test::make_role_tokens(dir.file("config.json"));
        ASSERT_EQ(tokens.size(), 3u);
        seed();
    }

    // Five contacts, written to the store before the server starts: English and Arabic speakers in
    // the group "Amman", one who opted out, one reachable only on Telegram, one in no group. Runs
    // of the sign-up flow and registrations for the workshop.
    void seed() {
        const auto store = test::open_store(GetParam(), where);
        auto tx = store->begin_write();
        const auto add =
            [&](const std::string& urn, const std::string& channel, const std::string& language) {
                const auto c = tx->upsert_contact(urn, channel, at(0));
                tx->set_contact_language(c.id, language, at(0));
                return c.id;
            };
        const auto english = add("tel:+962791000001", "local", "en");
        const auto arabic = add("tel:+962791000002", "local", "ar");
        const auto stopped = add("tel:+962791000003", "local", "en");
        const auto telegram = add("telegram:77", "tg", "en");
        add("tel:+962791000005", "local", "en");
        for (const auto id : {english, arabic, stopped, telegram}) {
            tx->add_contact_group(id, {"", "Amman"});
        }
        tx->set_contact_stopped(stopped, true, at(0));
        // The English speaker answered the sign-up flow the second time; the Arabic speaker
        // finished it once and has not answered since starting again.
        tx->end_run(tx->start_run(english, "signup", at(1)), flows::run_status::expired, at(2));
        tx->end_run(tx->start_run(english, "signup", at(3)), flows::run_status::completed, at(4));
        tx->end_run(tx->start_run(arabic, "signup", at(1)), flows::run_status::completed, at(2));
        tx->start_run(arabic, "signup", at(3));
        flows::workshop w;
        w.id = "amman";
        w.title = {{"en", "Leadership, Amman"}, {"ar", "Leadership, Amman"}};
        w.place = {{"en", "Weibdeh"}, {"ar", "Weibdeh"}};
        w.starts_at = at(1805007600000);  // 2027-03-14T07:00:00Z
        w.timezone = "Asia/Amman";
        w.capacity = 20;
        tx->upsert_workshop(w, at(0));
        tx->set_registration(english, "amman", flows::registration_status::registered, at(5));
        tx->set_registration(arabic, "amman", flows::registration_status::waitlisted, at(5));
        tx->commit();
    }

    test::response call(std::uint16_t port,
                        const std::string& method,
                        const std::string& path,
                        const std::string& role,
                        const std::string& body = "",
                        const std::string& type = "application/json") {
        std::map<std::string, std::string> headers = {{"Content-Type", type}};
        if (!role.empty()) {
            headers["Authorization"] = "Bearer " + tokens[role];
        }
        return test::request(port, method, path, body, headers);
    }

    test::fake_provider provider{[](std::size_t i, const test::recorded&) -> std::pair<int, std::string> {
        return {200, json{{"id", "provider-" + std::to_string(i + 1)}}.dump()};
    }};
    test::temp_dir dir;
    std::string where;  // the database: a SQLite file or a PostgreSQL URL
    std::map<std::string, std::string> tokens;
};

TEST_P(api_broadcasts_test, roles_and_every_bad_request) {
    test::server_process server(dir.file("config.json"));
    const std::string good = json{{"text", "Hi"}, {"audience", {{"all", true}}}, {"preview", true}}.dump();
    struct role_case {
        std::string method, path, role;
        int status;
    };
    const std::vector<role_case> roles = {
        {"GET", "/api/v1/broadcasts", "", 401},
        {"GET", "/api/v1/broadcasts", "viewer", 403},
        {"GET", "/api/v1/broadcasts", "staff", 200},
        {"GET", "/api/v1/broadcasts", "admin", 200},
        {"POST", "/api/v1/broadcasts", "viewer", 403},
        {"POST", "/api/v1/broadcasts", "staff", 200},
        {"GET", "/api/v1/broadcasts/00000000-0000-4000-8000-000000000000", "viewer", 403},
        {"GET", "/api/v1/broadcasts/00000000-0000-4000-8000-000000000000", "staff", 404},
        {"POST", "/api/v1/broadcasts/00000000-0000-4000-8000-000000000000/cancel", "viewer", 403},
        {"POST", "/api/v1/broadcasts/00000000-0000-4000-8000-000000000000/cancel", "staff", 404},
        {"DELETE", "/api/v1/broadcasts", "staff", 405},
    };
    for (const auto& c : roles) {
        SCOPED_TRACE(c.method + " " + c.path + " as " + c.role);
        EXPECT_EQ(call(server.port(), c.method, c.path, c.role, c.method == "POST" ? good : "").status,
                  c.status);
    }

    struct bad_case {
        const char* label;
        json body;
        std::string error;
    };
    const json all = {{"all", true}};
    const std::vector<bad_case> cases = {
        {"no text", {{"audience", all}}, "/text: is required"},
        {"an empty text", {{"text", ""}, {"audience", all}}, "/text: must not be empty"},
        {"a text that is neither",
         {{"text", 5}, {"audience", all}},
         "/text: must be a text in the base language, or an object of texts by language such as {\"en\": "
         "\"...\", \"ar\": \"...\"}"},
        {"a language the config does not have",
         {{"text", {{"en", "Hi"}, {"de", "Hallo"}}}, {"audience", all}},
         "/text/de: is not one of the config's languages"},
        {"an empty translation",
         {{"text", {{"en", "Hi"}, {"ar", ""}}}, {"audience", all}},
         "/text/ar: must be a non-empty string"},
        {"no base language",
         {{"text", {{"ar", ar_text}}}, {"audience", all}},
         "/text: give the base language's text (en)"},
        {"no audience", {{"text", "Hi"}}, "/audience: is required"},
        {"an audience that is not an object",
         {{"text", "Hi"}, {"audience", "all"}},
         "/audience: must be an object with one of urns, group, workshop, flow, all"},
        {"no kind",
         {{"text", "Hi"}, {"audience", json::object()}},
         "/audience: give exactly one of urns, group, workshop, flow, all"},
        {"two kinds",
         {{"text", "Hi"}, {"audience", {{"all", true}, {"group", "Amman"}}}},
         "/audience: give exactly one of urns, group, workshop, flow, all"},
        {"all, but false", {{"text", "Hi"}, {"audience", {{"all", false}}}}, "/audience/all: must be true"},
        {"an unknown audience key",
         {{"text", "Hi"}, {"audience", {{"all", true}, {"colour", "red"}}}},
         "/audience/colour: unknown key"},
        {"no URNs",
         {{"text", "Hi"}, {"audience", {{"urns", json::array()}}}},
         "/audience/urns: must be a non-empty array of phone numbers or URNs"},
        {"a URN that is not one",
         {{"text", "Hi"}, {"audience", {{"urns", {"0791234567", "hello"}}}}},
         "/audience/urns/1: not a phone number or URN"},
        {"an empty group",
         {{"text", "Hi"}, {"audience", {{"group", ""}}}},
         "/audience/group: must be a group's name"},
        {"a workshop that is not an id",
         {{"text", "Hi"}, {"audience", {{"workshop", 5}}}},
         "/audience/workshop: must be a workshop's id"},
        {"no such workshop",
         {{"text", "Hi"}, {"audience", {{"workshop", "nowhere"}}}},
         "/audience/workshop: no such workshop"},
        {"a registration status that is not one",
         {{"text", "Hi"}, {"audience", {{"workshop", "amman"}, {"status", "maybe"}}}},
         "/audience/status: must be one of registered, waitlisted, attended, cancelled"},
        {"a status without a workshop",
         {{"text", "Hi"}, {"audience", {{"group", "Amman"}, {"status", "registered"}}}},
         "/audience/status: goes with a workshop"},
        {"no such flow", {{"text", "Hi"}, {"audience", {{"flow", "nope"}}}}, "/audience/flow: no such flow"},
        {"non_responders not a boolean",
         {{"text", "Hi"}, {"audience", {{"flow", "signup"}, {"non_responders", "yes"}}}},
         "/audience/non_responders: must be true or false"},
        {"non_responders without a flow",
         {{"text", "Hi"}, {"audience", {{"all", true}, {"non_responders", true}}}},
         "/audience/non_responders: goes with a flow"},
        {"no such channel",
         {{"text", "Hi"}, {"audience", all}, {"channel", "nope"}},
         "/channel: no such channel"},
        {"a time without a zone",
         {{"text", "Hi"}, {"audience", all}, {"send_at", "2027-03-14T10:00"}},
         "/send_at: must be an ISO 8601 time with a zone, such as \"2027-03-14T10:00:00+03:00\""},
        {"preview not a boolean",
         {{"text", "Hi"}, {"audience", all}, {"preview", "yes"}},
         "/preview: must be true or false"},
        {"an unknown key", {{"text", "Hi"}, {"audience", all}, {"colour", "red"}}, "/colour: unknown key"},
        {"too long for the Telegram channel",
         {{"text", std::string(4097, 'a')}, {"audience", {{"group", "Amman"}}}, {"channel", "tg"}},
         "/text/en: too long for one message on channel tg (4096 characters at most)"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const auto res = call(server.port(), "POST", "/api/v1/broadcasts", "staff", c.body.dump());
        EXPECT_EQ(res.status, 400) << res.body;
        EXPECT_EQ(json::parse(res.body).value("error", ""), c.error);
    }
    const auto not_json = call(server.port(), "POST", "/api/v1/broadcasts", "staff", "text=Hi", "text/plain");
    EXPECT_EQ(not_json.status, 415);
    const auto malformed = call(server.port(), "POST", "/api/v1/broadcasts", "staff", "{");
    EXPECT_EQ(malformed.status, 400);
    EXPECT_EQ(json::parse(malformed.body).at("error"), "the body must be a JSON object");
    const auto limit = call(server.port(), "GET", "/api/v1/broadcasts?limit=0", "staff");
    EXPECT_EQ(limit.status, 400);
    EXPECT_EQ(json::parse(limit.body).at("error"), "/limit: must be a whole number from 1 to 1000");
    EXPECT_EQ(json::parse(call(server.port(), "GET", "/api/v1/broadcasts", "staff").body),
              json::parse(R"({"broadcasts": []})"))
        << "previews and refusals store nothing";
    EXPECT_EQ(server.stop(), 0);
    EXPECT_TRUE(provider.received().empty());
}

TEST_P(api_broadcasts_test, a_preview_then_the_same_send_reaches_the_provider) {
    std::string id;
    json preview;
    {
        test::server_process server(dir.file("config.json"));
        const json body = {{"text", {{"en", en_text}, {"ar", ar_text}}}, {"audience", {{"group", "Amman"}}}};
        json with_preview = body;
        with_preview["preview"] = true;
        const auto p = call(server.port(), "POST", "/api/v1/broadcasts", "staff", with_preview.dump());
        ASSERT_EQ(p.status, 200) << p.body;
        preview = json::parse(p.body);
        // In the group: the English and Arabic speakers, one who opted out, one on Telegram (reached
        // there: their own channel).
        EXPECT_EQ(preview.at("preview"), true);
        EXPECT_EQ(preview.at("recipients"), 3);
        EXPECT_EQ(preview.at("opted_out"), 1);
        EXPECT_EQ(preview.at("unreachable"), 0);
        EXPECT_EQ(preview.at("unknown"), 0);
        EXPECT_EQ(preview.at("languages"), json::parse(R"([
            {"language": "en", "recipients": 2, "text_language": "en", "encoding": "GSM-7", "characters": 23, "segments": 1},
            {"language": "ar", "recipients": 1, "text_language": "ar", "encoding": "UCS-2", "characters": 10, "segments": 1}])"));
        EXPECT_EQ(preview.at("total_segments"), 3);
        EXPECT_EQ(preview.at("timezones").at(0).at("timezone"), "Asia/Amman");
        EXPECT_EQ(preview.at("timezones").at(0).at("recipients"), 3);

        // On the local channel, the Telegram contact is out of reach.
        json on_local = with_preview;
        on_local["channel"] = "local";
        const auto local =
            json::parse(call(server.port(), "POST", "/api/v1/broadcasts", "staff", on_local.dump()).body);
        EXPECT_EQ(local.at("recipients"), 2);
        EXPECT_EQ(local.at("unreachable"), 1);

        on_local.erase("preview");
        const auto sent = call(server.port(), "POST", "/api/v1/broadcasts", "staff", on_local.dump());
        ASSERT_EQ(sent.status, 201) << sent.body;
        const auto created = json::parse(sent.body);
        id = created.at("id");
        EXPECT_EQ(id.size(), 36u);
        EXPECT_EQ(created.at("status"), "sending");
        for (const char* key : {"recipients", "opted_out", "unreachable", "unknown", "total_segments"}) {
            EXPECT_EQ(created.at(key), local.at(key)) << key << ": the preview's figures are the send's";
        }
        EXPECT_EQ(created.at("languages"), local.at("languages"));

        const auto got = provider.wait_for(2);
        ASSERT_EQ(got.size(), 2u);
        std::map<std::string, std::string> texts;
        for (const auto& r : got) {
            const auto b = json::parse(r.body);
            texts[b.at("to")] = b.at("text");
        }
        EXPECT_EQ(
            texts,
            (std::map<std::string, std::string>{{"+962791000001", en_text}, {"+962791000002", ar_text}}));
        for (const auto& body_text : {p.body, sent.body}) {
            EXPECT_EQ(body_text.find("791000001"), std::string::npos) << "no number in what staff see";
        }
        EXPECT_EQ(server.stop(), 0);  // waits for the sends in flight to be recorded
    }
    test::server_process server(dir.file("config.json"));
    const auto res = call(server.port(), "GET", "/api/v1/broadcasts/" + id, "staff");
    ASSERT_EQ(res.status, 200) << res.body;
    const auto b = json::parse(res.body);
    EXPECT_EQ(b.at("status"), "done");
    EXPECT_EQ(b.at("created_by"), "staff");
    EXPECT_EQ(b.at("channel"), "local");
    EXPECT_EQ(b.at("audience"), json::parse(R"({"group": "Amman"})"));
    EXPECT_EQ(b.at("text"), json({{"en", en_text}, {"ar", ar_text}}));
    EXPECT_EQ(b.at("recipients"), 2);
    EXPECT_EQ(b.at("progress"),
              json::parse(R"({"queued": 0, "sent": 2, "delivered": 0, "failed": 0, "cancelled": 0})"));
    const auto cancel = call(server.port(), "POST", "/api/v1/broadcasts/" + id + "/cancel", "staff");
    EXPECT_EQ(cancel.status, 409);
    EXPECT_EQ(json::parse(cancel.body).at("error"), "the broadcast is already done or cancelled");

    const auto list = json::parse(call(server.port(), "GET", "/api/v1/broadcasts", "staff").body);
    ASSERT_EQ(list.at("broadcasts").size(), 1u);
    EXPECT_EQ(list.at("broadcasts").at(0).at("id"), id);
    EXPECT_EQ(list.at("broadcasts").at(0).at("status"), "done");
    EXPECT_EQ(list.at("broadcasts").at(0).at("total_segments"), 2);

    // Audited: who, what, how many; never the text.
    const auto audit = call(server.port(), "GET", "/api/v1/audit", "admin");
    const auto entry = json::parse(audit.body).at("entries").at(0);
    EXPECT_EQ(entry.at("action"), "broadcast.create");
    EXPECT_EQ(entry.at("target"), id);
    EXPECT_EQ(entry.at("rows"), 2);
    EXPECT_EQ(entry.at("who"), "staff");
    EXPECT_EQ(audit.body.find("Workshop tomorrow"), std::string::npos);
    EXPECT_EQ(server.stop(), 0);
    EXPECT_EQ(server.log().find("791000001"), std::string::npos) << "no number in the log";
    EXPECT_EQ(provider.received().size(), 2u);
}

TEST_P(api_broadcasts_test, audiences_and_a_scheduled_broadcast_cancelled_twice) {
    test::server_process server(dir.file("config.json"));
    const auto preview = [&](const json& audience) {
        const auto res = call(server.port(),
                              "POST",
                              "/api/v1/broadcasts",
                              "staff",
                              json{{"text", "Hi"}, {"audience", audience}, {"preview", true}}.dump());
        EXPECT_EQ(res.status, 200) << res.body;
        return json::parse(res.body);
    };
    struct audience_case {
        const char* label;
        json audience;
        int recipients, opted_out, unreachable, unknown;
    };
    const std::vector<audience_case> cases = {
        {"everybody", {{"all", true}}, 4, 1, 0, 0},
        {"a group", {{"group", "Amman"}}, 3, 1, 0, 0},
        {"a group nobody is in", {{"group", "Irbid"}}, 0, 0, 0, 0},
        {"registered for the workshop (the default)", {{"workshop", "amman"}}, 1, 0, 0, 0},
        {"on its waiting list", {{"workshop", "amman"}, {"status", "waitlisted"}}, 1, 0, 0, 0},
        {"attended", {{"workshop", "amman"}, {"status", "attended"}}, 0, 0, 0, 0},
        {"who ever started the flow", {{"flow", "signup"}}, 2, 0, 0, 0},
        {"whose latest run of the flow did not complete",
         {{"flow", "signup"}, {"non_responders", true}},
         1,
         0,
         0,
         0},
        {"numbers, one written locally, one twice, one unknown",
         {{"urns", {"0791000001", "+962791000001", "tel:+962791000003", "+962799999999"}}},
         1,
         1,
         0,
         1},
        {"a WhatsApp number is the same person", {{"urns", {"whatsapp:962791000002"}}}, 1, 0, 0, 0},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const auto p = preview(c.audience);
        EXPECT_EQ(p.at("recipients"), c.recipients);
        EXPECT_EQ(p.at("opted_out"), c.opted_out);
        EXPECT_EQ(p.at("unreachable"), c.unreachable);
        EXPECT_EQ(p.at("unknown"), c.unknown);
    }
    const auto waitlisted = preview({{"workshop", "amman"}, {"status", "waitlisted"}});
    EXPECT_EQ(waitlisted.at("languages").at(0).at("language"), "ar");
    EXPECT_EQ(waitlisted.at("languages").at(0).at("text_language"), "en")
        << "no Arabic text: the base language's";

    // Scheduled for later: nothing goes out; cancelled, every message counts as cancelled.
    const auto res = call(server.port(),
                          "POST",
                          "/api/v1/broadcasts",
                          "staff",
                          json{{"text", "Later"},
                               {"audience", {{"urns", {"+962791000001", "+962791000002", "+962799999999"}}}},
                               {"send_at", "2035-01-01T09:00:00+02:00"}}
                              .dump());
    ASSERT_EQ(res.status, 201) << res.body;
    const auto created = json::parse(res.body);
    EXPECT_EQ(created.at("status"), "scheduled");
    EXPECT_EQ(created.at("send_at"), "2035-01-01T07:00:00Z");
    EXPECT_EQ(created.at("recipients"), 2);
    EXPECT_EQ(created.at("unknown"), 1);
    const std::string id = created.at("id");
    const auto shown = json::parse(call(server.port(), "GET", "/api/v1/broadcasts/" + id, "staff").body);
    EXPECT_EQ(shown.at("status"), "scheduled");
    EXPECT_EQ(shown.at("progress"),
              json::parse(R"({"queued": 2, "sent": 0, "delivered": 0, "failed": 0, "cancelled": 0})"));
    EXPECT_EQ(shown.at("audience").dump().find("791000001"), std::string::npos)
        << shown.at("audience").dump();
    EXPECT_EQ(shown.at("channel"), nullptr) << "each contact's own";

    const auto cancel = call(server.port(), "POST", "/api/v1/broadcasts/" + id + "/cancel", "staff");
    ASSERT_EQ(cancel.status, 200) << cancel.body;
    const auto cancelled = json::parse(cancel.body);
    EXPECT_EQ(cancelled.at("status"), "cancelled");
    EXPECT_EQ(cancelled.at("progress"),
              json::parse(R"({"queued": 0, "sent": 0, "delivered": 0, "failed": 0, "cancelled": 2})"));
    const auto again = call(server.port(), "POST", "/api/v1/broadcasts/" + id + "/cancel", "staff");
    EXPECT_EQ(again.status, 409);
    const auto audit = json::parse(call(server.port(), "GET", "/api/v1/audit", "admin").body);
    EXPECT_EQ(audit.at("entries").at(0).at("action"), "broadcast.cancel");
    EXPECT_EQ(audit.at("entries").at(0).at("rows"), 2);
    EXPECT_EQ(audit.at("entries").at(1).at("action"), "broadcast.create");
    EXPECT_EQ(audit.at("entries").size(), 2u) << "previews are not audited";
    EXPECT_EQ(server.stop(), 0);
    EXPECT_TRUE(provider.received().empty());
}

INSTANTIATE_TEST_SUITE_P(backends,
                         api_broadcasts_test,
                         ::testing::Values(test::backend::sqlite, test::backend::postgres),
                         [](const ::testing::TestParamInfo<test::backend>& info) {
                             return test::backend_name(info.param);
                         });

}  // namespace
}  // namespace flowgate::gateway
