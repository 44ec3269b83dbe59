// Integration: the real flowgate binary with Twilio, Telegram and WhatsApp channels whose api_base
// points at local fake APIs. Webhooks are posted in each provider's own format with its own
// signature; the flow's replies must reach each fake at its path with its auth.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>

#include "gateway/pq.hpp"
#include "gateway/sqlite.hpp"
#include "gateway/writer.hpp"
#include "handlers/form.hpp"
#include "handlers/meta.hpp"
#include "handlers/twilio.hpp"
#include "tests/support/http.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sealed.hpp"
#include "tests/support/twilio_message.hpp"
#include "tests/support/webhooks.hpp"

namespace flowgate {
namespace {

using json = nlohmann::json;
using handlers::form_fields;

// The address in the providers' consoles; deliberately not the address the server listens on, as
// behind a TLS proxy: signatures are checked against it, never against the Host header.
using test::public_url;

using test::twilio_sid;
using test::twilio_token;
// base64("AC0123456789abcdef0123456789abcdef:twilio-auth-token-0001")
const std::string twilio_basic =
    "Basic QUMwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjp0d2lsaW8tYXV0aC10b2tlbi0wMDAx";
using test::twilio_address;
using test::twilio_path;

const std::string telegram_token = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
const std::string telegram_secret = "tg_secret-0123456789";
const std::string telegram_path = "/bot" + telegram_token + "/sendMessage";

const std::string wa_phone_number_id = "106540352242922";
const std::string wa_access_token = "EAAGwaAccessToken0123456789";
const std::string wa_app_secret = "meta-app-secret-0123";
const std::string wa_verify_token = "wa-verify-0123";
const std::string wa_path = "/v21.0/" + wa_phone_number_id + "/messages";

const std::string reply_text = "Hello from flowgate";  // GSM-7, one segment
const std::string empty_twiml = R"(<?xml version="1.0" encoding="UTF-8"?><Response />)";

constexpr const char* hello_flow = R"({
  "id": "hello", "language": "en",
  "nodes": [{"id": "hi", "send": "Hello from flowgate"}]
})";

using answer = std::pair<int, std::string>;

// Each fake answers like its real API: a success body for its send path, a 404 for anything else.
test::fake_provider::answer_fn twilio_api() {
    return [](std::size_t i, const test::recorded& r) -> answer {
        if (r.method != "POST" || r.target != twilio_path) {
            return {404,
                    R"({"code": 20404, "message": "The requested resource was not found", "status": 404})"};
        }
        char sid[40];
        std::snprintf(sid, sizeof sid, "SM%032zx", i + 1);
        return {201, json{{"sid", sid}, {"account_sid", twilio_sid}, {"status", "queued"}}.dump()};
    };
}

test::fake_provider::answer_fn telegram_api() {
    return [](std::size_t i, const test::recorded& r) -> answer {
        const json body = json::parse(r.body, nullptr, false);
        if (r.method != "POST" || r.target != telegram_path || !body.is_object() ||
            !body.contains("chat_id")) {
            return {404, R"({"ok": false, "error_code": 404, "description": "Not Found"})"};
        }
        const json result = {{"message_id", i + 1},
                             {"from", {{"id", 7012345678}, {"is_bot", true}, {"first_name", "flowgate"}}},
                             {"chat", {{"id", body.at("chat_id")}, {"type", "private"}}},
                             {"date", 1767225600},
                             {"text", body.value("text", "")}};
        return {200, json{{"ok", true}, {"result", result}}.dump()};
    };
}

test::fake_provider::answer_fn whatsapp_api() {
    return [](std::size_t i, const test::recorded& r) -> answer {
        const json body = json::parse(r.body, nullptr, false);
        if (r.method != "POST" || r.target != wa_path || !body.is_object() || !body.contains("to")) {
            return {404, R"({"error": {"message": "Unknown path", "type": "OAuthException", "code": 803}})"};
        }
        return {200,
                json{{"messaging_product", "whatsapp"},
                     {"contacts", {{{"input", body.at("to")}, {"wa_id", body.at("to")}}}},
                     {"messages", {{{"id", "wamid.X" + std::to_string(i + 1)}}}}}
                    .dump()};
    };
}

