#include "handlers/messenger.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "handlers/meta.hpp"
#include "handlers/registry.hpp"

namespace flowgate::handlers {
namespace {

using namespace std::chrono_literals;

const std::string app_secret = "messenger-app-secret";
const std::string verify_token = "fb-verify-456";
const std::string page_token = "EAAPage-test-token";

channel_settings settings() {
    channel_settings s;
    s.id = "fb";
    s.type = "messenger";
    s.default_country = "LB";
    s.values["page_id"] = "1234567890";
    s.values["page_access_token"] = page_token;
    s.values["app_secret"] = app_secret;
    s.values["verify_token"] = verify_token;
    return s;
}

// One messaging item for our page, as Meta wraps it.
std::string envelope(const std::string& item, const std::string& page = "1234567890") {
    return R"({"object":"page","entry":[{"id":")" + page + R"(","time":1459991487970,"messaging":[)" + item +
           "]}]}";
}

std::string from_user(const std::string& rest, const std::string& psid = "5678") {
    return R"({"sender":{"id":")" + psid +
           R"("},"recipient":{"id":"1234567890"},"timestamp":1459991487970,)" + rest + "}";
}

enum class sig { none, valid, wrong_digit, reserialised, wrong_secret };

struct incoming_case {
    const char* label;
    std::string body;
    sig signature;
    int status;
    std::vector<event> events;
};

raw_request post(const std::string& body, sig s) {
    raw_request r;
    r.method = "POST";
    r.path = "/c/fb/receive";
    r.headers.push_back({"Content-Type", "application/json"});
    r.body = body;
    std::string header = meta::signature(app_secret, body);
    switch (s) {
        case sig::none:
            return r;
        case sig::valid:
            break;
        case sig::wrong_digit:
            header.back() = header.back() == '0' ? '1' : '0';
            break;
        case sig::reserialised:
            r.body = nlohmann::json::parse(body).dump();
            break;
        case sig::wrong_secret:
            header = meta::signature("not-the-secret", body);
            break;
    }
    r.headers.push_back({"X-Hub-Signature-256", header});
    return r;
}

