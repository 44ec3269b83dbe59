#include "handlers/whatsapp.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "handlers/meta.hpp"
#include "handlers/registry.hpp"

namespace flowgate::handlers {
namespace {

using namespace std::chrono_literals;

// The Meta SDK's test secret (providers.md §7.3), so its published vector applies to this channel.
const std::string app_secret = "TEST_APP_SECRET";
const std::string verify_token = "verify-me-123";
const std::string access_token = "EAAG-test-token";

channel_settings settings(bool with_template) {
    channel_settings s;
    s.id = "wa";
    s.type = "whatsapp";
    s.default_country = "JO";
    s.values["phone_number_id"] = "106540352242922";
    s.values["access_token"] = access_token;
    s.values["app_secret"] = app_secret;
    s.values["verify_token"] = verify_token;
    if (with_template) {
        s.values["template_name"] = "flowgate_update";
        s.values["template_language"] = "ar";
    }
    return s;
}

// One change of the "messages" field for our number, as Meta wraps it.
std::string envelope(const std::string& value) {
    return R"({"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"962790000000","phone_number_id":"106540352242922"},)" +
           value + "}}]}]}";
}

std::string text_message(const std::string& from, const std::string& id, const std::string& body) {
    return envelope(R"("contacts":[{"profile":{"name":"Huda"},"wa_id":")" + from +
                    R"("}],"messages":[{"from":")" + from + R"(","id":")" + id +
                    R"(","timestamp":"1717000000","type":"text","text":{"body":")" + body + R"("}}])");
}

std::string status(const std::string& id, const std::string& state, const std::string& errors = "") {
    return envelope(R"("statuses":[{"id":")" + id + R"(","status":")" + state +
                    R"(","timestamp":"1717000001","recipient_id":"962791234567")" +
                    (errors.empty() ? "" : R"(,"errors":)" + errors) + "}]");
}

enum class sig { none, valid, wrong_digit, uppercase_hex, reserialised, wrong_secret, body_changed };

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
    r.path = "/c/wa/receive";
    r.public_url = "https://sms.example.org/c/wa/receive";
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
        case sig::uppercase_hex:
            for (std::size_t i = 7; i < header.size(); ++i) {
                header[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(header[i])));
            }
            break;
        case sig::reserialised:
            // Signed as Meta sent it, but the bytes handed over are the JSON parsed and dumped again.
            r.body = nlohmann::json::parse(body).dump();
            break;
        case sig::wrong_secret:
            header = meta::signature("another-app-secret", body);
            break;
        case sig::body_changed:
            r.body[r.body.size() / 2] = r.body[r.body.size() / 2] == 'a' ? 'b' : 'a';
            break;
    }
    r.headers.push_back({"X-Hub-Signature-256", header});
    return r;
}

void run_cases(const whatsapp_handler& h, const std::vector<incoming_case>& cases) {
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const auto result = h.receive(endpoint::receive, post(c.body, c.signature));
        EXPECT_EQ(result.http_status, c.status);
        EXPECT_EQ(result.events, c.events);
        EXPECT_FALSE(result.respond);
        const auto reply = h.reply(endpoint::receive, result);
        EXPECT_EQ(reply.status, c.status);
        EXPECT_EQ(reply.content_type, "application/json");
        EXPECT_EQ(reply.body.find(app_secret), std::string::npos);
        EXPECT_EQ(reply.body.find("sha256="), std::string::npos);
    }
}