// An inbound SMS as Twilio posts it (the parameters of a real webhook, in its order).
form_fields twilio_message(const std::string& sid, const std::string& from, const std::string& text) {
    return test::twilio_message(sid, twilio_sid, from, twilio_address, text);
}

std::string twilio_sid_of(int n) {
    char sid[40];
    std::snprintf(sid, sizeof sid, "SM%032x", n);
    return sid;
}

std::string telegram_update(long long update_id, long long chat_id, int message_id, const std::string& text) {
    return json{
        {"update_id", update_id},
        {"message",
         {{"message_id", message_id},
          {"from", {{"id", chat_id}, {"is_bot", false}, {"first_name", "Huda"}, {"language_code", "ar"}}},
          {"chat", {{"id", chat_id}, {"first_name", "Huda"}, {"type", "private"}}},
          {"date", 1767225600},
          {"text", text}}}}
        .dump();
}

// Meta's bytes as sent: compact, with non-ASCII escaped as \uXXXX (the name is "هدى").
std::string whatsapp_message(const std::string& wa_id, const std::string& id, const std::string& text) {
    return R"({"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":)"
           R"({"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881",)"
           R"("phone_number_id":")" +
           wa_phone_number_id + R"("},"contacts":[{"profile":{"name":"\u0647\u062f\u0649"},"wa_id":")" +
           wa_id + R"("}],"messages":[{"from":")" + wa_id + R"(","id":")" + id +
           R"(","timestamp":"1767225600","text":{"body":")" + text +
           R"("},"type":"text"}]},"field":"messages"}]}]})";
}

// A field of a form body; "(missing)" when absent or the body is not a form.
std::string form_field(const std::string& body, std::string_view name) {
    const auto form = handlers::decode_form(body);
    const std::string* v = form ? handlers::find_field(*form, name) : nullptr;
    return v == nullptr ? std::string("(missing)") : *v;
}

struct webhook {
    std::string target;
    std::string body;
    std::map<std::string, std::string> headers;
};

webhook signed_twilio(const form_fields& fields) {
    return {"/c/sms/receive",
            handlers::encode_form(fields),
            {{"Content-Type", "application/x-www-form-urlencoded"},
             {"X-Twilio-Signature",
              handlers::twilio_handler::signature(twilio_token, public_url + "/c/sms/receive", fields)}}};
}

webhook signed_telegram(const std::string& update) {
    return {"/c/tg/receive",
            update,
            {{"Content-Type", "application/json"}, {"X-Telegram-Bot-Api-Secret-Token", telegram_secret}}};
}

webhook signed_whatsapp(const std::string& body) {
    return {"/c/wa/receive",
            body,
            {{"Content-Type", "application/json"},
             {"X-Hub-Signature-256", handlers::meta::signature(wa_app_secret, body)}}};
}

class providers_integration : public ::testing::Test {
   protected:
    void SetUp() override {
        dir.write("twilio_token", twilio_token + "\n");
        dir.write("telegram_token", telegram_token + "\n");
        dir.write("wa_access_token", wa_access_token + "\n");
        dir.write("hello.json", hello_flow);
        const json cfg = {
            {"server", {{"listen", "127.0.0.1:0"}, {"public_url", public_url}, {"shutdown_grace", "5s"}}},
            {"store", {{"sqlite", dir.file("flowgate.db")}}},
            {"data_key", "none"},
            {"default_country", "JO"},
            {"languages", {"en"}},
            {"channels",
             {test::twilio_channel(dir, twilio.url(""), 5),
              {{"id", "tg"},
               {"type", "telegram"},
               {"bot_token", "file:" + dir.file("telegram_token")},
               {"secret_token", telegram_secret},
               {"api_base", telegram.url("")}},
              {{"id", "wa"},
               {"type", "whatsapp"},
               {"phone_number_id", wa_phone_number_id},
               {"access_token", "file:" + dir.file("wa_access_token")},
               {"app_secret", wa_app_secret},
               {"verify_token", wa_verify_token},
               {"api_base", whatsapp.url("/v21.0")}}}},
            {"flows", {dir.file("hello.json")}},
            {"triggers", {{{"keywords", {"HELLO"}}, {"flow", "hello"}}}},
        };
        dir.write("config.json", cfg.dump(2));
    }