TEST(messenger, incoming) {
    const messenger_handler h(settings());
    const std::string hello = envelope(from_user(R"("message":{"mid":"m_AG5Hz2U","text":"Hello"})"));
    // Messenger docs: the signature is over the escaped payload (\u00e4, \/, \u0040 ...).
    const std::string escaped = envelope(
        from_user(R"("message":{"mid":"m_2","text":"\u0645\u0631\u062d\u0628\u0627 \u00e4 \/ \u0040"})"));
    const std::vector<incoming_case> cases = {
        {"text message",
         hello,
         sig::valid,
         200,
         {incoming_message{"m_AG5Hz2U", "facebook:5678", "Hello", ""}}},
        {"escaped unicode as Meta signs it",
         escaped,
         sig::valid,
         200,
         {incoming_message{"m_2", "facebook:5678", "مرحبا ä / @", ""}}},
        {"quick reply keeps its text",
         envelope(from_user(R"("message":{"mid":"m_3","text":"Yes","quick_reply":{"payload":"YES"}})")),
         sig::valid,
         200,
         {incoming_message{"m_3", "facebook:5678", "Yes", ""}}},
        {"attachment without text",
         envelope(from_user(
             R"("message":{"mid":"m_4","attachments":[{"type":"image","payload":{"url":"https://x/y.jpg"}}]})")),
         sig::valid,
         200,
         {incoming_message{"m_4", "facebook:5678", "", ""}}},
        {"echo of our own message ignored",
         envelope(from_user(R"("message":{"mid":"m_5","is_echo":true,"app_id":1,"text":"our reply"})")),
         sig::valid,
         200,
         {}},
        {"delivery marks each mid delivered",
         envelope(from_user(R"("delivery":{"mids":["m_out1","m_out2"],"watermark":1458668856253})")),
         sig::valid,
         200,
         {status_update{"m_out1", msg_state::delivered, ""},
          status_update{"m_out2", msg_state::delivered, ""}}},
        {"read ignored", envelope(from_user(R"("read":{"watermark":1458668856253})")), sig::valid, 200, {}},
        {"Get Started opens a conversation",
         envelope(from_user(R"("postback":{"title":"Get Started","payload":"get_started"})")),
         sig::valid,
         200,
         {channel_event{channel_event::kind::new_conversation, "facebook:5678"}}},
        {"other postbacks ignored",
         envelope(from_user(R"("postback":{"title":"Menu","payload":"MENU"})")),
         sig::valid,
         200,
         {}},
        {"another page of the same app ignored",
         envelope(from_user(R"("message":{"mid":"m_6","text":"Hello"})"), "999"),
         sig::valid,
         200,
         {}},
        {"two items in one entry",
         envelope(from_user(R"("message":{"mid":"m_7","text":"a"})") + "," +
                  from_user(R"("message":{"mid":"m_8","text":"b"})", "9012")),
         sig::valid,
         200,
         {incoming_message{"m_7", "facebook:5678", "a", ""},
          incoming_message{"m_8", "facebook:9012", "b", ""}}},
        {"not a page event", R"({"object":"instagram","entry":[]})", sig::valid, 200, {}},
        {"message without mid", envelope(from_user(R"("message":{"text":"Hello"})")), sig::valid, 400, {}},
        {"sender not a PSID",
         envelope(from_user(R"("message":{"mid":"m_9","text":"Hello"})", "abc")),
         sig::valid,
         400,
         {}},
        {"malformed JSON, signed", "{\"object\":\"page\",", sig::valid, 400, {}},
        {"missing signature", hello, sig::none, 403, {}},
        {"one hex digit changed", hello, sig::wrong_digit, 403, {}},
        {"re-serialised JSON body", escaped, sig::reserialised, 403, {}},
        {"wrong secret", hello, sig::wrong_secret, 403, {}},
        {"checked before parsing", "{not json", sig::none, 403, {}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const auto result = h.receive(endpoint::receive, post(c.body, c.signature));
        EXPECT_EQ(result.http_status, c.status);
        EXPECT_EQ(result.events, c.events);
        const auto reply = h.reply(endpoint::receive, result);
        EXPECT_EQ(reply.status, c.status);
        EXPECT_EQ(reply.body.find("sha256="), std::string::npos);
        EXPECT_EQ(reply.body.find(app_secret), std::string::npos);
    }
}

TEST(messenger, shares_the_meta_handshake) {
    const messenger_handler h(settings());
    raw_request r;
    r.method = "GET";
    r.path = "/c/fb/receive";
    r.query = "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=fb-verify-456";
    auto result = h.receive(endpoint::receive, r);
    ASSERT_TRUE(result.respond);
    EXPECT_EQ(result.respond->status, 200);
    EXPECT_EQ(result.respond->content_type, "text/plain");
    EXPECT_EQ(result.respond->body, "1158201444");

    r.query = "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=fb-verify-457";
    result = h.receive(endpoint::receive, r);
    EXPECT_FALSE(result.respond);
    EXPECT_EQ(result.http_status, 403);

    EXPECT_TRUE(h.allows(endpoint::receive, "GET"));
    EXPECT_TRUE(h.allows(endpoint::receive, "POST"));
    EXPECT_FALSE(h.allows(endpoint::status, "GET"));
}

TEST(messenger, builds_send_request) {
    const messenger_handler h(settings());
    const outgoing_message m{"6f1c2f7e-0000-4000-8000-000000000001",
                             "fb",
                             "facebook:5678",
                             "أهلاً بك",
                             from_millis(1'800'000'000'000),
                             std::nullopt};
    const send_request req = h.build_send(m);
    EXPECT_EQ(req.method, "POST");
    EXPECT_EQ(req.url, "https://graph.facebook.com/v21.0/1234567890/messages");
    EXPECT_EQ(find_header(req.headers, "authorization"), "Bearer " + page_token);
    EXPECT_EQ(find_header(req.headers, "content-type"), "application/json");
    EXPECT_EQ(req.url.find(page_token), std::string::npos);
    EXPECT_EQ(req.body,
              R"({"message":{"text":"أهلاً بك"},"messaging_type":"RESPONSE","recipient":{"id":"5678"}})");

    channel_settings s = settings();
    s.values["api_base"] = "http://127.0.0.1:9003/v21.0";
    EXPECT_EQ(messenger_handler(s).build_send(m).url, "http://127.0.0.1:9003/v21.0/1234567890/messages");
}

struct response_case {
    const char* label;
    int status;
    std::vector<http_header> headers;
    std::string body;
    send_error error;
    std::string provider_id;
    std::optional<std::chrono::seconds> retry_after = std::nullopt;
};

TEST(messenger, classifies_send_responses) {
    const messenger_handler h(settings());
    const outgoing_message m{"id", "fb", "facebook:5678", "hi", from_millis(0), std::nullopt};
    const std::vector<response_case> cases = {
        {"sent",
         200,
         {},
         R"({"recipient_id":"5678","message_id":"m_AG5Hz2U"})",
         send_error::none,
         "m_AG5Hz2U"},
        {"200 without message_id", 200, {}, R"({"recipient_id":"5678"})", send_error::bad_response, ""},
        {"outside the window",
         400,
         {},
         R"({"error":{"message":"(#10) outside of allowed window","type":"OAuthException","code":10,"error_subcode":2018278}})",
         send_error::invalid_message,
         ""},
        {"person not available",
         400,
         {},
         R"({"error":{"message":"(#551) This person isn't available right now.","code":551}})",
         send_error::invalid_message,
         ""},
        {"expired token",
         400,
         {},
         R"({"error":{"message":"Error validating access token","type":"OAuthException","code":190}})",
         send_error::config,
         ""},
        {"401", 401, {}, "", send_error::config, ""},
        {"page rate limit",
         400,
         {{"Retry-After", "60"}},
         R"({"error":{"message":"(#32) Page request limit reached","code":32}})",
         send_error::throttled,
         "",
         60s},
        {"429", 429, {}, "", send_error::throttled, ""},
        {"bad parameter",
         400,
         {},
         R"({"error":{"message":"(#100) bad","code":100}})",
         send_error::invalid_message,
         ""},
        {"500", 500, {}, "", send_error::server_error, ""},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const auto r = h.parse_send_response(m, {c.status, c.headers, c.body});
        EXPECT_EQ(r.error, c.error) << to_string(r.error);
        EXPECT_EQ(r.provider_id, c.provider_id);
        EXPECT_EQ(r.retry_after, c.retry_after);
    }
}

TEST(messenger, is_registered) {
    const auto* t = find_handler_type("messenger");
    ASSERT_NE(t, nullptr);
    ASSERT_EQ(t->settings.size(), 5u);
    EXPECT_EQ(t->settings[1].name, "page_access_token");
    EXPECT_EQ(t->settings[1].type, setting_spec::kind::secret);
    EXPECT_EQ(t->settings[4].name, "api_base");
    EXPECT_EQ(t->settings[4].type, setting_spec::kind::url);
    EXPECT_NE(t->make(settings()), nullptr);
}

}  // namespace
}  // namespace flowgate::handlers
