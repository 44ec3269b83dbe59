#include "handlers/external.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "handlers/registry.hpp"

namespace flowgate::handlers {
namespace {

const std::string secret = "s3cret-for-tests";

channel_settings settings(bool with_secret) {
    channel_settings s;
    s.id = "local";
    s.type = "external";
    s.default_country = "JO";
    s.values["send_url"] = "http://127.0.0.1:9000/send";
    if (with_secret) {
        s.values["secret"] = secret;
    }
    return s;
}

enum class sig { none, valid, wrong, uppercase_hex };

// One line of the spec: a request and what must come of it.
struct incoming_case {
    const char* label;
    endpoint ep;
    std::string content_type;
    std::string body;
    sig signature;
    int status;
    std::vector<event> events;
};

raw_request make_request(const incoming_case& c) {
    raw_request r;
    r.method = "POST";
    r.path = "/c/local/receive";
    r.body = c.body;
    r.headers.push_back({"Content-Type", c.content_type});
    std::string s = external_handler::signature(secret, c.body);
    switch (c.signature) {
        case sig::none:
            break;
        case sig::valid:
            r.headers.push_back({"X-Flowgate-Signature", s});
            break;
        case sig::wrong:
            s[s.size() - 1] = s.back() == '0' ? '1' : '0';
            r.headers.push_back({"X-Flowgate-Signature", s});
            break;
        case sig::uppercase_hex:
            for (auto& ch : s) {
                ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
            }
            r.headers.push_back({"X-Flowgate-Signature", "sha256=" + s.substr(7)});
            break;
    }
    return r;
}

void run_cases(const std::vector<incoming_case>& cases, bool with_secret) {
    const external_handler h(settings(with_secret));
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const auto result = h.receive(c.ep, make_request(c));
        EXPECT_EQ(result.http_status, c.status);
        EXPECT_EQ(result.events, c.events);
        const auto reply = h.reply(c.ep, result);
        EXPECT_EQ(reply.status, c.status);
        // A rejection never echoes the payload or a signature.
        if (c.status >= 400) {
            EXPECT_EQ(reply.body.find(secret), std::string::npos);
            if (c.body.size() > 12) {
                EXPECT_EQ(reply.body.find(c.body), std::string::npos);
            }
        }
    }
}

TEST(external, incoming_without_secret) {
    const std::string json = "application/json";
    const std::string form = "application/x-www-form-urlencoded";
    run_cases(
        {
            {"JSON message",
             endpoint::receive,
             json,
             R"({"id":"m1","from":"+962791234567","text":"JOIN"})",
             sig::none,
             200,
             {incoming_message{"m1", "tel:+962791234567", "JOIN", ""}}},
            {"content type with charset",
             endpoint::receive,
             "application/json; charset=utf-8",
             R"({"id":"m1","from":"+962791234567","text":"hi"})",
             sig::none,
             200,
             {incoming_message{"m1", "tel:+962791234567", "hi", ""}}},
            {"national number normalised with the default country",
             endpoint::receive,
             json,
             R"({"id":"m2","from":"0791234567","text":"٣"})",
             sig::none,
             200,
             {incoming_message{"m2", "tel:+962791234567", "٣", ""}}},
            {"form body",
             endpoint::receive,
             form,
             "id=m3&from=%2B962791234567&text=hello+there",
             sig::none,
             200,
             {incoming_message{"m3", "tel:+962791234567", "hello there", ""}}},
            {"name kept",
             endpoint::receive,
             json,
             R"({"id":"m4","from":"ext:p4","text":"x","name":"Huda"})",
             sig::none,
             200,
             {incoming_message{"m4", "ext:p4", "x", "Huda"}}},
            {"empty text accepted",
             endpoint::receive,
             json,
             R"({"id":"m5","from":"ext:p5","text":""})",
             sig::none,
             200,
             {incoming_message{"m5", "ext:p5", "", ""}}},
            {"malformed JSON", endpoint::receive, json, R"({"id":"m1","from":)", sig::none, 400, {}},
            {"JSON array", endpoint::receive, json, R"(["id"])", sig::none, 400, {}},
            {"missing id",
             endpoint::receive,
             json,
             R"({"from":"+962791234567","text":"x"})",
             sig::none,
             400,
             {}},
            {"numeric id refused",
             endpoint::receive,
             json,
             R"({"id":5,"from":"+962791234567","text":"x"})",
             sig::none,
             400,
             {}},
            {"missing from", endpoint::receive, json, R"({"id":"m1","text":"x"})", sig::none, 400, {}},
            {"invalid from",
             endpoint::receive,
             json,
             R"({"id":"m1","from":"nobody","text":"x"})",
             sig::none,
             400,
             {}},
            {"missing text",
             endpoint::receive,
             json,
             R"({"id":"m1","from":"+962791234567"})",
             sig::none,
             400,
             {}},
            {"text not UTF-8", endpoint::receive, form, "id=m1&from=ext:a&text=%FF%FE", sig::none, 400, {}},
            {"bad form escape", endpoint::receive, form, "id=m1&from=%ZZ", sig::none, 400, {}},
            {"wrong content type", endpoint::receive, "text/plain", "hello", sig::none, 415, {}},
            {"no content type", endpoint::receive, "", "hello", sig::none, 415, {}},
            {"status delivered",
             endpoint::status,
             json,
             R"({"id":"abc","status":"delivered"})",
             sig::none,
             200,
             {status_update{"abc", msg_state::delivered, ""}}},
            {"status failed as form",
             endpoint::status,
             form,
             "id=abc&status=failed",
             sig::none,
             200,
             {status_update{"abc", msg_state::failed, ""}}},
            {"unknown status", endpoint::status, json, R"({"id":"abc","status":"read"})", sig::none, 400, {}},
            {"status without id", endpoint::status, json, R"({"status":"sent"})", sig::none, 400, {}},
        },
        false);
}

TEST(external, incoming_with_secret) {
    const std::string json = "application/json";
    const std::string body = R"({"id":"m1","from":"+962791234567","text":"JOIN"})";
    run_cases(
        {
            {"valid signature",
             endpoint::receive,
             json,
             body,
             sig::valid,
             200,
             {incoming_message{"m1", "tel:+962791234567", "JOIN", ""}}},
            {"upper-case hex accepted",
             endpoint::receive,
             json,
             body,
             sig::uppercase_hex,
             200,
             {incoming_message{"m1", "tel:+962791234567", "JOIN", ""}}},
            {"missing signature", endpoint::receive, json, body, sig::none, 403, {}},
            {"one wrong hex digit", endpoint::receive, json, body, sig::wrong, 403, {}},
            {"signature checked before parsing", endpoint::receive, json, "{not json", sig::none, 403, {}},
            {"status needs the signature too",
             endpoint::status,
             json,
             R"({"id":"a","status":"sent"})",
             sig::none,
             403,
             {}},
        },
        true);
}

TEST(external, signature_is_hmac_sha256_hex) {
    // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog"), a widely published value.
    EXPECT_EQ(external_handler::signature("key", "The quick brown fox jumps over the lazy dog"),
              "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
}

TEST(external, only_post_is_allowed) {
    const external_handler h(settings(false));
    EXPECT_TRUE(h.allows(endpoint::receive, "POST"));
    EXPECT_FALSE(h.allows(endpoint::receive, "GET"));
    EXPECT_FALSE(h.allows(endpoint::status, "PUT"));
}

TEST(external, builds_signed_send_request) {
    const external_handler h(settings(true));
    const outgoing_message m{"6f1c2f7e-0000-4000-8000-000000000001", "local", "tel:+962791234567", "مرحبا"};
    const send_request req = h.build_send(m);
    EXPECT_EQ(req.method, "POST");
    EXPECT_EQ(req.url, "http://127.0.0.1:9000/send");
    const auto body = nlohmann::json::parse(req.body);
    EXPECT_EQ(body["id"], m.id);
    EXPECT_EQ(body["to"], "+962791234567");
    EXPECT_EQ(body["urn"], "tel:+962791234567");
    EXPECT_EQ(body["text"], "مرحبا");
    EXPECT_EQ(body["channel"], "local");
    EXPECT_EQ(find_header(req.headers, "content-type"), "application/json");
    EXPECT_EQ(find_header(req.headers, "x-flowgate-signature"),
              external_handler::signature(secret, req.body));

    const external_handler unsigned_handler(settings(false));
    EXPECT_EQ(find_header(unsigned_handler.build_send(m).headers, "x-flowgate-signature"), "");
}

struct response_case {
    const char* label;
    int status;
    std::string body;
    send_error error;
    std::string provider_id;
    std::vector<http_header> headers = {};
    std::optional<std::chrono::seconds> retry_after = std::nullopt;
};

TEST(external, classifies_send_responses) {
    const external_handler h(settings(false));
    const outgoing_message m{"id-1", "local", "ext:a", "hi"};
    const std::vector<response_case> cases = {
        {"200 with provider id", 200, R"({"id":"p-77"})", send_error::none, "p-77"},
        {"202 without body", 202, "", send_error::none, ""},
        {"200 with non-JSON body", 200, "OK", send_error::none, ""},
        {"200 with numeric id ignored", 200, R"({"id":5})", send_error::none, ""},
        {"429 throttled", 429, "", send_error::throttled, ""},
        {"429 with Retry-After",
         429,
         "",
         send_error::throttled,
         "",
         {{"retry-after", "30"}},
         std::chrono::seconds(30)},
        {"429 with a Retry-After date is not read",
         429,
         "",
         send_error::throttled,
         "",
         {{"Retry-After", "Wed, 21 Oct 2026 07:28:00 GMT"}}},
        {"410: the recipient opted out", 410, "", send_error::contact_stopped, ""},
        {"500 server error", 500, "", send_error::server_error, ""},
        {"503 server error", 503, "", send_error::server_error, ""},
        {"400 refused", 400, R"({"error":"bad"})", send_error::bad_response, ""},
        {"301 is not success", 301, "", send_error::bad_response, ""},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const auto r = h.parse_send_response(m, {c.status, c.headers, c.body});
        EXPECT_EQ(r.error, c.error);
        EXPECT_EQ(r.provider_id, c.provider_id);
        EXPECT_EQ(r.retry_after, c.retry_after);
        EXPECT_EQ(is_retryable(r.error),
                  c.error == send_error::throttled || c.error == send_error::server_error);
    }
}

TEST(external, is_registered) {
    const auto* t = find_handler_type("external");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(find_handler_type("nope"), nullptr);
    const auto h = t->make(settings(false));
    EXPECT_NE(h, nullptr);
}

}  // namespace
}  // namespace flowgate::handlers