    static test::response post(std::uint16_t port, const webhook& w) {
        return test::request(port, "POST", w.target, w.body, w.headers);
    }

    std::int64_t count(const std::string& sql) {
        gateway::sqlite::connection db(dir.file("flowgate.db"));
        test::add_reveal(db);
        gateway::sqlite::statement q(db, sql);
        return q.step() ? q.column_int64(0) : -1;
    }

    // Outbound messages as "channel external_id state", by channel.
    std::vector<std::string> outbound() {
        gateway::sqlite::connection db(dir.file("flowgate.db"));
        gateway::sqlite::statement q(db,
                                     "SELECT channel_id || ' ' || coalesce(external_id, '-') || ' ' || state "
                                     "FROM messages WHERE direction = 'out' ORDER BY channel_id, id");
        std::vector<std::string> out;
        while (q.step()) {
            out.push_back(q.column_text(0));
        }
        return out;
    }

    // Every secret stays out of the log (the bot token is in Telegram's URLs).
    static void expect_no_secrets(const std::string& log) {
        for (const auto& s :
             {twilio_token, telegram_token, telegram_secret, wa_access_token, wa_app_secret}) {
            EXPECT_EQ(log.find(s), std::string::npos) << "a secret in the log:\n" << log;
        }
    }

    test::temp_dir dir;
    test::fake_provider twilio{twilio_api()};
    test::fake_provider telegram{telegram_api()};
    test::fake_provider whatsapp{whatsapp_api()};
};

TEST_F(providers_integration, a_signed_message_on_each_channel_gets_the_flow_reply_through_its_api) {
    test::server_process server(dir.file("config.json"));

    // Meta's console verifies the callback URL first.
    const auto handshake = test::request(
        server.port(),
        "GET",
        "/c/wa/receive?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=" + wa_verify_token);
    EXPECT_EQ(handshake.status, 200);
    EXPECT_EQ(handshake.body, "1158201444");

    // Twilio: the form, signed over public_url + the sorted parameters; the answer is empty TwiML.
    const auto t =
        post(server.port(), signed_twilio(twilio_message(twilio_sid_of(1), "+962791234567", "HELLO")));
    EXPECT_EQ(t.status, 200) << t.body;
    EXPECT_EQ(t.headers.at("content-type"), "text/xml");
    EXPECT_EQ(t.body, empty_twiml);
    const auto sms = twilio.wait_for(1);
    ASSERT_EQ(sms.size(), 1u);
    EXPECT_EQ(sms[0].method, "POST");
    EXPECT_EQ(sms[0].target, twilio_path);
    EXPECT_EQ(sms[0].headers.at("authorization"), twilio_basic);
    EXPECT_EQ(sms[0].headers.at("content-type"), "application/x-www-form-urlencoded");
    EXPECT_EQ(form_field(sms[0].body, "To"), "+962791234567");
    EXPECT_EQ(form_field(sms[0].body, "From"), twilio_address);
    EXPECT_EQ(form_field(sms[0].body, "Body"), reply_text);
    EXPECT_EQ(form_field(sms[0].body, "StatusCallback"), public_url + "/c/sms/status");

    // Telegram: the Update, authenticated by the secret token header; the answer is an empty 200.
    const auto g = post(server.port(), signed_telegram(telegram_update(900001, 1111111, 17, "HELLO")));
    EXPECT_EQ(g.status, 200) << g.body;
    EXPECT_EQ(g.body, "");
    const auto tg = telegram.wait_for(1);
    ASSERT_EQ(tg.size(), 1u);
    EXPECT_EQ(tg[0].method, "POST");
    EXPECT_EQ(tg[0].target, telegram_path);  // the token in the path is Telegram's only auth
    EXPECT_EQ(tg[0].headers.count("authorization"), 0u);
    EXPECT_EQ(json::parse(tg[0].body), json({{"chat_id", 1111111}, {"text", reply_text}}));

    // WhatsApp: Meta's JSON, X-Hub-Signature-256 over the raw bytes.
    const auto w =
        post(server.port(), signed_whatsapp(whatsapp_message("962790000001", "wamid.IN1", "HELLO")));
    EXPECT_EQ(w.status, 200) << w.body;
    const auto wa = whatsapp.wait_for(1);
    ASSERT_EQ(wa.size(), 1u);
    EXPECT_EQ(wa[0].method, "POST");
    EXPECT_EQ(wa[0].target, wa_path);
    EXPECT_EQ(wa[0].headers.at("authorization"), "Bearer " + wa_access_token);
    EXPECT_EQ(json::parse(wa[0].body),
              json({{"messaging_product", "whatsapp"},
                    {"to", "962790000001"},
                    {"type", "text"},
                    {"text", {{"body", reply_text}}}}));

    EXPECT_EQ(server.stop(), 0);
    // Each API's success answer was read: the replies are sent, under the provider's id.
    EXPECT_EQ(outbound(),
              (std::vector<std::string>{
                  "sms SM00000000000000000000000000000001 sent", "tg 1111111:1 sent", "wa wamid.X1 sent"}));
    EXPECT_EQ(count("SELECT count(*) FROM messages WHERE direction = 'in'"), 3);
    EXPECT_EQ(count("SELECT count(*) FROM runs WHERE flow_id = 'hello'"), 3);
    EXPECT_EQ(count("SELECT count(*) FROM contact_urns WHERE reveal(urn) IN ('tel:+962791234567', "
                    "'telegram:1111111', 'whatsapp:962790000001')"),
              3);
    EXPECT_EQ(count("SELECT count(*) FROM contacts WHERE name = 'هدى'"), 1);
    expect_no_secrets(server.log());
}

