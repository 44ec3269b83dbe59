#include "handlers/infobip.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "handlers/registry.hpp"

namespace flowgate::handlers {
namespace {

const std::string url_secret = "ib-url-secret-for-tests-42";
const std::string api_key = "0123456789abcdef-ib-api-key";

channel_settings settings() {
    channel_settings s;
    s.id = "ib-jo";
    s.type = "infobip";
    s.default_country = "JO";
    s.values["address"] = "InfoSMS";
    s.values["api_key"] = api_key;
    s.values["api_base"] = "https://xy12z.api.infobip.com";
    s.values["url_secret"] = url_secret;
    return s;
}

const std::string json_type = "application/json";
const std::string good = "secret=" + url_secret;

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
    r.path = c.ep == endpoint::receive ? "/c/ib-jo/receive" : "/c/ib-jo/status";
    r.query = c.query;
    r.public_url = "https://sms.example.org" + r.path + (c.query.empty() ? "" : "?" + c.query);
    r.body = c.body;
    if (!c.content_type.empty()) {
        r.headers.push_back({"Content-Type", c.content_type});
    }
    return r;
}

void run_cases(const std::vector<incoming_case>& cases) {
    const infobip_handler h(settings());
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const auto result = h.receive(c.ep, make_request(c));
        EXPECT_EQ(result.http_status, c.status);
        EXPECT_EQ(result.events, c.events);
        if (c.status >= 400) {
            EXPECT_EQ(result.result, receive_result::outcome::rejected);
        }
        const auto reply = h.reply(c.ep, result);
        EXPECT_EQ(reply.status, c.status);
        EXPECT_EQ(reply.body.find(url_secret), std::string::npos);
        if (c.body.size() > 12) {
            EXPECT_EQ(reply.body.find(c.body), std::string::npos);
        }
    }
}

// providers.md §5.4: an inbound message as the MO_JSON_2 renderer sends it.
const std::string inbound_body = R"({"results":[{"messageId":"817790313235066447","from":"385916242493",
"to":"385921004026","text":"QUIZ Correct answer is Paris","cleanText":"Correct answer is Paris",
"keyword":"QUIZ","receivedAt":"2019-11-09T16:00:00.000+0000","smsCount":1,
"price":{"pricePerMessage":0,"currency":"EUR"},"callbackData":"callbackData"}],
"messageCount":1,"pendingMessageCount":0})";

// providers.md §5.3: a delivery report.
std::string report(const std::string& id, const std::string& status, const std::string& error) {
    return R"({"bulkId":"BULK-ID-123-xyz","messageId":")" + id +
           R"(","to":"962791234567","sender":"InfoSMS","sentAt":"2019-11-09T16:00:00.000+0000",
"doneAt":"2019-11-09T16:00:00.000+0000","messageCount":1,"mccMnc":"41601",
"price":{"pricePerMessage":0.01,"currency":"EUR"},"status":)" +
           status + R"(,"error":)" + error + R"(,"callbackData":"opaque"})";
}
std::string reports(const std::vector<std::string>& items) {
    std::string out = R"({"results":[)";
    for (std::size_t i = 0; i < items.size(); ++i) {
        out += (i ? "," : "") + items[i];
    }
    return out + "]}";
}

const std::string no_error =
    R"({"groupId":0,"groupName":"OK","id":0,"name":"NO_ERROR","description":"No Error","permanent":false})";
const std::string delivered =
    R"({"groupId":3,"groupName":"DELIVERED","id":5,"name":"DELIVERED_TO_HANDSET","description":"Message delivered to handset"})";