TEST(whatsapp, meta_sdk_signature_vector) {
    // WhatsApp/WhatsApp-Nodejs-SDK src/__tests__/utils.test.ts with jest.config.ts's app secret.
    EXPECT_EQ(meta::signature("TEST_APP_SECRET", "test"),
              "sha256=0c61947b610d4f45e65f3d680e26027121ec2413e77598bcb6cfc6e0d9888221");

    const whatsapp_handler h(settings(false));
    raw_request r = post("test", sig::none);
    r.headers.push_back(
        {"X-Hub-Signature-256", "sha256=0c61947b610d4f45e65f3d680e26027121ec2413e77598bcb6cfc6e0d9888221"});
    // The signature passes; "test" is then not JSON.
    const auto accepted = h.receive(endpoint::receive, r);
    EXPECT_EQ(accepted.http_status, 400);
    EXPECT_EQ(accepted.reason, "malformed JSON body");
    r.headers.back().value.back() = '2';
    EXPECT_EQ(h.receive(endpoint::receive, r).http_status, 403);
}

TEST(whatsapp, incoming_messages) {
    const whatsapp_handler h(settings(false));
    // Meta escapes non-ASCII as \uXXXX in what it signs.
    const std::string arabic = R"(\u0645\u0631\u062d\u0628\u0627)";
    run_cases(
        h,
        {
            {"text message with the contact's name",
             text_message("962791234567", "wamid.HBgM1", "JOIN"),
             sig::valid,
             200,
             {incoming_message{"wamid.HBgM1", "whatsapp:962791234567", "JOIN", "Huda"}}},
            {"Arabic text, escaped as Meta signs it",
             text_message("962791234567", "wamid.HBgM2", arabic),
             sig::valid,
             200,
             {incoming_message{"wamid.HBgM2", "whatsapp:962791234567", "مرحبا", "Huda"}}},
            {"upper-case hex accepted",
             text_message("962791234567", "wamid.HBgM1", "JOIN"),
             sig::uppercase_hex,
             200,
             {incoming_message{"wamid.HBgM1", "whatsapp:962791234567", "JOIN", "Huda"}}},
            {"quick-reply button",
             envelope(
                 R"("messages":[{"from":"2348021234567","id":"wamid.B","type":"button","button":{"payload":"yes","text":"Yes"}}])"),
             sig::valid,
             200,
             {incoming_message{"wamid.B", "whatsapp:2348021234567", "Yes", ""}}},
            {"interactive list reply",
             envelope(
                 R"("messages":[{"from":"2348021234567","id":"wamid.L","type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"2","title":"Irbid"}}}])"),
             sig::valid,
             200,
             {incoming_message{"wamid.L", "whatsapp:2348021234567", "Irbid", ""}}},
            {"image with caption",
             envelope(
                 R"("messages":[{"from":"2348021234567","id":"wamid.I","type":"image","image":{"id":"m1","mime_type":"image/jpeg","caption":"my card"}}])"),
             sig::valid,
             200,
             {incoming_message{"wamid.I", "whatsapp:2348021234567", "my card", ""}}},
            {"voice note without text",
             envelope(
                 R"("messages":[{"from":"2348021234567","id":"wamid.A","type":"audio","audio":{"id":"m2","mime_type":"audio/ogg"}}])"),
             sig::valid,
             200,
             {incoming_message{"wamid.A", "whatsapp:2348021234567", "", ""}}},
            {"two messages, names matched by wa_id",
             envelope(
                 R"("contacts":[{"profile":{"name":"Ali"},"wa_id":"962791111111"},{"profile":{"name":"Sara"},"wa_id":"962792222222"}],"messages":[{"from":"962792222222","id":"wamid.1","type":"text","text":{"body":"1"}},{"from":"962791111111","id":"wamid.2","type":"text","text":{"body":"2"}}])"),
             sig::valid,
             200,
             {incoming_message{"wamid.1", "whatsapp:962792222222", "1", "Sara"},
              incoming_message{"wamid.2", "whatsapp:962791111111", "2", "Ali"}}},
            {"reaction ignored",
             envelope(
                 R"("messages":[{"from":"962791234567","id":"wamid.R","type":"reaction","reaction":{"message_id":"wamid.X","emoji":"👍"}}])"),
             sig::valid,
             200,
             {}},
            {"another number of the same app ignored",
             R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"999"},"messages":[{"from":"962791234567","id":"wamid.O","type":"text","text":{"body":"hi"}}]}}]}]})",
             sig::valid,
             200,
             {}},
            {"other fields ignored",
             R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"account_update","value":{"event":"VERIFIED_ACCOUNT"}}]}]})",
             sig::valid,
             200,
             {}},
            {"another object ignored", R"({"object":"page","entry":[]})", sig::valid, 200, {}},
            {"sender not digits", text_message("+9627x", "wamid.S", "hi"), sig::valid, 400, {}},
            {"message without id",
             envelope(R"("messages":[{"from":"962791234567","type":"text","text":{"body":"hi"}}])"),
             sig::valid,
             400,
             {}},
            {"malformed JSON, signed", "{\"object\":", sig::valid, 400, {}},
            {"JSON array, signed", "[1,2]", sig::valid, 400, {}},
            {"no entry", R"({"object":"whatsapp_business_account"})", sig::valid, 400, {}},
        });
}

