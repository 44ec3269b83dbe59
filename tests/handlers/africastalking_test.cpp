#include "handlers/africastalking.hpp"

#include <gtest/gtest.h>

#include "handlers/registry.hpp"

namespace flowgate::handlers {
namespace {

const std::string url_secret = "Zq7-url-secret-for-tests";
const std::string api_key = "atsk_test_0123456789abcdef";

channel_settings settings() {
    channel_settings s;
    s.id = "at-ng";
    s.type = "africastalking";
    s.default_country = "NG";
    s.values["address"] = "12345";
    s.values["username"] = "flowgate";
    s.values["api_key"] = api_key;
    s.values["url_secret"] = url_secret;
    return s;
}

const std::string form = "application/x-www-form-urlencoded";
const std::string good = "secret=" + url_secret;

// One line of the spec: a request and what must come of it.
struct incoming_case {
    const char* label;
    endpoint ep;
    std::string query;
    std::string content_type;
    std::string body;
    int status;
    std::vector<event> events;
};

raw_request make_request(const incoming_case& c) {
    raw_request r;
    r.method = "POST";
    r.path = c.ep == endpoint::receive ? "/c/at-ng/receive" : "/c/at-ng/status";
    r.query = c.query;
    r.public_url = "https://sms.example.org" + r.path + (c.query.empty() ? "" : "?" + c.query);
    r.body = c.body;
    if (!c.content_type.empty()) {
        r.headers.push_back({"Content-Type", c.content_type});
    }
    return r;
}

void run_cases(const std::vector<incoming_case>& cases) {
    const africastalking_handler h(settings());
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const auto result = h.receive(c.ep, make_request(c));
        EXPECT_EQ(result.http_status, c.status);
        EXPECT_EQ(result.events, c.events);
        if (c.status >= 400) {
            EXPECT_EQ(result.result, receive_result::outcome::rejected);
            EXPECT_TRUE(result.events.empty());
        }
        const auto reply = h.reply(c.ep, result);
        EXPECT_EQ(reply.status, c.status);
        EXPECT_EQ(reply.body.find(url_secret), std::string::npos);
        EXPECT_EQ(reply.body.find(api_key), std::string::npos);
        if (c.body.size() > 12) {
            EXPECT_EQ(reply.body.find(c.body), std::string::npos);
        }
    }
}

channel_event stop(std::string urn) {
    return channel_event{channel_event::kind::stop_contact, std::move(urn)};
}

// providers.md §3.1: the incoming message notification's fields.
const std::string incoming_body =
    "date=2018-03-19T08%3A34%3A18.445Z&from=%2B2348021234567&to=12345&text=JOIN&id=ATXid_in_1"
    "&linkId=SampleLinkId123&networkCode=62130";

TEST(africastalking, incoming_messages) {
    run_cases({
        {"incoming message notification (§3.1)",
         endpoint::receive,
         good,
         form,
         incoming_body,
         200,
         {incoming_message{"ATXid_in_1", "tel:+2348021234567", "JOIN", ""}}},
        {"content type with charset",
         endpoint::receive,
         good,
         form + "; charset=utf-8",
         incoming_body,
         200,
         {incoming_message{"ATXid_in_1", "tel:+2348021234567", "JOIN", ""}}},
        {"national number with the default country (§10 vector)",
         endpoint::receive,
         good,
         form,
         "from=0802%20123%204567&to=12345&text=hi&id=m2",
         200,
         {incoming_message{"m2", "tel:+2348021234567", "hi", ""}}},
        {"Arabic text, '+' as a space",
         endpoint::receive,
         good,
         form,
         "from=%2B2348021234567&to=12345&text=%D9%85%D8%B1%D8%AD%D8%A8%D8%A7+1&id=m3",
         200,
         {incoming_message{"m3", "tel:+2348021234567", "مرحبا 1", ""}}},
        {"empty text accepted",
         endpoint::receive,
         good,
         form,
         "from=%2B2348021234567&text=&id=m4",
         200,
         {incoming_message{"m4", "tel:+2348021234567", "", ""}}},
        {"secret among other query parameters",
         endpoint::receive,
         "channel=x&" + good,
         form,
         incoming_body,
         200,
         {incoming_message{"ATXid_in_1", "tel:+2348021234567", "JOIN", ""}}},
        {"missing id", endpoint::receive, good, form, "from=%2B2348021234567&text=x", 400, {}},
        {"missing from", endpoint::receive, good, form, "text=x&id=m1", 400, {}},
        {"invalid from", endpoint::receive, good, form, "from=nobody&text=x&id=m1", 400, {}},
        {"missing text", endpoint::receive, good, form, "from=%2B2348021234567&id=m1", 400, {}},
        {"text not UTF-8", endpoint::receive, good, form, "from=%2B2348021234567&text=%FF&id=m1", 400, {}},
        {"bad form escape", endpoint::receive, good, form, "from=%ZZ&text=x&id=m1", 400, {}},
        {"JSON is not what Africa's Talking sends",
         endpoint::receive,
         good,
         "application/json",
         R"({"from":"+2348021234567","text":"x","id":"m1"})",
         415,
         {}},
        {"no content type", endpoint::receive, good, "", incoming_body, 415, {}},
    });
}

TEST(africastalking, url_secret_is_required) {
    std::string one_changed = url_secret;
    one_changed.back() = one_changed.back() == 's' ? 't' : 's';
    run_cases({
        {"no query", endpoint::receive, "", form, incoming_body, 403, {}},
        {"no secret parameter", endpoint::receive, "token=" + url_secret, form, incoming_body, 403, {}},
        {"empty secret", endpoint::receive, "secret=", form, incoming_body, 403, {}},
        {"wrong secret", endpoint::receive, "secret=not-the-secret", form, incoming_body, 403, {}},
        {"one changed character", endpoint::receive, "secret=" + one_changed, form, incoming_body, 403, {}},
        {"a prefix of the secret",
         endpoint::receive,
         "secret=" + url_secret.substr(0, url_secret.size() - 1),
         form,
         incoming_body,
         403,
         {}},
        {"the secret in the body does not count",
         endpoint::receive,
         "",
         form,
         incoming_body + "&" + good,
         403,
         {}},
        {"checked before parsing", endpoint::receive, "", form, "from=%ZZ", 403, {}},
        {"checked before the content type", endpoint::receive, "", "text/plain", "x", 403, {}},
        {"malformed query", endpoint::receive, "secret=%Z", form, incoming_body, 403, {}},
        {"status endpoint too", endpoint::status, "secret=wrong", form, "id=ATXid_1&status=Success", 403, {}},
        {"opt-out callback too",
         endpoint::receive,
         "",
         form,
         "senderId=AFRICASTKNG&phoneNumber=%2B2348021234567",
         403,
         {}},
    });

    // No url_secret configured lets nothing in.
    channel_settings s = settings();
    s.values.erase("url_secret");
    const africastalking_handler open(s);
    incoming_case c{"", endpoint::receive, "secret=", form, incoming_body, 403, {}};
    EXPECT_EQ(open.receive(endpoint::receive, make_request(c)).http_status, 403);
}

TEST(africastalking, delivery_reports) {
    const auto report = [](const char* status, msg_state state, const char* error) {
        std::string body = "id=ATXid_out_1&status=" + std::string(status) +
                           "&phoneNumber=%2B2348021234567&networkCode=62130&retryCount=0";
        if (*error != '\0') {
            body += "&failureReason=" + std::string(error);
        }
        return incoming_case{
            status, endpoint::status, good, form, body, 200, {status_update{"ATXid_out_1", state, error}}};
    };
    run_cases({
        report("Sent", msg_state::sent, ""),
        report("Submitted", msg_state::sent, ""),
        report("Buffered", msg_state::sent, ""),
        report("Success", msg_state::delivered, ""),
        report("Rejected", msg_state::failed, "InsufficientCredit"),
        report("Failed", msg_state::failed, "DeliveryFailure"),
        report("AbsentSubscriber", msg_state::failed, ""),
        report("Expired", msg_state::failed, ""),
        {"blacklisted recipient: failed, and the contact opted out",
         endpoint::status,
         good,
         form,
         "id=ATXid_out_2&status=Failed&phoneNumber=%2B2348021234567&failureReason=UserInBlackList",
         200,
         {status_update{"ATXid_out_2", msg_state::failed, "UserInBlackList"}, stop("tel:+2348021234567")}},
        {"unknown status", endpoint::status, good, form, "id=ATXid_out_1&status=Lost", 400, {}},
        {"missing status",
         endpoint::status,
         good,
         form,
         "id=ATXid_out_1&phoneNumber=%2B2348021234567",
         400,
         {}},
        {"missing id", endpoint::status, good, form, "status=Success", 400, {}},
    });
}

TEST(africastalking, opt_out_callback_stops_the_contact) {
    const std::string body = "senderId=AFRICASTKNG&phoneNumber=%2B2348021234567";
    run_cases({
        {"on the receive URL", endpoint::receive, good, form, body, 200, {stop("tel:+2348021234567")}},
        {"on the status URL", endpoint::status, good, form, body, 200, {stop("tel:+2348021234567")}},
        {"national number",
         endpoint::receive,
         good,
         form,
         "senderId=X&phoneNumber=08021234567",
         200,
         {stop("tel:+2348021234567")}},
        {"invalid number", endpoint::receive, good, form, "senderId=X&phoneNumber=abc", 400, {}},
    });
}

TEST(africastalking, reply_is_an_empty_200) {
    const africastalking_handler h(settings());
    const auto ok = h.reply(endpoint::receive, receive_result::accept({}));
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(ok.content_type, "text/plain");
    EXPECT_EQ(ok.body, "");
    const auto refused = h.reply(endpoint::receive, receive_result::reject(403, "invalid secret"));
    EXPECT_EQ(refused.status, 403);
    EXPECT_EQ(refused.body, "invalid secret");
}

TEST(africastalking, only_post_is_allowed) {
    const africastalking_handler h(settings());
    EXPECT_TRUE(h.allows(endpoint::receive, "POST"));
    EXPECT_TRUE(h.allows(endpoint::status, "POST"));
    EXPECT_FALSE(h.allows(endpoint::receive, "GET"));
}

TEST(africastalking, builds_the_send_request) {
    const africastalking_handler h(settings());
    const send_request req =
        h.build_send({"6f1c2f7e-0000-4000-8000-000000000001", "at-ng", "tel:+2348021234567", "مرحبا"});
    EXPECT_EQ(req.method, "POST");
    EXPECT_EQ(req.url, "https://api.africastalking.com/version1/messaging");
    ASSERT_EQ(req.headers.size(), 3u);
    EXPECT_EQ(find_header(req.headers, "apiKey"), api_key);
    EXPECT_EQ(find_header(req.headers, "Accept"), "application/json");
    EXPECT_EQ(find_header(req.headers, "Content-Type"), "application/x-www-form-urlencoded");
    EXPECT_EQ(req.body,
              "username=flowgate&to=%2B2348021234567&message=%D9%85%D8%B1%D8%AD%D8%A8%D8%A7&from=12345"
              "&enqueue=1");

    // The sandbox through api_base; no address: Africa's Talking's default sender.
    channel_settings s = settings();
    s.values["api_base"] = "https://api.sandbox.africastalking.com/";
    s.values["username"] = "sandbox";
    s.values.erase("address");
    const africastalking_handler sandbox(s);
    const send_request r2 = sandbox.build_send({"id-2", "at-ng", "tel:+2348021234567", "Hello & bye"});
    EXPECT_EQ(r2.url, "https://api.sandbox.africastalking.com/version1/messaging");
    EXPECT_EQ(r2.body, "username=sandbox&to=%2B2348021234567&message=Hello%20%26%20bye&enqueue=1");
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

std::string recipient(int code, const char* status, const char* id) {
    return R"({"SMSMessageData":{"Message":"Sent to 1/1 Total Cost: NGN 2.2000","Recipients":[{"statusCode":)" +
           std::to_string(code) + R"(,"number":"+2348021234567","status":")" + status +
           R"(","cost":"NGN 2.2000","messageId":")" + id + R"("}]}})";
}