TEST(infobip, incoming_messages) {
    run_cases({
        {"MO_JSON_2 inbound message (§5.4)",
         endpoint::receive,
         good,
         json_type,
         inbound_body,
         200,
         {incoming_message{"817790313235066447", "tel:+385916242493", "QUIZ Correct answer is Paris", ""}}},
        {"Arabic text, Jordanian number without '+', two in one batch",
         endpoint::receive,
         good,
         json_type + "; charset=utf-8",
         R"({"results":[{"messageId":"a1","from":"962791234567","to":"InfoSMS","text":"انضم"},)"
         R"({"messageId":"a2","from":"+962791234568","to":"InfoSMS","text":"٣"}],"messageCount":2})",
         200,
         {incoming_message{"a1", "tel:+962791234567", "انضم", ""},
          incoming_message{"a2", "tel:+962791234568", "٣", ""}}},
        {"empty batch ignored", endpoint::receive, good, json_type, R"({"results":[]})", 200, {}},
        {"malformed JSON", endpoint::receive, good, json_type, R"({"results":[)", 400, {}},
        {"not an object", endpoint::receive, good, json_type, R"([1])", 400, {}},
        {"no results", endpoint::receive, good, json_type, R"({"messageCount":0})", 400, {}},
        {"results not an array", endpoint::receive, good, json_type, R"({"results":{}})", 400, {}},
        {"a result not an object", endpoint::receive, good, json_type, R"({"results":["x"]})", 400, {}},
        {"missing messageId",
         endpoint::receive,
         good,
         json_type,
         R"({"results":[{"from":"962791234567","text":"x"}]})",
         400,
         {}},
        {"numeric messageId",
         endpoint::receive,
         good,
         json_type,
         R"({"results":[{"messageId":5,"from":"962791234567","text":"x"}]})",
         400,
         {}},
        {"missing from",
         endpoint::receive,
         good,
         json_type,
         R"({"results":[{"messageId":"m","text":"x"}]})",
         400,
         {}},
        {"invalid from",
         endpoint::receive,
         good,
         json_type,
         R"({"results":[{"messageId":"m","from":"hello","text":"x"}]})",
         400,
         {}},
        {"missing text",
         endpoint::receive,
         good,
         json_type,
         R"({"results":[{"messageId":"m","from":"962791234567"}]})",
         400,
         {}},
        {"one bad result refuses the batch",
         endpoint::receive,
         good,
         json_type,
         R"({"results":[{"messageId":"a1","from":"962791234567","text":"x"},{"messageId":"a2"}]})",
         400,
         {}},
        {"form body", endpoint::receive, good, "application/x-www-form-urlencoded", "a=b", 415, {}},
    });
}

TEST(infobip, url_secret_is_required) {
    std::string one_changed = url_secret;
    one_changed[0] = one_changed[0] == 'i' ? 'j' : 'i';
    // The body re-serialised: the secret is in the URL, not over the body, so only the URL counts.
    const std::string reserialised = nlohmann::json::parse(inbound_body).dump();
    run_cases({
        {"no secret", endpoint::receive, "", json_type, inbound_body, 403, {}},
        {"wrong secret", endpoint::receive, "secret=wrong", json_type, inbound_body, 403, {}},
        {"one changed character",
         endpoint::receive,
         "secret=" + one_changed,
         json_type,
         inbound_body,
         403,
         {}},
        {"secret with a suffix", endpoint::receive, good + "x", json_type, inbound_body, 403, {}},
        {"the secret under another name",
         endpoint::receive,
         "token=" + url_secret,
         json_type,
         inbound_body,
         403,
         {}},
        {"checked before parsing", endpoint::receive, "", json_type, "{not json", 403, {}},
        {"status endpoint too",
         endpoint::status,
         "",
         json_type,
         reports({report("m", delivered, no_error)}),
         403,
         {}},
        {"re-serialised body with the secret",
         endpoint::receive,
         good,
         json_type,
         reserialised,
         200,
         {incoming_message{"817790313235066447", "tel:+385916242493", "QUIZ Correct answer is Paris", ""}}},
    });
}