TEST(whatsapp, signature_is_checked_on_the_raw_bytes) {
    const whatsapp_handler h(settings(false));
    const std::string body =
        text_message("962791234567", "wamid.HBgM2", R"(\u0645\u0631\u062d\u0628\u0627 \/ \u0040)");
    run_cases(h,
              {
                  {"valid",
                   body,
                   sig::valid,
                   200,
                   {incoming_message{"wamid.HBgM2", "whatsapp:962791234567", "مرحبا / @", "Huda"}}},
                  {"missing header", body, sig::none, 403, {}},
                  {"one hex digit changed", body, sig::wrong_digit, 403, {}},
                  {"re-serialised JSON body", body, sig::reserialised, 403, {}},
                  {"another app's secret", body, sig::wrong_secret, 403, {}},
                  {"one byte of the body changed", body, sig::body_changed, 403, {}},
                  {"checked before parsing", "{not json", sig::none, 403, {}},
                  {"statuses need it too", status("wamid.S1", "delivered"), sig::none, 403, {}},
              });
    // The re-serialised body really differs (Meta escapes what nlohmann writes as UTF-8).
    EXPECT_NE(nlohmann::json::parse(body).dump(), body);
}

TEST(whatsapp, statuses) {
    const whatsapp_handler h(settings(false));
    run_cases(
        h,
        {
            {"sent",
             status("wamid.S1", "sent"),
             sig::valid,
             200,
             {status_update{"wamid.S1", msg_state::sent, ""}}},
            {"delivered",
             status("wamid.S1", "delivered"),
             sig::valid,
             200,
             {status_update{"wamid.S1", msg_state::delivered, ""}}},
            {"read counts as delivered",
             status("wamid.S1", "read"),
             sig::valid,
             200,
             {status_update{"wamid.S1", msg_state::delivered, ""}}},
            {"failed keeps Meta's code",
             status(
                 "wamid.S1",
                 "failed",
                 R"([{"code":131047,"title":"Re-engagement message","error_data":{"details":"more than 24 hours"}}])"),
             sig::valid,
             200,
             {status_update{"wamid.S1", msg_state::failed, "131047"}}},
            {"131050 also stops the contact",
             status("wamid.S2", "failed", R"([{"code":131050,"title":"User stopped marketing messages"}])"),
             sig::valid,
             200,
             {status_update{"wamid.S2", msg_state::failed, "131050"},
              channel_event{channel_event::kind::stop_contact, "whatsapp:962791234567"}}},
            {"failed without errors",
             status("wamid.S3", "failed"),
             sig::valid,
             200,
             {status_update{"wamid.S3", msg_state::failed, ""}}},
            {"unknown status ignored", status("wamid.S1", "deleted"), sig::valid, 200, {}},
            {"status without id",
             envelope(R"("statuses":[{"status":"sent","recipient_id":"962791234567"}])"),
             sig::valid,
             400,
             {}},
        });
    // Statuses come to the one callback URL, but /status takes them as well.
    const auto r = h.receive(endpoint::status, post(status("wamid.S1", "sent"), sig::valid));
    EXPECT_EQ(r.events, (std::vector<event>{status_update{"wamid.S1", msg_state::sent, ""}}));
}