TEST(africastalking, classifies_send_responses) {
    const africastalking_handler h(settings());
    const outgoing_message m{"id-1", "at-ng", "tel:+2348021234567", "hi"};
    const std::vector<response_case> cases = {
        {"success (§3.3 example)",
         201,
         {},
         R"({"SMSMessageData":{"Message":"Sent to 1/1 Total Cost: KES 0.8000","Recipients":[{"statusCode":101,"number":"+254711XXXYYY","status":"Success","cost":"KES 0.8000","messageId":"ATXid_…"}]}})",
         send_error::none,
         "ATXid_…"},
        {"processed", 201, {}, recipient(100, "Processed", "ATXid_a"), send_error::none, "ATXid_a"},
        {"queued", 201, {}, recipient(102, "Queued", "ATXid_b"), send_error::none, "ATXid_b"},
        {"statusCode as a string",
         201,
         {},
         R"({"SMSMessageData":{"Recipients":[{"statusCode":"101","messageId":"ATXid_c"}]}})",
         send_error::none,
         "ATXid_c"},
        {"invalid sender id with no recipient, HTTP 201 (§3.3)",
         201,
         {},
         R"({"SMSMessageData":{"Message":"InvalidSenderId","Recipients":[]}})",
         send_error::config,
         ""},
        {"Nigeria's do-not-disturb rejection, HTTP 409 (§3.3 example)",
         409,
         {},
         R"({"SMSMessageData":{"Message":"Sent to 0/1 Total Cost: 0","Recipients":[{"cost":"0","messageId":"None","number":"+2348XXXXXXX","status":"DoNotDisturbRejection","statusCode":409}]}})",
         send_error::invalid_message,
         ""},
        {"blacklisted: the contact opted out",
         201,
         {},
         recipient(406, "UserInBlacklist", "None"),
         send_error::contact_stopped,
         ""},
        {"risk hold", 201, {}, recipient(401, "RiskHold", "None"), send_error::invalid_message, ""},
        {"invalid sender id", 201, {}, recipient(402, "InvalidSenderId", "None"), send_error::config, ""},
        {"invalid phone number",
         201,
         {},
         recipient(403, "InvalidPhoneNumber", "None"),
         send_error::invalid_message,
         ""},
        {"unsupported number type",
         201,
         {},
         recipient(404, "UnsupportedNumberType", "None"),
         send_error::invalid_message,
         ""},
        {"insufficient balance",
         201,
         {},
         recipient(405, "InsufficientBalance", "None"),
         send_error::config,
         ""},
        {"could not route",
         201,
         {},
         recipient(407, "CouldNotRoute", "None"),
         send_error::invalid_message,
         ""},
        {"internal server error",
         201,
         {},
         recipient(500, "InternalServerError", "None"),
         send_error::server_error,
         ""},
        {"gateway error", 201, {}, recipient(501, "GatewayError", "None"), send_error::server_error, ""},
        {"rejected by gateway",
         201,
         {},
         recipient(502, "RejectedByGateway", "None"),
         send_error::invalid_message,
         ""},
        {"accepted without a message id",
         201,
         {},
         recipient(101, "Success", "None"),
         send_error::bad_response,
         ""},
        {"bad API key: HTTP 401 text (§3.3)",
         401,
         {{"Content-Type", "text/plain"}},
         "The supplied authentication is invalid",
         send_error::config,
         ""},
        {"HTTP 403", 403, {}, "", send_error::config, ""},
        {"429 with Retry-After",
         429,
         {{"Retry-After", "30"}},
         "",
         send_error::throttled,
         "",
         std::chrono::seconds{30}},
        {"429 without Retry-After", 429, {}, "", send_error::throttled, ""},
        {"500", 500, {}, "", send_error::server_error, ""},
        {"503", 503, {}, "Service Unavailable", send_error::server_error, ""},
        {"400 text", 400, {}, "Invalid phone number", send_error::invalid_message, ""},
        {"201 not JSON", 201, {}, "OK", send_error::bad_response, ""},
        {"201 empty", 201, {}, "", send_error::bad_response, ""},
        {"recipient without a status code",
         201,
         {},
         R"({"SMSMessageData":{"Recipients":[{"messageId":"x"}]}})",
         send_error::bad_response,
         ""},
        {"302", 302, {}, "", send_error::bad_response, ""},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const auto r = h.parse_send_response(m, {c.status, c.headers, c.body});
        EXPECT_EQ(r.error, c.error);
        EXPECT_EQ(r.provider_id, c.provider_id);
        EXPECT_EQ(r.retry_after, c.retry_after);
        EXPECT_EQ(r.detail.find(api_key), std::string::npos);
    }
}

TEST(africastalking, is_registered_with_its_settings) {
    const auto* t = find_handler_type("africastalking");
    ASSERT_NE(t, nullptr);
    EXPECT_NE(t->make(settings()), nullptr);
    const auto spec = [&](const char* name) -> const setting_spec* {
        for (const auto& s : t->settings) {
            if (s.name == name) {
                return &s;
            }
        }
        return nullptr;
    };
    ASSERT_NE(spec("username"), nullptr);
    EXPECT_TRUE(spec("username")->required);
    ASSERT_NE(spec("api_key"), nullptr);
    EXPECT_EQ(spec("api_key")->type, setting_spec::kind::secret);
    ASSERT_NE(spec("url_secret"), nullptr);
    EXPECT_EQ(spec("url_secret")->type, setting_spec::kind::secret);
    EXPECT_TRUE(spec("url_secret")->required);
    ASSERT_NE(spec("api_base"), nullptr);
    EXPECT_EQ(spec("api_base")->type, setting_spec::kind::url);
    ASSERT_NE(spec("address"), nullptr);
    EXPECT_EQ(t->settings.size(), 5u);
}

}  // namespace
}  // namespace flowgate::handlers
