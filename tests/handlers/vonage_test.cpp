#include "handlers/vonage.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "handlers/form.hpp"
#include "handlers/registry.hpp"

namespace flowgate::handlers {
namespace {

const std::string sig_secret = "vonage-sig-secret";
const std::string api_secret = "api-s3cret";
const std::string form_type = "application/x-www-form-urlencoded";
const std::string json_type = "application/json";

channel_settings settings(std::string method = "sha256", std::string secret = sig_secret) {
    channel_settings s;
    s.id = "vonage-lb";
    s.type = "vonage";
    s.default_country = "LB";
    s.values["address"] = "+96170000000";
    s.values["api_key"] = "abcd1234";
    s.values["api_secret"] = api_secret;
    if (!secret.empty()) {
        s.values["signature_secret"] = std::move(secret);
    }
    if (!method.empty()) {
        s.values["signature_method"] = std::move(method);
    }
    return s;
}

using params = std::map<std::string, std::string>;

// How Vonage's webhook format setting delivers the same parameters.
enum class transport { get, post_form, post_json };

raw_request request_of(transport t, const params& p, endpoint ep = endpoint::receive) {
    raw_request r;
    r.path = std::string("/c/vonage-lb/") + (ep == endpoint::receive ? "receive" : "status");
    form_fields fields(p.begin(), p.end());
    switch (t) {
        case transport::get:
            r.method = "GET";
            r.query = encode_form(fields);
            break;
        case transport::post_form:
            r.method = "POST";
            r.body = encode_form(fields);
            r.headers.push_back({"Content-Type", form_type});
            break;
        case transport::post_json:
            r.method = "POST";
            r.body = nlohmann::json(p).dump();
            r.headers.push_back({"Content-Type", json_type});
            break;
    }
    r.public_url = "https://sms.example.org" + r.path + (r.query.empty() ? "" : "?" + r.query);
    return r;
}

// ---------------------------------------------------------------------------------------------
// providers.md §2.2: the published vectors (vonage-python-sdk v3 tests/test_signature.py).

struct vector_case {
    const char* method;
    const char* expected;
};

const std::vector<vector_case> vectors = {
    {"md5hash", "6af838ef94998832dbfc29020b564830"},
    {"md5", "c15c21ced558c93a226c305f58f902f2"},
    {"sha1", "3e19a4e6880fdc2c1426bfd0587c98b9532f0210"},
    {"sha256", "a321e824b9b816be7c3f28859a31749a098713d39f613c80d455bbaffae1cd24"},
    {"sha512",
     "812a18f76680fa0fe1b8bd9ee1625466ceb1bd96242e4d050d2cfd9a7b40166c63ed26ec9702168781b6edcf1633db8ff95af93"
     "41701004"
     "eec3fcf9550572ee8"},
};
const params vector_params = {{"a", "1"}, {"b", "2"}, {"timestamp", "1461605396"}};

TEST(vonage, signature_matches_published_vectors) {
    for (const auto& v : vectors) {
        SCOPED_TRACE(v.method);
        const auto method = vonage_handler::parse_sig_method(v.method);
        ASSERT_TRUE(method);
        EXPECT_EQ(vonage_handler::signature(*method, "secret", vector_params), v.expected);
        // `sig` itself is never part of the signed string.
        params with_sig = vector_params;
        with_sig["sig"] = v.expected;
        EXPECT_EQ(vonage_handler::signature(*method, "secret", with_sig), v.expected);
    }
    EXPECT_FALSE(vonage_handler::parse_sig_method("sha384"));
    EXPECT_EQ(vonage_handler::parse_sig_method("SHA256"), vonage_handler::sig_method::sha256);
}

// Each vector through each webhook format: the signature passes (the vector's parameters are no SMS,
// so 400 follows), and fails with one changed character, a missing sig or the wrong secret.
TEST(vonage, validates_published_vectors_in_every_format) {
    for (const auto& v : vectors) {
        for (const transport t : {transport::get, transport::post_form, transport::post_json}) {
            SCOPED_TRACE(std::string(v.method) + " transport " + std::to_string(static_cast<int>(t)));
            const vonage_handler h(settings(v.method, "secret"));
            const vonage_handler wrong_secret(settings(v.method, "secret2"));
            params p = vector_params;
            p["sig"] = v.expected;
            EXPECT_EQ(h.receive(endpoint::receive, request_of(t, p)).http_status, 400);
            EXPECT_EQ(wrong_secret.receive(endpoint::receive, request_of(t, p)).http_status, 403);

            std::string upper = v.expected;
            for (char& c : upper) {
                c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            }
            p["sig"] = upper;
            EXPECT_EQ(h.receive(endpoint::receive, request_of(t, p)).http_status, 400) << "upper-case hex";

            std::string changed = v.expected;
            changed[5] = changed[5] == '0' ? '1' : '0';
            p["sig"] = changed;
            EXPECT_EQ(h.receive(endpoint::receive, request_of(t, p)).http_status, 403)
                << "one changed character";

            p.erase("sig");
            EXPECT_EQ(h.receive(endpoint::receive, request_of(t, p)).http_status, 403) << "missing sig";

            p = vector_params;
            p["b"] = "3";
            p["sig"] = v.expected;
            EXPECT_EQ(h.receive(endpoint::receive, request_of(t, p)).http_status, 403) << "changed parameter";
        }
    }
}

// Computed independently (Python hashlib/hmac): '&' and '=' in values become '_'.
TEST(vonage, signature_replaces_ampersand_and_equals_in_values) {
    const params p = {{"msisdn", "962791234567"},
                      {"to", "962790000000"},
                      {"messageId", "0A0000000123ABCD1"},
                      {"text", "a=b&c d"},
                      {"type", "text"},
                      {"timestamp", "1578787200"},
                      {"nonce", "n-1"}};
    EXPECT_EQ(vonage_handler::signature(vonage_handler::sig_method::sha256, sig_secret, p),
              "380bfa6da849b8bc5b1faa3248ad11b16e7e7fb8e4abf467b687d2b3758a5476");
    EXPECT_EQ(vonage_handler::signature(vonage_handler::sig_method::md5hash, sig_secret, p),
              "959835da728eddb96cd9cf45ab92a953");
}

// ---------------------------------------------------------------------------------------------
// Incoming: courier-style cases.

enum class sig { valid, valid_skipping_empty, none, wrong_char, wrong_secret };

struct incoming_case {
    const char* label;
    endpoint ep;
    transport via;
    params fields;
    sig signature;
    int status;
    std::vector<event> events;
};

const params inbound = {{"msisdn", "96171123456"},
                        {"to", "96170000000"},
                        {"messageId", "0A0000000123ABCD1"},
                        {"text", "JOIN"},
                        {"type", "text"},
                        {"keyword", "JOIN"},
                        {"api-key", "abcd1234"},
                        {"message-timestamp", "2027-03-01 09:00:00"},
                        {"timestamp", "1803891600"},
                        {"nonce", "5a2c6a1e-0000-4000-8000-000000000001"}};

params with(params p,
            const std::map<std::string, std::string>& changes,
            std::initializer_list<const char*> drop = {}) {
    for (const auto& [k, v] : changes) {
        p[k] = v;
    }
    for (const char* k : drop) {
        p.erase(k);
    }
    return p;
}

void run_cases(const vonage_handler& h,
               vonage_handler::sig_method method,
               const std::vector<incoming_case>& cases) {
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        params p = c.fields;
        switch (c.signature) {
            case sig::valid:
                p["sig"] = vonage_handler::signature(method, sig_secret, c.fields);
                break;
            case sig::valid_skipping_empty:
                p["sig"] = vonage_handler::signature(method, sig_secret, c.fields, true);
                break;
            case sig::none:
                break;
            case sig::wrong_char:
                p["sig"] = vonage_handler::signature(method, sig_secret, c.fields);
                p["sig"][0] = p["sig"][0] == 'a' ? 'b' : 'a';
                break;
            case sig::wrong_secret:
                p["sig"] = vonage_handler::signature(method, "not-the-secret", c.fields);
                break;
        }
        const auto result = h.receive(c.ep, request_of(c.via, p, c.ep));
        EXPECT_EQ(result.http_status, c.status);
        EXPECT_EQ(result.events, c.events);
        const auto reply = h.reply(c.ep, result);
        EXPECT_EQ(reply.status, c.status);
        if (c.status < 400) {
            EXPECT_EQ(reply.body, "");
        } else {
            EXPECT_EQ(reply.body.find(sig_secret), std::string::npos);
            EXPECT_EQ(reply.body.find("JOIN"), std::string::npos);
            if (p.count("sig") != 0) {
                EXPECT_EQ(reply.body.find(p["sig"]), std::string::npos);
            }
        }
    }
}

TEST(vonage, incoming_messages) {
    const vonage_handler h(settings("sha256"));
    const incoming_message join{"0A0000000123ABCD1", "tel:+96171123456", "JOIN", ""};
    run_cases(
        h,
        vonage_handler::sig_method::sha256,
        {
            {"GET", endpoint::receive, transport::get, inbound, sig::valid, 200, {join}},
            {"POST form", endpoint::receive, transport::post_form, inbound, sig::valid, 200, {join}},
            {"POST JSON", endpoint::receive, transport::post_json, inbound, sig::valid, 200, {join}},
            {"Arabic arrives as type=unicode",
             endpoint::receive,
             transport::post_form,
             with(inbound, {{"text", "انضم ٣"}, {"type", "unicode"}, {"keyword", "انضم"}}),
             sig::valid,
             200,
             {incoming_message{"0A0000000123ABCD1", "tel:+96171123456", "انضم ٣", ""}}},
            {"Lebanese 03 range (7-digit NSN)",
             endpoint::receive,
             transport::get,
             with(inbound, {{"msisdn", "9613123456"}}),
             sig::valid,
             200,
             {incoming_message{"0A0000000123ABCD1", "tel:+9613123456", "JOIN", ""}}},
            {"'&' and '=' in the text",
             endpoint::receive,
             transport::get,
             with(inbound, {{"text", "a=b&c"}}),
             sig::valid,
             200,
             {incoming_message{"0A0000000123ABCD1", "tel:+96171123456", "a=b&c", ""}}},
            {"empty value signed the java-SDK way (left out)",
             endpoint::receive,
             transport::post_form,
             with(inbound, {{"keyword", ""}}),
             sig::valid_skipping_empty,
             200,
             {join}},
            {"empty value signed the python-SDK way (kept)",
             endpoint::receive,
             transport::post_form,
             with(inbound, {{"keyword", ""}}),
             sig::valid,
             200,
             {join}},
            {"a multipart part the carrier did not join is still a message",
             endpoint::receive,
             transport::post_json,
             with(inbound,
                  {{"concat", "true"}, {"concat-ref", "7"}, {"concat-total", "2"}, {"concat-part", "1"}}),
             sig::valid,
             200,
             {join}},
            {"binary message ignored",
             endpoint::receive,
             transport::get,
             with(inbound, {{"type", "binary"}, {"data", "0102"}, {"udh", "050003CC0201"}}, {"text"}),
             sig::valid,
             200,
             {}},
            {"missing messageId",
             endpoint::receive,
             transport::get,
             with(inbound, {}, {"messageId"}),
             sig::valid,
             400,
             {}},
            {"missing msisdn",
             endpoint::receive,
             transport::get,
             with(inbound, {}, {"msisdn"}),
             sig::valid,
             400,
             {}},
            {"msisdn not a number",
             endpoint::receive,
             transport::get,
             with(inbound, {{"msisdn", "VONAGE"}}),
             sig::valid,
             400,
             {}},
            {"text not UTF-8",
             endpoint::receive,
             transport::get,
             with(inbound, {{"text", "\xff\xfe"}}),
             sig::valid,
             400,
             {}},
        });
}

TEST(vonage, incoming_signatures) {
    const vonage_handler h(settings("md5hash"));
    run_cases(
        h,
        vonage_handler::sig_method::md5hash,
        {
            {"md5hash valid",
             endpoint::receive,
             transport::post_form,
             inbound,
             sig::valid,
             200,
             {incoming_message{"0A0000000123ABCD1", "tel:+96171123456", "JOIN", ""}}},
            {"missing sig", endpoint::receive, transport::post_form, inbound, sig::none, 403, {}},
            {"one changed character", endpoint::receive, transport::get, inbound, sig::wrong_char, 403, {}},
            {"wrong secret", endpoint::receive, transport::post_json, inbound, sig::wrong_secret, 403, {}},
            {"receipt needs the signature too",
             endpoint::status,
             transport::get,
             {{"messageId", "X"}, {"status", "delivered"}},
             sig::none,
             403,
             {}},
        });

    // The signature is over the parameters, not the bytes: the same JSON fields re-serialised still
    // pass; a changed value does not.
    params p = inbound;
    p["sig"] = vonage_handler::signature(vonage_handler::sig_method::md5hash, sig_secret, inbound);
    raw_request r = request_of(transport::post_json, p);
    r.body = nlohmann::json::parse(r.body).dump(2);
    EXPECT_EQ(h.receive(endpoint::receive, r).http_status, 200);
    p["text"] = "JOIM";
    EXPECT_EQ(h.receive(endpoint::receive, request_of(transport::post_json, p)).http_status, 403);

    // A repeated name cannot carry an unsigned value: the last one is both checked and read.
    raw_request dup = request_of(transport::get, with(inbound, {{"sig", p["sig"]}}));
    dup.query += "&text=FORGED";
    EXPECT_EQ(h.receive(endpoint::receive, dup).http_status, 403);

    // Malformed input with a signature secret configured cannot be verified.
    raw_request malformed = request_of(transport::post_form, inbound);
    malformed.body = "msisdn=%ZZ";
    EXPECT_EQ(h.receive(endpoint::receive, malformed).http_status, 403);
    raw_request bad_json = request_of(transport::post_json, inbound);
    bad_json.body = "{";
    EXPECT_EQ(h.receive(endpoint::receive, bad_json).http_status, 403);
    raw_request text = request_of(transport::post_form, inbound);
    text.headers = {{"Content-Type", "text/plain"}};
    EXPECT_EQ(h.receive(endpoint::receive, text).http_status, 415);
}

TEST(vonage, unknown_signature_method_fails_closed) {
    const vonage_handler h(settings("sha384"));
    params p = inbound;
    p["sig"] = vonage_handler::signature(vonage_handler::sig_method::md5hash, sig_secret, inbound);
    EXPECT_EQ(h.receive(endpoint::receive, request_of(transport::get, p)).http_status, 403);
}

TEST(vonage, unsigned_channel_accepts_unsigned_webhooks) {
    // Signing is enabled per account by Vonage support; without a signature_secret nothing is checked.
    const vonage_handler h(settings("", ""));
    const auto r = h.receive(endpoint::receive, request_of(transport::get, inbound));
    EXPECT_EQ(r.http_status, 200);
    EXPECT_EQ(r.events.size(), 1u);
    EXPECT_EQ(h.receive(endpoint::receive, request_of(transport::get, {{"messageId", "x"}})).http_status,
              400);
    raw_request malformed = request_of(transport::post_form, inbound);
    malformed.body = "msisdn=%ZZ";
    EXPECT_EQ(h.receive(endpoint::receive, malformed).http_status, 400);
}

TEST(vonage, delivery_receipts) {
    const vonage_handler h(settings("sha512"));
    const params dlr = {{"msisdn", "96171123456"},
                        {"to", "96170000000"},
                        {"network-code", "41503"},
                        {"messageId", "0A0000001234567B"},
                        {"price", "0.03330000"},
                        {"status", "delivered"},
                        {"scts", "2703010900"},
                        {"err-code", "0"},
                        {"api-key", "abcd1234"},
                        {"message-timestamp", "2027-03-01 09:00:05"},
                        {"timestamp", "1803891605"},
                        {"nonce", "n-2"}};
    const std::string id = "0A0000001234567B";
    const std::string ours = "6f1c2f7e-0000-4000-8000-000000000001";
    run_cases(h,
              vonage_handler::sig_method::sha512,
              {
                  {"delivered",
                   endpoint::status,
                   transport::get,
                   dlr,
                   sig::valid,
                   200,
                   {status_update{id, msg_state::delivered, ""}}},
                  {"delivered, POST JSON",
                   endpoint::status,
                   transport::post_json,
                   dlr,
                   sig::valid,
                   200,
                   {status_update{id, msg_state::delivered, ""}}},
                  {"our client-ref names the message",
                   endpoint::status,
                   transport::post_form,
                   with(dlr, {{"client-ref", ours}}),
                   sig::valid,
                   200,
                   {status_update{ours, msg_state::delivered, ""}}},
                  {"accepted",
                   endpoint::status,
                   transport::get,
                   with(dlr, {{"status", "accepted"}}),
                   sig::valid,
                   200,
                   {status_update{id, msg_state::sent, ""}}},
                  {"buffered",
                   endpoint::status,
                   transport::get,
                   with(dlr, {{"status", "buffered"}}),
                   sig::valid,
                   200,
                   {status_update{id, msg_state::sent, ""}}},
                  {"expired",
                   endpoint::status,
                   transport::get,
                   with(dlr, {{"status", "expired"}, {"err-code", "2"}}),
                   sig::valid,
                   200,
                   {status_update{id, msg_state::failed, "2"}}},
                  {"rejected, anti-spam",
                   endpoint::status,
                   transport::get,
                   with(dlr, {{"status", "rejected"}, {"err-code", "6"}}),
                   sig::valid,
                   200,
                   {status_update{id, msg_state::failed, "6"}}},
                  {"failed with err-code 9: the recipient opted out",
                   endpoint::status,
                   transport::get,
                   with(dlr, {{"status", "failed"}, {"err-code", "9"}}),
                   sig::valid,
                   200,
                   {status_update{id, msg_state::failed, "9"},
                    channel_event{channel_event::kind::stop_contact, "tel:+96171123456"}}},
                  {"rejected with err-code 9 too",
                   endpoint::status,
                   transport::post_json,
                   with(dlr, {{"status", "rejected"}, {"err-code", "9"}}),
                   sig::valid,
                   200,
                   {status_update{id, msg_state::failed, "9"},
                    channel_event{channel_event::kind::stop_contact, "tel:+96171123456"}}},
                  {"unknown is no outcome",
                   endpoint::status,
                   transport::get,
                   with(dlr, {{"status", "unknown"}, {"err-code", "1"}}),
                   sig::valid,
                   200,
                   {}},
                  {"missing status",
                   endpoint::status,
                   transport::get,
                   with(dlr, {}, {"status"}),
                   sig::valid,
                   400,
                   {}},
                  {"missing messageId",
                   endpoint::status,
                   transport::get,
                   with(dlr, {}, {"messageId"}),
                   sig::valid,
                   400,
                   {}},
                  {"a receipt on the receive URL",
                   endpoint::receive,
                   transport::get,
                   dlr,
                   sig::valid,
                   200,
                   {status_update{id, msg_state::delivered, ""}}},
              });
}

TEST(vonage, replies_200_with_an_empty_body) {
    const vonage_handler h(settings());
    const auto accepted = h.reply(endpoint::receive, receive_result::accept({}));
    EXPECT_EQ(accepted.status, 200);
    EXPECT_EQ(accepted.body, "");
    EXPECT_EQ(h.reply(endpoint::status, receive_result::ignore("x")).status, 200);
    const auto rejected = h.reply(endpoint::receive, receive_result::reject(403, "invalid signature"));
    EXPECT_EQ(rejected.status, 403);
    EXPECT_EQ(rejected.body, "invalid signature");
    EXPECT_TRUE(h.allows(endpoint::receive, "GET"));
    EXPECT_TRUE(h.allows(endpoint::status, "POST"));
    EXPECT_FALSE(h.allows(endpoint::receive, "DELETE"));
}

// ---------------------------------------------------------------------------------------------
// Outgoing.

struct send_case {
    const char* label;
    channel_settings channel;
    std::string urn;
    std::string text;
    std::string url;
    std::string body;
};

TEST(vonage, builds_send_requests) {
    const std::string id = "6f1c2f7e-0000-4000-8000-000000000001";
    const std::string auth = "api_key=abcd1234&api_secret=api-s3cret&from=96170000000";
    auto alpha = settings();
    alpha.values["address"] = "FlowGate";
    auto local = settings();
    local.values["api_base"] = "http://127.0.0.1:9200/";
    auto with_public = settings();
    with_public.values["public_url"] = "https://sms.example.org";
    const std::string api = "https://rest.nexmo.com/sms/json";
    const std::vector<send_case> cases = {
        {"Arabic goes as unicode",
         settings(),
         "tel:+96171123456",
         "مرحبا، هل ستحضر الورشة؟",
         api,
         auth +
             "&to=96171123456&text=%D9%85%D8%B1%D8%AD%D8%A8%D8%A7%D8%8C%20%D9%87%D9%84%20%D8%B3%D8%AA%D8%AD%"
             "D8%B6%D8%B1%"
             "20%D8%A7%D9%84%D9%88%D8%B1%D8%B4%D8%A9%D8%9F&type=unicode&client-ref=" +
             id},
        {"GSM-7 text, extension characters included",
         settings(),
         "tel:+96171123456",
         "Cost: 5€ [ok] {x} ~^|\\ é à",
         api,
         auth +
             "&to=96171123456&text=Cost%3A%205%E2%82%AC%20%5Bok%5D%20%7Bx%7D%20~%5E%7C%5C%20%C3%A9%20%C3%A0&"
             "type=text"
             "&client-ref=" +
             id},
        {"lower-case ç is not GSM-7",
         settings(),
         "tel:+96171123456",
         "ça",
         api,
         auth + "&to=96171123456&text=%C3%A7a&type=unicode&client-ref=" + id},
        {"an Arabic-Indic digit makes it unicode",
         settings(),
         "tel:+96171123456",
         "Reply \u0661",
         api,
         auth + "&to=96171123456&text=Reply%20%D9%A1&type=unicode&client-ref=" + id},
        {"emoji",
         settings(),
         "tel:+96171123456",
         "ok \U0001F600",
         api,
         auth + "&to=96171123456&text=ok%20%F0%9F%98%80&type=unicode&client-ref=" + id},
        {"alphanumeric sender",
         alpha,
         "tel:+2348021234567",
         "hi",
         api,
         "api_key=abcd1234&api_secret=api-s3cret&from=FlowGate&to=2348021234567&text=hi&type=text&client-"
         "ref=" +
             id},
        {"api_base pointed at a local fake",
         local,
         "tel:+96171123456",
         "hi",
         "http://127.0.0.1:9200/sms/json",
         auth + "&to=96171123456&text=hi&type=text&client-ref=" + id},
        {"receipts asked for on our public URL",
         with_public,
         "tel:+96171123456",
         "hi",
         api,
         auth + "&to=96171123456&text=hi&type=text&client-ref=" + id +
             "&callback=https%3A%2F%2Fsms.example.org%2Fc%2Fvonage-lb%2Fstatus"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const vonage_handler h(c.channel);
        const send_request req = h.build_send({id, "vonage-lb", c.urn, c.text});
        EXPECT_EQ(req.method, "POST");
        EXPECT_EQ(req.url, c.url);
        EXPECT_EQ(req.body, c.body);
        EXPECT_EQ(find_header(req.headers, "content-type"), "application/x-www-form-urlencoded");
        EXPECT_EQ(*find_field(*decode_form(req.body), "text"), c.text);
    }
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

std::string failure(int status) {
    return R"({"message-count": "1", "messages": [{"status": ")" + std::to_string(status) +
           R"(", "error-text": "secret-looking text"}]})";
}