struct handshake_case {
    const char* label;
    std::string query;
    int status;
    std::string body;  // answered as text/plain when status is 200
};

TEST(whatsapp, verification_handshake) {
    const whatsapp_handler h(settings(false));
    const std::vector<handshake_case> cases = {
        {"providers.md example",
         "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=verify-me-123",
         200,
         "1158201444"},
        {"any order", "hub.verify_token=verify-me-123&hub.challenge=42&hub.mode=subscribe", 200, "42"},
        {"wrong token",
         "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=verify-me-124",
         403,
         ""},
        {"token prefix", "hub.mode=subscribe&hub.challenge=1&hub.verify_token=verify-me", 403, ""},
        {"no token", "hub.mode=subscribe&hub.challenge=1158201444", 403, ""},
        {"wrong mode", "hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=verify-me-123", 403, ""},
        {"no mode", "hub.challenge=1&hub.verify_token=verify-me-123", 403, ""},
        {"no challenge", "hub.mode=subscribe&hub.verify_token=verify-me-123", 400, ""},
        {"markup in the challenge not echoed",
         "hub.mode=subscribe&hub.challenge=%3Cscript%3E&hub.verify_token=verify-me-123",
         400,
         ""},
        {"spaces in the challenge not echoed",
         "hub.mode=subscribe&hub.challenge=a+b&hub.verify_token=verify-me-123",
         400,
         ""},
        {"bad escape", "hub.mode=%ZZ", 400, ""},
        {"empty query", "", 403, ""},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        raw_request r;
        r.method = "GET";
        r.path = "/c/wa/receive";
        r.query = c.query;
        const auto result = h.receive(endpoint::receive, r);
        EXPECT_TRUE(result.events.empty());
        if (c.status == 200) {
            ASSERT_TRUE(result.respond);
            EXPECT_EQ(result.respond->status, 200);
            EXPECT_EQ(result.respond->content_type, "text/plain");
            EXPECT_EQ(result.respond->body, c.body);
        } else {
            EXPECT_FALSE(result.respond);
            EXPECT_EQ(result.http_status, c.status);
            EXPECT_EQ(h.reply(endpoint::receive, result).body.find(verify_token), std::string::npos);
        }
    }
}

TEST(whatsapp, empty_secrets_refuse_everything) {
    channel_settings s = settings(false);
    s.values["app_secret"] = "";
    s.values["verify_token"] = "";
    const whatsapp_handler h(s);
    raw_request r;
    r.method = "POST";
    r.body = text_message("962791234567", "wamid.1", "hi");
    r.headers.push_back({"X-Hub-Signature-256", meta::signature("", r.body)});
    EXPECT_EQ(h.receive(endpoint::receive, r).http_status, 403);
    r.method = "GET";
    r.query = "hub.mode=subscribe&hub.challenge=1&hub.verify_token=";
    EXPECT_EQ(h.receive(endpoint::receive, r).http_status, 403);
}

TEST(whatsapp, methods) {
    const whatsapp_handler h(settings(false));
    EXPECT_TRUE(h.allows(endpoint::receive, "GET"));
    EXPECT_TRUE(h.allows(endpoint::receive, "POST"));
    EXPECT_TRUE(h.allows(endpoint::status, "POST"));
    EXPECT_FALSE(h.allows(endpoint::status, "GET"));
    EXPECT_FALSE(h.allows(endpoint::receive, "PUT"));
}