// WhatsApp sends several people's messages in one webhook. On PostgreSQL with two writer lanes the
// route splits them by contact, one job per lane, and answers once every part has committed: each
// person gets their own reply, and the provider's retry of the whole webhook doubles nothing.
TEST_F(providers_integration, a_batch_from_three_people_on_two_writer_lanes_answers_each_of_them_once) {
    std::string why_not;
    const std::string database = test::new_database(test::backend::postgres, "", why_not);
    if (database.empty()) {
        GTEST_SKIP() << why_not;
    }
    std::ifstream in(dir.file("config.json"));
    json cfg = json::parse(in);
    cfg["store"] = {{"postgres", database}, {"writers", 2}};
    dir.write("config.json", cfg.dump(2));
    // Three people whose numbers span both lanes.
    std::vector<std::string> people;
    std::set<std::size_t> lanes;
    for (int n = 11; people.size() < 3 || lanes.size() < 2; ++n) {
        const std::string wa_id = "9627900000" + std::to_string(n);
        const std::size_t lane = gateway::writer::key_of("whatsapp:" + wa_id) % 2;
        if (people.size() < 2 || lanes.size() == 2 || !lanes.count(lane)) {
            people.push_back(wa_id);
            lanes.insert(lane);
        }
    }
    std::string contacts, messages;
    for (std::size_t i = 0; i < people.size(); ++i) {
        contacts += std::string(i ? "," : "") + R"({"profile":{"name":"P"},"wa_id":")" + people[i] + R"("})";
        messages += std::string(i ? "," : "") + R"({"from":")" + people[i] + R"(","id":"wamid.B)" +
                    std::to_string(i) +
                    R"(","timestamp":"1767225600","text":{"body":"HELLO"},"type":"text"})";
    }
    const std::string batch =
        R"({"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":)"
        R"({"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881",)"
        R"("phone_number_id":")" +
        wa_phone_number_id + R"("},"contacts":[)" + contacts + R"(],"messages":[)" + messages +
        R"(]},"field":"messages"}]}]})";

    test::server_process server(dir.file("config.json"));
    const auto first = post(server.port(), signed_whatsapp(batch));
    EXPECT_EQ(first.status, 200) << first.body;
    const auto again = post(server.port(), signed_whatsapp(batch));  // the provider's retry
    EXPECT_EQ(again.status, 200) << again.body;
    const auto sent = whatsapp.wait_for(3);
    std::multiset<std::string> to;
    for (const auto& r : sent) {
        to.insert(json::parse(r.body).at("to").get<std::string>());
    }
    EXPECT_EQ(to, std::multiset<std::string>(people.begin(), people.end())) << "one reply to each";
    EXPECT_EQ(server.stop(), 0);
    EXPECT_EQ(whatsapp.received().size(), 3u) << "the retry sent nothing more";
    gateway::pq::connection db(database);
    EXPECT_EQ(db.q("SELECT count(*) FROM messages WHERE direction = 'in'").int64(0, 0), 3);
    EXPECT_EQ(db.q("SELECT count(*) FROM contacts").int64(0, 0), 3);
}