TEST(infobip, delivery_reports) {
    const std::string id = "c9823180-94d4-4ea0-9bf3-ec907e7a0f0f";
    run_cases({
        {"delivered to handset (§5.3)",
         endpoint::status,
         good,
         json_type,
         reports({report(id, delivered, no_error)}),
         200,
         {status_update{id, msg_state::delivered, ""}}},
        {"pending",
         endpoint::status,
         good,
         json_type,
         reports({report(
             id, R"({"groupId":1,"groupName":"PENDING","id":7,"name":"PENDING_ENROUTE"})", no_error)}),
         200,
         {status_update{id, msg_state::sent, ""}}},
        {"delivered to the operator only",
         endpoint::status,
         good,
         json_type,
         reports({report(id,
                         R"({"groupId":3,"groupName":"DELIVERED","id":2,"name":"DELIVERED_TO_OPERATOR"})",
                         no_error)}),
         200,
         {status_update{id, msg_state::sent, ""}}},
        {"undeliverable, with a handset error",
         endpoint::status,
         good,
         json_type,
         reports({report(
             id,
             R"({"groupId":2,"groupName":"UNDELIVERABLE","id":9,"name":"UNDELIVERABLE_NOT_DELIVERED"})",
             R"({"groupId":1,"groupName":"HANDSET_ERRORS","id":1,"name":"EC_UNKNOWN_SUBSCRIBER","permanent":true})")}),
         200,
         {status_update{id, msg_state::failed, "EC_UNKNOWN_SUBSCRIBER"}}},
        {"expired, no error: the status names it",
         endpoint::status,
         good,
         json_type,
         reports({report(
             id, R"({"groupId":4,"groupName":"EXPIRED","id":15,"name":"EXPIRED_EXPIRED"})", no_error)}),
         200,
         {status_update{id, msg_state::failed, "EXPIRED_EXPIRED"}}},
        {"rejected",
         endpoint::status,
         good,
         json_type,
         reports({report(
             id, R"({"groupId":5,"groupName":"REJECTED","id":6,"name":"REJECTED_NETWORK"})", no_error)}),
         200,
         {status_update{id, msg_state::failed, "REJECTED_NETWORK"}}},
        {"group name only",
         endpoint::status,
         good,
         json_type,
         R"({"results":[{"messageId":"m1","status":{"groupName":"DELIVERED"}}]})",
         200,
         {status_update{"m1", msg_state::delivered, ""}}},
        {"a batch of reports, an unknown group skipped",
         endpoint::status,
         good,
         json_type,
         reports({report("m1", delivered, no_error),
                  report("m2", R"({"groupId":9,"groupName":"NEW"})", no_error),
                  report("m3",
                         R"({"groupId":1,"groupName":"PENDING","id":26,"name":"PENDING_ACCEPTED"})",
                         no_error)}),
         200,
         {status_update{"m1", msg_state::delivered, ""}, status_update{"m3", msg_state::sent, ""}}},
        {"only unknown groups: ignored",
         endpoint::status,
         good,
         json_type,
         reports({report("m2", R"({"groupId":9})", no_error)}),
         200,
         {}},
        {"missing status", endpoint::status, good, json_type, R"({"results":[{"messageId":"m1"}]})", 400, {}},
        {"missing messageId",
         endpoint::status,
         good,
         json_type,
         R"({"results":[{"status":{"groupId":3}}]})",
         400,
         {}},
    });
}

TEST(infobip, reply_is_an_empty_200) {
    const infobip_handler h(settings());
    const auto ok = h.reply(endpoint::status, receive_result::accept({}));
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(ok.body, "");
    const auto ignored = h.reply(endpoint::status, receive_result::ignore("no results"));
    EXPECT_EQ(ignored.status, 200);
    const auto refused = h.reply(endpoint::receive, receive_result::reject(403, "invalid secret"));
    EXPECT_EQ(refused.status, 403);
    EXPECT_EQ(refused.body, "invalid secret");
    EXPECT_TRUE(h.allows(endpoint::receive, "POST"));
    EXPECT_FALSE(h.allows(endpoint::status, "GET"));
}