TEST(whatsapp, reply_bodies) {
    const whatsapp_handler h(settings(false));
    EXPECT_EQ(h.reply(endpoint::receive, receive_result::accept({})).body, R"({"status":"accepted"})");
    const auto ignored = h.reply(endpoint::receive, receive_result::ignore("no messages or statuses"));
    EXPECT_EQ(ignored.status, 200);
    EXPECT_EQ(ignored.body, R"({"reason":"no messages or statuses","status":"ignored"})");
    const auto rejected = h.reply(endpoint::receive, receive_result::reject(403, "invalid signature"));
    EXPECT_EQ(rejected.status, 403);
    EXPECT_EQ(rejected.body, R"({"error":"invalid signature","status":"rejected"})");
}

const timestamp now = from_millis(1'800'000'000'000);

outgoing_message message(std::string text, std::optional<timestamp> last_inbound) {
    return {"6f1c2f7e-0000-4000-8000-000000000001",
            "wa",
            "whatsapp:962791234567",
            std::move(text),
            now,
            last_inbound};
}

struct send_case {
    const char* label;
    bool with_template;
    outgoing_message message;
    std::string body;
};

TEST(whatsapp, builds_send_requests) {
    const std::string text_body =
        R"({"messaging_product":"whatsapp","text":{"body":"مرحبا، تم تسجيلك"},"to":"962791234567","type":"text"})";
    const std::string template_body =
        R"({"messaging_product":"whatsapp","template":{"components":[{"parameters":[{"text":"مرحبا، تم تسجيلك","type":"text"}],"type":"body"}],"language":{"code":"ar"},"name":"flowgate_update"},"to":"962791234567","type":"template"})";
    const std::string arabic = "مرحبا، تم تسجيلك";
    const std::vector<send_case> cases = {
        {"inside the window: free text", true, message(arabic, now - 1h), text_body},
        {"just inside the window", true, message(arabic, now - 24h + 1ms), text_body},
        {"24 hours after: template", true, message(arabic, now - 24h), template_body},
        {"never wrote: template", true, message(arabic, std::nullopt), template_body},
        {"clock skew: last inbound ahead of now", true, message(arabic, now + 5s), text_body},
        // Documented choice: build_send must return a request, so the text goes and Meta answers
        // 131047 (invalid_message) if the window is indeed closed.
        {"outside the window without a template: the text, for Meta to refuse",
         false,
         message(arabic, now - 48h),
         text_body},
        {"tel: URN sent as digits",
         false,
         outgoing_message{"id", "wa", "tel:+962791234567", "hi", now, now - 1h},
         R"({"messaging_product":"whatsapp","text":{"body":"hi"},"to":"962791234567","type":"text"})"},
        {"template parameter on one line (Meta refuses line breaks and long runs of spaces)",
         true,
         message("Workshops:\n1 Amman\r\n2 Irbid\tnow     ok  two", std::nullopt),
         R"({"messaging_product":"whatsapp","template":{"components":[{"parameters":[{"text":"Workshops: 1 Amman 2 Irbid now ok  two","type":"text"}],"type":"body"}],"language":{"code":"ar"},"name":"flowgate_update"},"to":"962791234567","type":"template"})"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const whatsapp_handler h(settings(c.with_template));
        const send_request req = h.build_send(c.message);
        EXPECT_EQ(req.method, "POST");
        EXPECT_EQ(req.url, "https://graph.facebook.com/v21.0/106540352242922/messages");
        EXPECT_EQ(find_header(req.headers, "authorization"), "Bearer " + access_token);
        EXPECT_EQ(find_header(req.headers, "content-type"), "application/json");
        EXPECT_EQ(req.body, c.body);
    }
}

TEST(whatsapp, api_base_and_template_language_defaults) {
    channel_settings s = settings(false);
    s.values["api_base"] = "http://127.0.0.1:9002/v21.0/";
    s.values["template_name"] = "hello";
    const whatsapp_handler h(s);
    const auto req = h.build_send(message("x", std::nullopt));
    EXPECT_EQ(req.url, "http://127.0.0.1:9002/v21.0/106540352242922/messages");
    EXPECT_EQ(nlohmann::json::parse(req.body)["template"]["language"]["code"], "en");
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

std::string graph_error(int code, const std::string& extra = "") {
    return R"({"error":{"message":"failed","type":"OAuthException","code":)" + std::to_string(code) + extra +
           R"(,"fbtrace_id":"AbC"}})";
}

TEST(whatsapp, classifies_send_responses) {
    const whatsapp_handler h(settings(false));
    const auto m = message("hi", now - 1h);
    const std::vector<response_case> cases = {
        {"accepted",
         200,
         {},
         R"({"messaging_product":"whatsapp","contacts":[{"input":"962791234567","wa_id":"962791234567"}],"messages":[{"id":"wamid.HBgLOTYy","message_status":"accepted"}]})",
         send_error::none,
         "wamid.HBgLOTYy"},
        {"200 without messages",
         200,
         {},
         R"({"messaging_product":"whatsapp"})",
         send_error::bad_response,
         ""},
        {"200 not JSON", 200, {}, "OK", send_error::bad_response, ""},
        {"outside the window", 400, {}, graph_error(131047), send_error::invalid_message, ""},
        {"opted out", 400, {}, graph_error(131050), send_error::contact_stopped, ""},
        {"undeliverable", 400, {}, graph_error(131026), send_error::invalid_message, ""},
        {"invalid parameter", 400, {}, graph_error(100), send_error::invalid_message, ""},
        {"400 without a Graph body", 400, {}, "bad", send_error::invalid_message, ""},
        {"expired token", 401, {}, graph_error(190), send_error::config, ""},
        {"permission", 403, {}, graph_error(200), send_error::config, ""},
        {"template missing", 404, {}, graph_error(132001), send_error::config, ""},
        {"template parameter count", 400, {}, graph_error(132000), send_error::config, ""},
        {"throughput with Retry-After",
         400,
         {{"Retry-After", "30"}},
         graph_error(130429),
         send_error::throttled,
         "",
         30s},
        {"pair rate", 400, {}, graph_error(131056), send_error::throttled, ""},
        {"WABA rate limit", 400, {}, graph_error(80007), send_error::throttled, ""},
        {"429 with Retry-After", 429, {{"retry-after", "12"}}, "", send_error::throttled, "", 12s},
        {"429 with an HTTP-date Retry-After",
         429,
         {{"Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"}},
         "",
         send_error::throttled,
         ""},
        {"500", 500, {}, graph_error(1), send_error::server_error, ""},
        {"503 without body", 503, {}, "", send_error::server_error, ""},
        {"redirect", 302, {}, "", send_error::bad_response, ""},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const auto r = h.parse_send_response(m, {c.status, c.headers, c.body});
        EXPECT_EQ(r.error, c.error) << to_string(r.error);
        EXPECT_EQ(r.provider_id, c.provider_id);
        EXPECT_EQ(r.retry_after, c.retry_after);
        EXPECT_EQ(r.detail.find(access_token), std::string::npos);
    }
}

TEST(whatsapp, is_registered_with_its_settings) {
    const auto* t = find_handler_type("whatsapp");
    ASSERT_NE(t, nullptr);
    std::vector<std::string> names;
    for (const auto& s : t->settings) {
        names.push_back(s.name + (s.required ? "!" : "") +
                        (s.type == setting_spec::kind::secret ? ":secret"
                         : s.type == setting_spec::kind::url  ? ":url"
                                                              : ""));
    }
    EXPECT_EQ(names,
              (std::vector<std::string>{"phone_number_id!",
                                        "access_token!:secret",
                                        "app_secret!:secret",
                                        "verify_token!:secret",
                                        "api_base:url",
                                        "template_name",
                                        "template_language"}));
    EXPECT_NE(t->make(settings(true)), nullptr);
}

}  // namespace
}  // namespace flowgate::handlers