TEST_F(providers_integration, a_badly_signed_webhook_on_each_channel_gets_403_and_stores_nothing) {
    test::server_process server(dir.file("config.json"));
    const std::string forged_from = "+962795550001";

    const auto twilio_forged = twilio_message(twilio_sid_of(0xf01), forged_from, "HELLO");
    webhook other_token = signed_twilio(twilio_forged);
    other_token.headers["X-Twilio-Signature"] =
        handlers::twilio_handler::signature("another-token", public_url + "/c/sms/receive", twilio_forged);
    // Signed for a real participant, then the sender changed.
    auto genuine = twilio_message(twilio_sid_of(0xf02), "+962791234567", "HELLO");
    webhook changed_from = signed_twilio(genuine);
    std::replace(genuine.begin(),
                 genuine.end(),
                 form_fields::value_type{"From", "+962791234567"},
                 form_fields::value_type{"From", forged_from});
    changed_from.body = handlers::encode_form(genuine);
    webhook no_signature = signed_twilio(twilio_message(twilio_sid_of(0xf03), forged_from, "HELLO"));
    no_signature.headers.erase("X-Twilio-Signature");
    // Signed for the address the request reached, not the public URL.
    const auto local = twilio_message(twilio_sid_of(0xf04), forged_from, "HELLO");
    webhook host_url = signed_twilio(local);
    host_url.headers["X-Twilio-Signature"] = handlers::twilio_handler::signature(
        twilio_token, "http://127.0.0.1:" + std::to_string(server.port()) + "/c/sms/receive", local);

    webhook wrong_secret = signed_telegram(telegram_update(900101, 2222222, 1, "HELLO"));
    wrong_secret.headers["X-Telegram-Bot-Api-Secret-Token"] = "tg_secret-0123456788";
    webhook no_secret = signed_telegram(telegram_update(900102, 2222222, 2, "HELLO"));
    no_secret.headers.erase("X-Telegram-Bot-Api-Secret-Token");
    webhook token_as_secret = signed_telegram(telegram_update(900103, 2222222, 3, "HELLO"));
    token_as_secret.headers["X-Telegram-Bot-Api-Secret-Token"] = telegram_token;

    const std::string meta_body = whatsapp_message("962795550003", "wamid.FORGED1", "HELLO");
    webhook one_char = signed_whatsapp(meta_body);
    one_char.body = whatsapp_message("962795550004", "wamid.FORGED1", "HELLO");
    webhook other_secret = signed_whatsapp(meta_body);
    other_secret.headers["X-Hub-Signature-256"] = handlers::meta::signature("another-secret", meta_body);
    // The same document re-serialised: keys sorted, the name in raw UTF-8 instead of \u escapes.
    webhook reserialised = signed_whatsapp(meta_body);
    reserialised.body = json::parse(meta_body).dump();
    ASSERT_NE(reserialised.body, meta_body);
    webhook no_hub_signature = signed_whatsapp(meta_body);
    no_hub_signature.headers.erase("X-Hub-Signature-256");

    const std::vector<std::pair<const char*, webhook>> cases = {
        {"twilio: signed with another auth token", other_token},
        {"twilio: From changed after signing", changed_from},
        {"twilio: no X-Twilio-Signature", no_signature},
        {"twilio: signed for the Host address, not public_url", host_url},
        {"telegram: wrong secret token", wrong_secret},
        {"telegram: no secret token header", no_secret},
        {"telegram: the bot token as the secret", token_as_secret},
        {"whatsapp: one character changed after signing", one_char},
        {"whatsapp: signed with another app secret", other_secret},
        {"whatsapp: re-serialised JSON body", reserialised},
        {"whatsapp: no X-Hub-Signature-256", no_hub_signature},
    };
    for (const auto& [label, hook] : cases) {
        SCOPED_TRACE(label);
        EXPECT_EQ(post(server.port(), hook).status, 403);
    }

    // Then one genuine message on each: its reply is the first and only request each API sees.
    ASSERT_EQ(
        post(server.port(), signed_twilio(twilio_message(twilio_sid_of(1), "+962791234567", "HELLO"))).status,
        200);
    ASSERT_EQ(post(server.port(), signed_telegram(telegram_update(900001, 1111111, 17, "HELLO"))).status,
              200);
    ASSERT_EQ(
        post(server.port(), signed_whatsapp(whatsapp_message("962790000001", "wamid.IN1", "HELLO"))).status,
        200);
    ASSERT_EQ(twilio.wait_for(1).size(), 1u);
    ASSERT_EQ(telegram.wait_for(1).size(), 1u);
    ASSERT_EQ(whatsapp.wait_for(1).size(), 1u);
    EXPECT_EQ(server.stop(), 0);

    EXPECT_EQ(form_field(twilio.received().at(0).body, "To"), "+962791234567");
    EXPECT_EQ(json::parse(telegram.received().at(0).body).at("chat_id"), 1111111);
    EXPECT_EQ(json::parse(whatsapp.received().at(0).body).at("to"), "962790000001");
    EXPECT_EQ(twilio.received().size(), 1u);
    EXPECT_EQ(telegram.received().size(), 1u);
    EXPECT_EQ(whatsapp.received().size(), 1u);
    EXPECT_EQ(count("SELECT count(*) FROM messages WHERE direction = 'in'"), 3);
    EXPECT_EQ(count("SELECT count(*) FROM contacts"), 3);
    EXPECT_EQ(count("SELECT count(*) FROM contact_urns WHERE reveal(urn) IN ('tel:+962795550001', "
                    "'telegram:2222222', 'whatsapp:962795550003', 'whatsapp:962795550004')"),
              0);
    expect_no_secrets(server.log());
}