TEST(infobip, builds_the_send_request) {
    const infobip_handler h(settings());
    const send_request req =
        h.build_send({"6f1c2f7e-0000-4000-8000-000000000001", "ib-jo", "tel:+962791234567", "مرحبا"});
    EXPECT_EQ(req.method, "POST");
    EXPECT_EQ(req.url, "https://xy12z.api.infobip.com/sms/3/messages");
    ASSERT_EQ(req.headers.size(), 3u);
    EXPECT_EQ(find_header(req.headers, "Authorization"), "App " + api_key);
    EXPECT_EQ(find_header(req.headers, "Content-Type"), "application/json");
    EXPECT_EQ(find_header(req.headers, "Accept"), "application/json");
    // UTF-8 JSON, not \u escapes; our id as Infobip's messageId; digits without '+'.
    EXPECT_EQ(req.body,
              R"({"messages":[{"content":{"text":"مرحبا"},"destinations":[{"messageId":)"
              R"("6f1c2f7e-0000-4000-8000-000000000001","to":"962791234567"}],"sender":"InfoSMS"}]})");

    channel_settings s = settings();
    s.values.erase("api_base");
    s.values.erase("address");
    const infobip_handler plain(s);
    const send_request r2 = plain.build_send({"id-2", "ib-jo", "tel:+962791234567", "Say \"hi\""});
    EXPECT_EQ(r2.url, "https://api.infobip.com/sms/3/messages");
    EXPECT_EQ(r2.body,
              R"({"messages":[{"content":{"text":"Say \"hi\""},"destinations":[{"messageId":"id-2",)"
              R"("to":"962791234567"}]}]})");
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

std::string answer(const std::string& status) {
    return R"({"bulkId":"2034072219640523072","messages":[{"messageId":"id-1","status":)" + status +
           R"(,"destination":"962791234567","details":{"messageCount":1}}]})";
}

TEST(infobip, classifies_send_responses) {
    const infobip_handler h(settings());
    const outgoing_message m{"id-1", "ib-jo", "tel:+962791234567", "hi"};
    const std::vector<response_case> cases = {
        {"accepted (§5.2 example)",
         200,
         {},
         R"({"bulkId":"2034072219640523072","messages":[{"messageId":"…","status":{"groupId":1,)"
         R"("groupName":"PENDING","id":26,"name":"PENDING_ACCEPTED","description":"Message sent to next instance"},)"
         R"("destination":"41793026727","details":{"messageCount":1}}]})",
         send_error::none,
         "…"},
        {"accepted with our id",
         200,
         {},
         answer(R"({"groupId":1,"groupName":"PENDING","id":26,"name":"PENDING_ACCEPTED"})"),
         send_error::none,
         "id-1"},
        {"v2-shaped answer",
         200,
         {},
         R"({"bulkId":"b","messages":[{"to":"962791234567","status":{"groupId":1,"groupName":"PENDING",)"
         R"("id":26,"name":"PENDING_ACCEPTED"},"messageId":"2250be2d4219-3af1-78856-aabe-1362af1edfd2"}]})",
         send_error::none,
         "2250be2d4219-3af1-78856-aabe-1362af1edfd2"},
        {"rejected: not enough credits",
         200,
         {},
         answer(R"({"groupId":5,"groupName":"REJECTED","id":12,"name":"REJECTED_NOT_ENOUGH_CREDITS"})"),
         send_error::config,
         ""},
        {"rejected: sender",
         200,
         {},
         answer(R"({"groupId":5,"groupName":"REJECTED","id":13,"name":"REJECTED_SENDER"})"),
         send_error::config,
         ""},
        {"rejected: destination",
         200,
         {},
         answer(R"({"groupId":5,"groupName":"REJECTED","id":14,"name":"REJECTED_DESTINATION"})"),
         send_error::invalid_message,
         ""},
        {"rejected: flooding filter",
         200,
         {},
         answer(R"({"groupId":5,"groupName":"REJECTED","id":20,"name":"REJECTED_FLOODING_FILTER"})"),
         send_error::throttled,
         ""},
        {"rejected: system error",
         200,
         {},
         answer(R"({"groupId":5,"groupName":"REJECTED","id":21,"name":"REJECTED_SYSTEM_ERROR"})"),
         send_error::server_error,
         ""},
        {"undeliverable at once",
         200,
         {},
         answer(R"({"groupId":2,"groupName":"UNDELIVERABLE","id":9,"name":"UNDELIVERABLE_NOT_DELIVERED"})"),
         send_error::invalid_message,
         ""},
        {"400 bad request",
         400,
         {},
         R"({"errorCode":"E400","description":"Request cannot be processed."})",
         send_error::invalid_message,
         ""},
        {"401", 401, {}, R"({"errorCode":"E401","description":"Unauthorized"})", send_error::config, ""},
        {"403", 403, {}, "", send_error::config, ""},
        {"429 with Retry-After (rate-limits page body)",
         429,
         {{"Retry-After", "2"}},
         R"({"errorCode":"E429","description":"Too many requests sent."})",
         send_error::throttled,
         "",
         std::chrono::seconds{2}},
        {"429 with an HTTP-date Retry-After",
         429,
         {{"Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"}},
         "",
         send_error::throttled,
         ""},
        {"500", 500, {}, "", send_error::server_error, ""},
        {"502", 502, {}, "<html>", send_error::server_error, ""},
        {"200 not JSON", 200, {}, "OK", send_error::bad_response, ""},
        {"200 without messages", 200, {}, R"({"bulkId":"b","messages":[]})", send_error::bad_response, ""},
        {"200 without a status",
         200,
         {},
         R"({"messages":[{"messageId":"x"}]})",
         send_error::bad_response,
         ""},
        {"200 without a message id",
         200,
         {},
         R"({"messages":[{"status":{"groupId":1}}]})",
         send_error::bad_response,
         ""},
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

TEST(infobip, is_registered_with_its_settings) {
    const auto* t = find_handler_type("infobip");
    ASSERT_NE(t, nullptr);
    EXPECT_NE(t->make(settings()), nullptr);
    ASSERT_EQ(t->settings.size(), 4u);
    for (const auto& s : t->settings) {
        SCOPED_TRACE(s.name);
        if (s.name == "api_key" || s.name == "url_secret") {
            EXPECT_EQ(s.type, setting_spec::kind::secret);
            EXPECT_TRUE(s.required);
        } else if (s.name == "api_base") {
            EXPECT_EQ(s.type, setting_spec::kind::url);
            EXPECT_FALSE(s.required);
        } else {
            EXPECT_EQ(s.name, "address");
        }
    }
}

}  // namespace
}  // namespace flowgate::handlers