TEST(vonage, classifies_send_responses) {
    const vonage_handler h(settings());
    const outgoing_message m{"id-1", "vonage-lb", "tel:+96171123456", "hi"};
    const std::string ok =
        R"({"message-count": "1", "messages": [{"to": "96171123456", "message-id": "0A0000000123ABCD1", "status": "0",)"
        R"( "remaining-balance": "3.14159265", "message-price": "0.03330000", "network": "41503"}]})";
    const std::string two_parts =
        R"({"message-count": "2", "messages": [{"message-id": "0A00000001", "status": "0"},)"
        R"( {"message-id": "0A00000002", "status": "0"}]})";
    const std::string second_part_failed =
        R"({"message-count": "2", "messages": [{"message-id": "0A00000001", "status": "0"},)"
        R"( {"status": "1", "error-text": "Throughput Rate Exceeded"}]})";
    const std::vector<response_case> cases = {
        {"success", 200, {}, ok, send_error::none, "0A0000000123ABCD1"},
        {"two parts: the first part's id", 200, {}, two_parts, send_error::none, "0A00000001"},
        {"numeric status",
         200,
         {},
         R"({"messages": [{"message-id": "0A1", "status": 0}]})",
         send_error::none,
         "0A1"},
        {"1 throttled", 200, {}, failure(1), send_error::throttled, "", std::chrono::seconds{1}},
        {"a later part throttled",
         200,
         {},
         second_part_failed,
         send_error::throttled,
         "",
         std::chrono::seconds{1}},
        {"2 missing params", 200, {}, failure(2), send_error::invalid_message, ""},
        {"3 invalid params", 200, {}, failure(3), send_error::invalid_message, ""},
        {"4 invalid credentials", 200, {}, failure(4), send_error::config, ""},
        {"5 internal error", 200, {}, failure(5), send_error::server_error, ""},
        {"6 invalid message", 200, {}, failure(6), send_error::invalid_message, ""},
        {"7 number barred", 200, {}, failure(7), send_error::contact_stopped, ""},
        {"8 account barred", 200, {}, failure(8), send_error::config, ""},
        {"9 quota exceeded", 200, {}, failure(9), send_error::config, ""},
        {"10 too many binds", 200, {}, failure(10), send_error::throttled, "", std::chrono::seconds{1}},
        {"12 message too long", 200, {}, failure(12), send_error::invalid_message, ""},
        {"14 invalid signature", 200, {}, failure(14), send_error::config, ""},
        {"15 invalid sender", 200, {}, failure(15), send_error::config, ""},
        {"29 non-whitelisted destination", 200, {}, failure(29), send_error::config, ""},
        {"33 number de-activated", 200, {}, failure(33), send_error::invalid_message, ""},
        {"34 invalid msisdn", 200, {}, failure(34), send_error::invalid_message, ""},
        {"an undocumented status", 200, {}, failure(99), send_error::bad_response, ""},
        {"no messages", 200, {}, R"({"message-count": "0", "messages": []})", send_error::bad_response, ""},
        {"no message-id", 200, {}, R"({"messages": [{"status": "0"}]})", send_error::bad_response, ""},
        {"no status", 200, {}, R"({"messages": [{"message-id": "x"}]})", send_error::bad_response, ""},
        {"not JSON", 200, {}, "<mt-submission-response/>", send_error::bad_response, ""},
        {"401", 401, {}, "", send_error::config, ""},
        {"400", 400, {}, "", send_error::invalid_message, ""},
        {"429 with Retry-After",
         429,
         {{"Retry-After", "3"}},
         "",
         send_error::throttled,
         "",
         std::chrono::seconds{3}},
        {"500", 500, {}, "", send_error::server_error, ""},
        {"502", 502, {}, "<html>", send_error::server_error, ""},
        {"301", 301, {}, "", send_error::bad_response, ""},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const auto r = h.parse_send_response(m, {c.status, c.headers, c.body});
        EXPECT_EQ(r.error, c.error);
        EXPECT_EQ(r.provider_id, c.provider_id);
        EXPECT_EQ(r.retry_after, c.retry_after);
        EXPECT_EQ(r.detail.find("secret-looking"), std::string::npos);
        EXPECT_EQ(r.error == send_error::none, r.detail.empty());
    }
}

TEST(vonage, is_registered_with_its_settings) {
    const auto* t = find_handler_type("vonage");
    ASSERT_NE(t, nullptr);
    std::map<std::string, setting_spec> specs;
    for (const auto& s : t->settings) {
        specs[s.name] = s;
    }
    ASSERT_EQ(specs.size(), 6u);
    EXPECT_TRUE(specs["address"].required);
    EXPECT_TRUE(specs["api_key"].required);
    EXPECT_EQ(specs["api_secret"].type, setting_spec::kind::secret);
    EXPECT_EQ(specs["signature_secret"].type, setting_spec::kind::secret);
    EXPECT_FALSE(specs["signature_secret"].required);
    EXPECT_EQ(specs["signature_method"].type, setting_spec::kind::string);
    EXPECT_EQ(specs["api_base"].type, setting_spec::kind::url);
    EXPECT_FALSE(specs["api_base"].required);
    EXPECT_NE(t->make(settings()), nullptr);
}

}  // namespace
}  // namespace flowgate::handlers
