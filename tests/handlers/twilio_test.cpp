#include "handlers/twilio.hpp"

#include <gtest/gtest.h>

#include "handlers/crypto.hpp"
#include "handlers/registry.hpp"

namespace flowgate::handlers {
namespace {

const std::string token = "tok3n-for-tests";
const std::string account = "AC0123456789abcdef0123456789abcdef";
const std::string public_base = "https://sms.example.org";
const std::string form_type = "application/x-www-form-urlencoded";
const std::string json_type = "application/json";

channel_settings settings(std::string address = "+962790000000") {
    channel_settings s;
    s.id = "sms-jo";
    s.type = "twilio";
    s.default_country = "JO";
    s.values["address"] = std::move(address);
    s.values["account_sid"] = account;
    s.values["auth_token"] = token;
    return s;
}

// A request as the server hands it over: `url` is what the provider called (public_url).
raw_request request_to(std::string method,
                       const std::string& url,
                       const std::string& content_type,
                       std::string body,
                       std::optional<std::string> signature) {
    raw_request r;
    r.method = std::move(method);
    const auto scheme_end = url.find("://");
    const auto path_start = url.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
    const std::string target = path_start == std::string::npos ? "/" : url.substr(path_start);
    const auto q = target.find('?');
    r.path = target.substr(0, q);
    r.query = q == std::string::npos ? "" : target.substr(q + 1);
    r.public_url = url;
    r.body = std::move(body);
    if (!content_type.empty()) {
        r.headers.push_back({"Content-Type", content_type});
    }
    if (signature) {
        r.headers.push_back({"X-Twilio-Signature", *signature});
    }
    return r;
}

// ---------------------------------------------------------------------------------------------
// providers.md §1.4: the published vectors (twilio-python, twilio-java, twilio-node).

const std::string vector_token = "12345";
const std::string vector_url = "https://mycompany.com/myapp.php?foo=1&bar=2";
const std::string vector_params =
    "CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212";
const std::string vector_json = R"({"property": "value", "boolean": true})";
const std::string vector_json_url =
    vector_url + "&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";

TEST(twilio, signature_matches_published_vectors) {
    struct signature_case {
        const char* label;
        std::string url;
        std::string params;
        const char* expected;
    };
    const std::vector<signature_case> cases = {
        {"base", vector_url, vector_params, "RSOYDt4T1cUTdK1PDd93/VVr8B8="},
        {"https + :443",
         "https://mycompany.com:443/myapp.php?foo=1&bar=2",
         vector_params,
         "kvajT1Ptam85bY51eRf/AJRuM3w="},
        {"http + :80",
         "http://mycompany.com:80/myapp.php?foo=1&bar=2",
         vector_params,
         "0ZXoZLH/DfblKGATFgpif+LLRf4="},
        {"http + :1234",
         "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
         vector_params,
         "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="},
        {"http, no port",
         "http://mycompany.com/myapp.php?foo=1&bar=2",
         vector_params,
         "OyGYPqTF6ztdbRNCvuQO/oPvqQ4="},
        {"repeated values sorted and counted once",
         vector_url,
         "Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234",
         "IK+Dwps556ElfBT0I3Rgjkr1wJU="},
        {"URL only, no params", vector_url, "", "zYQTYrRWXE7LtzbG4PfP7/bkkGo="},
        {"JSON body: the URL with bodySHA256, no params",
         vector_json_url,
         "",
         "a9nBmqA0ju/hNViExpshrM61xv4="},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        EXPECT_EQ(twilio_handler::signature(vector_token, c.url, *decode_form(c.params)), c.expected);
    }
    EXPECT_EQ(to_hex(sha256(vector_json)),
              "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620");
}

struct validation_case {
    const char* label;
    std::string token;
    std::string method;
    std::string url;  // the URL the request arrived on
    std::string content_type;
    std::string body;
    std::optional<std::string> header;
    bool valid;
};

TEST(twilio, validates_published_vectors) {
    const std::string sig_base = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
    const std::vector<validation_case> cases = {
        {"base", vector_token, "POST", vector_url, form_type, vector_params, sig_base, true},
        {"signed with :443, called without a port",
         vector_token,
         "POST",
         vector_url,
         form_type,
         vector_params,
         "kvajT1Ptam85bY51eRf/AJRuM3w=",
         true},
        {"signed with :443, called with it",
         vector_token,
         "POST",
         "https://mycompany.com:443/myapp.php?foo=1&bar=2",
         form_type,
         vector_params,
         "kvajT1Ptam85bY51eRf/AJRuM3w=",
         true},
        {"signed without a port, called with :443",
         vector_token,
         "POST",
         "https://mycompany.com:443/myapp.php?foo=1&bar=2",
         form_type,
         vector_params,
         sig_base,
         true},
        {"http signed with :80, called without a port",
         vector_token,
         "POST",
         "http://mycompany.com/myapp.php?foo=1&bar=2",
         form_type,
         vector_params,
         "0ZXoZLH/DfblKGATFgpif+LLRf4=",
         true},
        {"http signed without a port, called with :80",
         vector_token,
         "POST",
         "http://mycompany.com:80/myapp.php?foo=1&bar=2",
         form_type,
         vector_params,
         "OyGYPqTF6ztdbRNCvuQO/oPvqQ4=",
         true},
        {"http + :1234 kept",
         vector_token,
         "POST",
         "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
         form_type,
         vector_params,
         "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=",
         true},
        {"https on :1234 validates with the port removed",
         vector_token,
         "POST",
         "https://mycompany.com:1234/myapp.php?foo=1&bar=2",
         form_type,
         vector_params,
         sig_base,
         true},
        {"repeated values",
         vector_token,
         "POST",
         vector_url,
         form_type,
         "Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234",
         "IK+Dwps556ElfBT0I3Rgjkr1wJU=",
         true},
        {"URL only, empty POST",
         vector_token,
         "POST",
         vector_url,
         form_type,
         "",
         "zYQTYrRWXE7LtzbG4PfP7/bkkGo=",
         true},
        {"URL only, GET", vector_token, "GET", vector_url, "", "", "zYQTYrRWXE7LtzbG4PfP7/bkkGo=", true},
        {"JSON body with bodySHA256",
         vector_token,
         "POST",
         vector_json_url,
         json_type,
         vector_json,
         "a9nBmqA0ju/hNViExpshrM61xv4=",
         true},
        // Negative cases (twilio-java).
        {"NOT-prefixed signature",
         vector_token,
         "POST",
         vector_url,
         form_type,
         vector_params,
         "NOT" + sig_base,
         false},
        {"empty signature", vector_token, "POST", vector_url, form_type, vector_params, "", false},
        {"no signature", vector_token, "POST", vector_url, form_type, vector_params, std::nullopt, false},
        {"JSON body without bodySHA256 in the URL",
         vector_token,
         "POST",
         vector_url,
         json_type,
         vector_json,
         "a9nBmqA0ju/hNViExpshrM61xv4=",
         false},
        {"JSON body without bodySHA256, URL-only signature",
         vector_token,
         "POST",
         vector_url,
         json_type,
         vector_json,
         "zYQTYrRWXE7LtzbG4PfP7/bkkGo=",
         false},
        {"JSON re-serialised",
         vector_token,
         "POST",
         vector_json_url,
         json_type,
         R"({"property":"value","boolean":true})",
         "a9nBmqA0ju/hNViExpshrM61xv4=",
         false},
        {"one parameter changed",
         vector_token,
         "POST",
         vector_url,
         form_type,
         "CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1235&From=%2B14158675309&To=%2B18005551212",
         sig_base,
         false},
        {"another path",
         vector_token,
         "POST",
         "https://mycompany.com/myapp.php?foo=1&bar=3",
         form_type,
         vector_params,
         sig_base,
         false},
        {"wrong token", "54321", "POST", vector_url, form_type, vector_params, sig_base, false},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        EXPECT_EQ(twilio_handler::valid_signature(
                      c.token, request_to(c.method, c.url, c.content_type, c.body, c.header)),
                  c.valid);
    }
}

// twilio-node spec/unit/webhooks/webhooks.spec.js: round trips with the token "s3cr3t".
TEST(twilio, validates_node_round_trips) {
    struct round_trip {
        const char* label;
        std::string signed_url;
        std::string called_url;
        bool valid;
    };
    const std::vector<round_trip> cases = {
        {"signed with :443, called without",
         "https://example.com:443/path?test=param",
         "https://example.com/path?test=param",
         true},
        {"signed without, called with :443",
         "https://example.com/path?test=param",
         "https://example.com:443/path?test=param",
         true},
        {"apostrophe signed raw, called encoded",
         "https://example.com/path?test=param'WithQuote",
         "https://example.com/path?test=param%27WithQuote",
         true},
        {"apostrophe signed encoded, called raw",
         "https://example.com/path?test=param%27WithQuote",
         "https://example.com/path?test=param'WithQuote",
         true},
        {"another query value",
         "https://example.com/path?test=param",
         "https://example.com/path?test=param2",
         false},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const std::string sig = twilio_handler::signature("s3cr3t", c.signed_url, {});
        EXPECT_EQ(
            twilio_handler::valid_signature("s3cr3t", request_to("POST", c.called_url, form_type, "", sig)),
            c.valid);
    }
}

// ---------------------------------------------------------------------------------------------
// Incoming: a request on our webhook URL and what must come of it.

enum class sig { valid, none, wrong_char, wrong_token, host_header_url };

struct incoming_case {
    const char* label;
    endpoint ep;
    std::string method;
    std::string content_type;
    std::string params;  // form body (POST) or query (GET); for JSON, the body
    sig signature;
    int status;
    std::vector<event> events;
    std::string tampered_body = {};  // sent instead of `params` after signing
};

const std::string sms_params =
    "ToCountry=JO&ToState=&SmsMessageSid=SM0123456789abcdef0123456789abcdef&NumMedia=0&ToCity=&FromZip="
    "&SmsSid=SM0123456789abcdef0123456789abcdef&FromState=&SmsStatus=received&FromCity=&Body=JOIN"
    "&FromCountry=JO&To=%2B962790000000&ToZip=&NumSegments=1&MessageSid=SM0123456789abcdef0123456789abcdef"
    "&AccountSid=AC0123456789abcdef0123456789abcdef&From=%2B962791234567&ApiVersion=2010-04-01";

raw_request make_request(const incoming_case& c) {
    const std::string path = std::string("/c/sms-jo/") + (c.ep == endpoint::receive ? "receive" : "status");
    std::string url = public_base + path;
    std::string body;
    form_fields signed_params;
    if (c.method == "GET") {
        url += "?" + c.params;
    } else if (c.content_type == json_type) {
        url += "?bodySHA256=" + to_hex(sha256(c.params));
        body = c.params;
    } else {
        body = c.params;
        signed_params = decode_form(c.params).value_or(form_fields{});
    }
    std::optional<std::string> signature;
    switch (c.signature) {
        case sig::valid:
            signature = twilio_handler::signature(token, url, signed_params);
            break;
        case sig::none:
            break;
        case sig::wrong_char:
            signature = twilio_handler::signature(token, url, signed_params);
            (*signature)[3] = (*signature)[3] == 'A' ? 'B' : 'A';
            break;
        case sig::wrong_token:
            signature = twilio_handler::signature("not-the-token", url, signed_params);
            break;
        case sig::host_header_url: {
            // Signed over the URL the Host header names, not the configured public URL.
            std::string internal = "http://127.0.0.1:8080" + url.substr(public_base.size());
            signature = twilio_handler::signature(token, internal, signed_params);
            break;
        }
    }
    raw_request r = request_to(c.method, url, c.method == "GET" ? "" : c.content_type, body, signature);
    r.headers.push_back({"Host", "127.0.0.1:8080"});
    if (!c.tampered_body.empty()) {
        r.body = c.tampered_body;
    }
    return r;
}

void run_cases(const twilio_handler& h, const std::vector<incoming_case>& cases) {
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const raw_request request = make_request(c);
        const auto result = h.receive(c.ep, request);
        EXPECT_EQ(result.http_status, c.status);
        EXPECT_EQ(result.events, c.events);
        EXPECT_EQ(result.result == receive_result::outcome::rejected, c.status >= 400);
        const auto reply = h.reply(c.ep, result);
        EXPECT_EQ(reply.status, c.status);
        if (c.status < 400) {
            EXPECT_EQ(reply.content_type, "text/xml");
            EXPECT_EQ(reply.body, twilio_handler::empty_twiml);
        } else {
            // A rejection never echoes the token, the signature or the payload.
            EXPECT_EQ(reply.body.find(token), std::string::npos);
            EXPECT_EQ(reply.body.find("JOIN"), std::string::npos);
            const std::string_view given = request.header("x-twilio-signature");
            if (!given.empty()) {
                EXPECT_EQ(reply.body.find(given), std::string::npos);
            }
        }
    }
}

TEST(twilio, incoming_messages) {
    const std::string sid = "SM0123456789abcdef0123456789abcdef";
    const std::string wa_params =
        "SmsMessageSid=SM1111111111aaaaaaaaaaaaaaaaaaaaaa&NumMedia=0&ProfileName=%D9%87%D8%AF%D9%89"
        "&MessageType=text&SmsSid=SM1111111111aaaaaaaaaaaaaaaaaaaaaa&WaId=962791234567&SmsStatus=received"
        "&Body=%D8%A7%D9%86%D8%B6%D9%85&To=whatsapp%3A%2B14155238886&NumSegments=1&ReferralNumMedia=0"
        "&MessageSid=SM1111111111aaaaaaaaaaaaaaaaaaaaaa&AccountSid=AC0123456789abcdef0123456789abcdef"
        "&From=whatsapp%3A%2B962791234567&ApiVersion=2010-04-01";
    const twilio_handler h(settings());
    run_cases(
        h,
        {
            {"SMS, every parameter signed",
             endpoint::receive,
             "POST",
             form_type,
             sms_params,
             sig::valid,
             200,
             {incoming_message{sid, "tel:+962791234567", "JOIN", ""}}},
            {"Arabic text",
             endpoint::receive,
             "POST",
             form_type,
             "MessageSid=SM2&From=%2B962791234567&To=%2B962790000000&Body=%D8%A7%D9%86%D8%B6%D9%85+%D9%A3",
             sig::valid,
             200,
             {incoming_message{"SM2", "tel:+962791234567", "انضم ٣", ""}}},
            {"parameters we do not know are signed too",
             endpoint::receive,
             "POST",
             form_type,
             "MessageSid=SM3&From=%2B9613123456&Body=hi&SomethingNew=x&AddOns=%7B%22status%22%3A%"
             "22successful%22%7D",
             sig::valid,
             200,
             {incoming_message{"SM3", "tel:+9613123456", "hi", ""}}},
            {"WhatsApp: whatsapp: URN without '+', profile name",
             endpoint::receive,
             "POST",
             form_type,
             wa_params,
             sig::valid,
             200,
             {incoming_message{
                 "SM1111111111aaaaaaaaaaaaaaaaaaaaaa", "whatsapp:962791234567", "انضم", "هدى"}}},
            {"media without a body",
             endpoint::receive,
             "POST",
             form_type,
             "MessageSid=MM4&From=%2B2348021234567&NumMedia=1&MediaUrl0=https%3A%2F%2Fapi.twilio.com%2Fm"
             "&MediaContentType0=image%2Fjpeg",
             sig::valid,
             200,
             {incoming_message{"MM4", "tel:+2348021234567", "", ""}}},
            {"Advanced Opt-Out STOP: the message and the opt-out",
             endpoint::receive,
             "POST",
             form_type,
             "MessageSid=SM5&From=%2B962791234567&Body=STOP&OptOutType=STOP",
             sig::valid,
             200,
             {incoming_message{"SM5", "tel:+962791234567", "STOP", ""},
              channel_event{channel_event::kind::stop_contact, "tel:+962791234567"}}},
            {"GET webhook: parameters in the signed URL",
             endpoint::receive,
             "GET",
             "",
             "MessageSid=SM6&From=%2B962791234567&Body=hello+there",
             sig::valid,
             200,
             {incoming_message{"SM6", "tel:+962791234567", "hello there", ""}}},
            {"JSON body signed through bodySHA256",
             endpoint::receive,
             "POST",
             json_type,
             R"({"MessageSid": "SM7", "From": "+962791234567", "Body": "JOIN"})",
             sig::valid,
             200,
             {incoming_message{"SM7", "tel:+962791234567", "JOIN", ""}}},
            {"legacy SmsSid only",
             endpoint::receive,
             "POST",
             form_type,
             "SmsSid=SM8&From=%2B962791234567&Body=x",
             sig::valid,
             200,
             {incoming_message{"SM8", "tel:+962791234567", "x", ""}}},
            {"missing MessageSid",
             endpoint::receive,
             "POST",
             form_type,
             "From=%2B962791234567&Body=x",
             sig::valid,
             400,
             {}},
            {"missing From",
             endpoint::receive,
             "POST",
             form_type,
             "MessageSid=SM9&Body=x",
             sig::valid,
             400,
             {}},
            {"From is not a phone number",
             endpoint::receive,
             "POST",
             form_type,
             "MessageSid=SM9&From=nobody&Body=x",
             sig::valid,
             400,
             {}},
            {"Body is not UTF-8",
             endpoint::receive,
             "POST",
             form_type,
             "MessageSid=SM9&From=%2B962791234567&Body=%FF%FE",
             sig::valid,
             400,
             {}},
            {"JSON that is not an object",
             endpoint::receive,
             "POST",
             json_type,
             R"(["MessageSid"])",
             sig::valid,
             400,
             {}},
            {"unsupported content type",
             endpoint::receive,
             "POST",
             "text/plain",
             "JOIN",
             sig::valid,
             415,
             {}},
        });
}

TEST(twilio, incoming_signatures) {
    const twilio_handler h(settings());
    run_cases(
        h,
        {
            {"missing header", endpoint::receive, "POST", form_type, sms_params, sig::none, 403, {}},
            {"one changed character in the signature",
             endpoint::receive,
             "POST",
             form_type,
             sms_params,
             sig::wrong_char,
             403,
             {}},
            {"wrong auth token", endpoint::receive, "POST", form_type, sms_params, sig::wrong_token, 403, {}},
            {"signed over the Host header's URL, not the public URL",
             endpoint::receive,
             "POST",
             form_type,
             sms_params,
             sig::host_header_url,
             403,
             {}},
            {"one changed character in the body",
             endpoint::receive,
             "POST",
             form_type,
             "MessageSid=SM1&From=%2B962791234567&Body=JOIN",
             sig::valid,
             403,
             {},
             "MessageSid=SM1&From=%2B962791234568&Body=JOIN"},
            {"a parameter added after signing",
             endpoint::receive,
             "POST",
             form_type,
             "MessageSid=SM1&From=%2B962791234567&Body=JOIN",
             sig::valid,
             403,
             {},
             "MessageSid=SM1&From=%2B962791234567&Body=JOIN&From=%2B962791234568"},
            {"JSON re-serialised after signing",
             endpoint::receive,
             "POST",
             json_type,
             R"({"MessageSid": "SM7", "From": "+962791234567", "Body": "JOIN"})",
             sig::valid,
             403,
             {},
             R"({"MessageSid":"SM7","From":"+962791234567","Body":"JOIN"})"},
            {"signature checked before parsing",
             endpoint::receive,
             "POST",
             form_type,
             "MessageSid=%ZZ",
             sig::none,
             403,
             {}},
            {"GET with a changed query",
             endpoint::receive,
             "GET",
             "",
             "MessageSid=SM6&From=%2B962791234567",
             sig::wrong_char,
             403,
             {}},
            {"status callback needs the signature too",
             endpoint::status,
             "POST",
             form_type,
             "MessageSid=SM1&MessageStatus=delivered",
             sig::none,
             403,
             {}},
        });
}

TEST(twilio, status_callbacks) {
    const twilio_handler h(settings());
    const auto status = [](std::string s, std::string code = "") {
        return "MessageSid=SMabc&SmsSid=SMabc&AccountSid=AC0123456789abcdef0123456789abcdef&From=%"
               "2B962790000000"
               "&To=%2B962791234567&ApiVersion=2010-04-01&SmsStatus=" +
               s + "&MessageStatus=" + s + (code.empty() ? "" : "&ErrorCode=" + code);
    };
    run_cases(h,
              {
                  {"queued",
                   endpoint::status,
                   "POST",
                   form_type,
                   status("queued"),
                   sig::valid,
                   200,
                   {status_update{"SMabc", msg_state::queued, ""}}},
                  {"accepted (Messaging Service)",
                   endpoint::status,
                   "POST",
                   form_type,
                   status("accepted"),
                   sig::valid,
                   200,
                   {status_update{"SMabc", msg_state::queued, ""}}},
                  {"sending",
                   endpoint::status,
                   "POST",
                   form_type,
                   status("sending"),
                   sig::valid,
                   200,
                   {status_update{"SMabc", msg_state::sent, ""}}},
                  {"sent",
                   endpoint::status,
                   "POST",
                   form_type,
                   status("sent"),
                   sig::valid,
                   200,
                   {status_update{"SMabc", msg_state::sent, ""}}},
                  {"delivered",
                   endpoint::status,
                   "POST",
                   form_type,
                   status("delivered"),
                   sig::valid,
                   200,
                   {status_update{"SMabc", msg_state::delivered, ""}}},
                  {"read (WhatsApp) implies delivered",
                   endpoint::status,
                   "POST",
                   form_type,
                   status("read"),
                   sig::valid,
                   200,
                   {status_update{"SMabc", msg_state::delivered, ""}}},
                  {"undelivered keeps the error code",
                   endpoint::status,
                   "POST",
                   form_type,
                   status("undelivered", "30003"),
                   sig::valid,
                   200,
                   {status_update{"SMabc", msg_state::failed, "30003"}}},
                  {"failed",
                   endpoint::status,
                   "POST",
                   form_type,
                   status("failed", "30008"),
                   sig::valid,
                   200,
                   {status_update{"SMabc", msg_state::failed, "30008"}}},
                  {"failed with 21610: the recipient opted out",
                   endpoint::status,
                   "POST",
                   form_type,
                   status("failed", "21610"),
                   sig::valid,
                   200,
                   {status_update{"SMabc", msg_state::failed, "21610"},
                    channel_event{channel_event::kind::stop_contact, "tel:+962791234567"}}},
                  {"WhatsApp blocked (63014) stops the whatsapp: URN",
                   endpoint::status,
                   "POST",
                   form_type,
                   "MessageSid=SMwa&MessageStatus=failed&ErrorCode=63014&To=whatsapp%3A%2B962791234567",
                   sig::valid,
                   200,
                   {status_update{"SMwa", msg_state::failed, "63014"},
                    channel_event{channel_event::kind::stop_contact, "whatsapp:962791234567"}}},
                  {"canceled",
                   endpoint::status,
                   "POST",
                   form_type,
                   status("canceled"),
                   sig::valid,
                   200,
                   {status_update{"SMabc", msg_state::failed, ""}}},
                  {"a status we do not track is ignored",
                   endpoint::status,
                   "POST",
                   form_type,
                   status("receiving"),
                   sig::valid,
                   200,
                   {}},
                  {"an unknown status is ignored",
                   endpoint::status,
                   "POST",
                   form_type,
                   status("teleported"),
                   sig::valid,
                   200,
                   {}},
                  {"missing MessageStatus",
                   endpoint::status,
                   "POST",
                   form_type,
                   "MessageSid=SMabc",
                   sig::valid,
                   400,
                   {}},
                  {"missing MessageSid",
                   endpoint::status,
                   "POST",
                   form_type,
                   "MessageStatus=sent",
                   sig::valid,
                   400,
                   {}},
                  {"a status callback on the receive URL",
                   endpoint::receive,
                   "POST",
                   form_type,
                   status("delivered"),
                   sig::valid,
                   200,
                   {status_update{"SMabc", msg_state::delivered, ""}}},
              });
}

TEST(twilio, replies_with_empty_twiml) {
    const twilio_handler h(settings());
    const auto accepted = h.reply(endpoint::receive, receive_result::accept({}));
    EXPECT_EQ(accepted.status, 200);
    EXPECT_EQ(accepted.content_type, "text/xml");
    EXPECT_EQ(accepted.body, R"(<?xml version="1.0" encoding="UTF-8"?><Response />)");
    const auto ignored = h.reply(endpoint::status, receive_result::ignore("x"));
    EXPECT_EQ(ignored.status, 200);
    EXPECT_EQ(ignored.body, R"(<?xml version="1.0" encoding="UTF-8"?><Response />)");
    const auto rejected = h.reply(endpoint::receive, receive_result::reject(403, "invalid signature"));
    EXPECT_EQ(rejected.status, 403);
    EXPECT_EQ(rejected.body, "invalid signature");
}

TEST(twilio, allows_get_and_post) {
    const twilio_handler h(settings());
    EXPECT_TRUE(h.allows(endpoint::receive, "POST"));
    EXPECT_TRUE(h.allows(endpoint::receive, "GET"));
    EXPECT_TRUE(h.allows(endpoint::status, "POST"));
    EXPECT_FALSE(h.allows(endpoint::receive, "PUT"));
}

// ---------------------------------------------------------------------------------------------
// Outgoing: the exact request, and what each canned response means.

struct send_case {
    const char* label;
    channel_settings channel;
    std::string urn;
    std::string text;
    std::string url;
    std::string body;
};

TEST(twilio, builds_send_requests) {
    const std::string messages = "https://api.twilio.com/2010-04-01/Accounts/" + account + "/Messages.json";
    auto whatsapp_channel = settings("whatsapp:+14155238886");
    auto service = settings("MG0123456789abcdef0123456789abcdef");
    auto local = settings();
    local.values["api_base"] = "http://127.0.0.1:9100/";
    auto with_public = settings();
    with_public.values["public_url"] = "https://sms.example.org/";
    const std::vector<send_case> cases = {
        {"SMS in Arabic, percent-encoded UTF-8",
         settings(),
         "tel:+962791234567",
         "مرحبا، هل ستحضر الورشة؟",
         messages,
         "To=%2B962791234567&From=%2B962790000000&Body=%D9%85%D8%B1%D8%AD%D8%A8%D8%A7%D8%8C%20%D9%87%D9%84%"
         "20%D8%B3%"
         "D8%AA%D8%AD%D8%B6%D8%B1%20%D8%A7%D9%84%D9%88%D8%B1%D8%B4%D8%A9%D8%9F"},
        {"SMS in English",
         settings(),
         "tel:+2348021234567",
         "Reply 1 & see you",
         messages,
         "To=%2B2348021234567&From=%2B962790000000&Body=Reply%201%20%26%20see%20you"},
        {"WhatsApp URN on an SMS number: both sides whatsapp:",
         settings(),
         "whatsapp:962791234567",
         "hi",
         messages,
         "To=whatsapp%3A%2B962791234567&From=whatsapp%3A%2B962790000000&Body=hi"},
        {"WhatsApp channel",
         whatsapp_channel,
         "whatsapp:962791234567",
         "hi",
         messages,
         "To=whatsapp%3A%2B962791234567&From=whatsapp%3A%2B14155238886&Body=hi"},
        {"Messaging Service",
         service,
         "tel:+962791234567",
         "hi",
         messages,
         "To=%2B962791234567&MessagingServiceSid=MG0123456789abcdef0123456789abcdef&Body=hi"},
        {"api_base pointed at a local fake",
         local,
         "tel:+962791234567",
         "hi",
         "http://127.0.0.1:9100/2010-04-01/Accounts/" + account + "/Messages.json",
         "To=%2B962791234567&From=%2B962790000000&Body=hi"},
        {"status callback on our public URL",
         with_public,
         "tel:+962791234567",
         "hi",
         messages,
         "To=%2B962791234567&From=%2B962790000000&Body=hi"
         "&StatusCallback=https%3A%2F%2Fsms.example.org%2Fc%2Fsms-jo%2Fstatus"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const twilio_handler h(c.channel);
        const send_request req =
            h.build_send({"6f1c2f7e-0000-4000-8000-000000000001", "sms-jo", c.urn, c.text});
        EXPECT_EQ(req.method, "POST");
        EXPECT_EQ(req.url, c.url);
        EXPECT_EQ(req.body, c.body);
        EXPECT_EQ(find_header(req.headers, "content-type"), "application/x-www-form-urlencoded");
        EXPECT_EQ(find_header(req.headers, "authorization"),
                  "Basic QUMwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjp0b2szbi1mb3ItdGVzdHM=");
        EXPECT_EQ(decode_form(req.body)->at(2).second, c.text);
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

TEST(twilio, classifies_send_responses) {
    const twilio_handler h(settings());
    const outgoing_message m{"id-1", "sms-jo", "tel:+962791234567", "a secret-looking text"};
    const auto error = [](int code, int status) {
        return R"({"code": )" + std::to_string(code) +
               R"(, "message": "a secret-looking text", "more_info": )"
               R"("https://www.twilio.com/docs/errors/)" +
               std::to_string(code) + R"(", "status": )" + std::to_string(status) + "}";
    };
    const std::vector<response_case> cases = {
        {"201 created",
         201,
         {},
         R"({"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued", "num_segments": "1"})",
         send_error::none,
         "SM0123456789abcdef0123456789abcdef"},
        {"201 without sid", 201, {}, R"({"status": "queued"})", send_error::bad_response, ""},
        {"200 not JSON", 200, {}, "<html>", send_error::bad_response, ""},
        {"400 invalid To (21211)", 400, {}, error(21211, 400), send_error::invalid_message, ""},
        {"400 landline (21614)", 400, {}, error(21614, 400), send_error::invalid_message, ""},
        {"400 body too long (21617)", 400, {}, error(21617, 400), send_error::invalid_message, ""},
        {"400 WhatsApp outside the window (63016)",
         400,
         {},
         error(63016, 400),
         send_error::invalid_message,
         ""},
        {"400 unsubscribed recipient (21610)", 400, {}, error(21610, 400), send_error::contact_stopped, ""},
        {"400 WhatsApp user blocked us (63014)", 400, {}, error(63014, 400), send_error::contact_stopped, ""},
        {"400 geo permissions (21408)", 400, {}, error(21408, 400), send_error::config, ""},
        {"400 trial: unverified To (21608)", 400, {}, error(21608, 400), send_error::config, ""},
        {"400 From not ours (21606)", 400, {}, error(21606, 400), send_error::config, ""},
        {"401 authentication (20003)", 401, {}, error(20003, 401), send_error::config, ""},
        {"404 unknown account (20404)", 404, {}, error(20404, 404), send_error::config, ""},
        {"429 with Retry-After",
         429,
         {{"Retry-After", "7"}},
         error(20429, 429),
         send_error::throttled,
         "",
         std::chrono::seconds{7}},
        {"429 without Retry-After", 429, {}, "", send_error::throttled, ""},
        {"429 with an unreadable Retry-After", 429, {{"Retry-After", "soon"}}, "", send_error::throttled, ""},
        {"500", 500, {}, "", send_error::server_error, ""},
        {"503 with a JSON error", 503, {}, error(20500, 503), send_error::server_error, ""},
        {"400 without a body", 400, {}, "", send_error::invalid_message, ""},
        {"302", 302, {}, "", send_error::bad_response, ""},
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

TEST(twilio, is_registered_with_its_settings) {
    const auto* t = find_handler_type("twilio");
    ASSERT_NE(t, nullptr);
    const auto kind_of = [&](std::string_view name) -> std::optional<setting_spec> {
        for (const auto& s : t->settings) {
            if (s.name == name) {
                return s;
            }
        }
        return std::nullopt;
    };
    ASSERT_TRUE(kind_of("address"));
    EXPECT_TRUE(kind_of("address")->required);
    ASSERT_TRUE(kind_of("account_sid"));
    ASSERT_TRUE(kind_of("auth_token"));
    EXPECT_EQ(kind_of("auth_token")->type, setting_spec::kind::secret);
    ASSERT_TRUE(kind_of("api_base"));
    EXPECT_EQ(kind_of("api_base")->type, setting_spec::kind::url);
    EXPECT_FALSE(kind_of("api_base")->required);
    EXPECT_EQ(t->settings.size(), 4u);
    EXPECT_NE(t->make(settings()), nullptr);
}

}  // namespace
}  // namespace flowgate::handlers