TEST_F(providers_integration, a_burst_of_50_on_a_channel_limited_to_5_per_second_takes_10_s) {
    test::server_process server(dir.file("config.json"));
    // 50 participants text the keyword at once: 50 one-segment replies queued on the Twilio channel.
    std::set<std::string> numbers;
    for (int i = 0; i < 50; ++i) {
        const std::string from = "+9627912345" + std::string(i < 10 ? "0" : "") + std::to_string(i);
        numbers.insert(from);
        ASSERT_EQ(
            post(server.port(), signed_twilio(twilio_message(twilio_sid_of(100 + i), from, "HELLO"))).status,
            200);
    }
    const auto got = twilio.wait_for(50, std::chrono::seconds(30));
    ASSERT_EQ(got.size(), 50u);

    std::set<std::string> to;
    auto first = got.front().at;
    auto last = got.front().at;
    for (const auto& r : got) {
        first = std::min(first, r.at);
        last = std::max(last, r.at);
        EXPECT_EQ(r.target, twilio_path);
        EXPECT_EQ(r.headers.at("authorization"), twilio_basic);
        EXPECT_EQ(form_field(r.body, "Body"), reply_text);
        to.insert(form_field(r.body, "To"));
    }
    EXPECT_EQ(to, numbers) << "each participant gets exactly one reply";
    // 49 intervals of 1/5 s: 9.8 s, within 10 s ± 10%.
    const double seconds = std::chrono::duration<double>(last - first).count();
    EXPECT_GE(seconds, 9.0);
    EXPECT_LE(seconds, 11.0);
    RecordProperty("burst_seconds", std::to_string(seconds));

    EXPECT_EQ(server.stop(), 0);
    EXPECT_EQ(count("SELECT count(*) FROM messages WHERE direction = 'out' AND channel_id = 'sms' AND "
                    "state = 'sent' AND segments = 1"),
              50);
}

}  // namespace
}  // namespace flowgate
