#include "handlers/kannel.hpp"

#include <gtest/gtest.h>

#include "handlers/form.hpp"
#include "handlers/registry.hpp"

namespace flowgate::handlers {
namespace {

const std::string url_secret = "k-url-secret-for-tests-7";
const std::string password = "foobar";

channel_settings settings() {
    channel_settings s;
    s.id = "kannel-jo";
    s.type = "kannel";
    s.default_country = "JO";
    s.values["address"] = "12345";
    s.values["send_url"] = "http://127.0.0.1:13013/cgi-bin/sendsms";
    s.values["username"] = "tester";
    s.values["password"] = password;
    s.values["url_secret"] = url_secret;
    s.values["dlr_url"] = "https://sms.example.org/c/kannel-jo/status";
    return s;
}

const std::string secret = "&secret=" + url_secret;
const std::string kid = "19acee96-e3f1-4bd9-98b3-b81dc03729a8";  // Kannel's %I

// One line of the spec: the query Kannel's get-url produces and what must come of it.
struct incoming_case {
    const char* label;
    endpoint ep;
    std::string query;
    int status;
    std::vector<event> events;
    receive_result::outcome outcome = receive_result::outcome::accepted;
};

raw_request make_request(endpoint ep, const std::string& query) {
    raw_request r;
    r.method = "GET";
    r.path = ep == endpoint::receive ? "/c/kannel-jo/receive" : "/c/kannel-jo/status";
    r.query = query;
    r.public_url = "https://sms.example.org" + r.path + "?" + query;
    return r;
}

void run_cases(const std::vector<incoming_case>& cases) {
    const kannel_handler h(settings());
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const auto result = h.receive(c.ep, make_request(c.ep, c.query));
        EXPECT_EQ(result.http_status, c.status);
        EXPECT_EQ(result.events, c.events);
        EXPECT_EQ(result.result, c.status >= 400 ? receive_result::outcome::rejected : c.outcome);
        const auto reply = h.reply(c.ep, result);
        EXPECT_EQ(reply.status, c.status);
        EXPECT_EQ(reply.content_type, "text/plain");
        EXPECT_EQ(reply.body.find(url_secret), std::string::npos);
        if (c.status < 400) {
            // A body would become a reply SMS.
            EXPECT_EQ(reply.body, "");
        }
    }
}

incoming_message msg(const std::string& urn, const std::string& text) { return {kid, urn, text, ""}; }

TEST(kannel, incoming_messages) {
    const std::string id = "&id=" + kid;
    run_cases({
        {"the get-url of kannel.md's observed run",
         endpoint::receive,
         "from=%2B15551230001&to=12345&text=hello+from+fakesmsc" + id + secret,
         200,
         {msg("tel:+15551230001", "hello from fakesmsc")}},
        {"secret first",
         endpoint::receive,
         "secret=" + url_secret + "&from=%2B962791234567&to=12345&text=JOIN" + id,
         200,
         {msg("tel:+962791234567", "JOIN")}},
        {"national number (§10 vector)",
         endpoint::receive,
         "from=0791234567&to=12345&text=hi" + id + secret,
         200,
         {msg("tel:+962791234567", "hi")}},
        {"international 00 prefix",
         endpoint::receive,
         "from=00962791234567&to=12345&text=hi" + id + secret,
         200,
         {msg("tel:+962791234567", "hi")}},
        {"country code without '+'",
         endpoint::receive,
         "from=962791234567&to=12345&text=hi" + id + secret,
         200,
         {msg("tel:+962791234567", "hi")}},
        {"extra parameters (smsc, ts) are fine",
         endpoint::receive,
         "from=%2B962791234567&to=12345&text=hi&smsc=FAKE&ts=2026-11-28+15:21:12" + id + secret,
         200,
         {msg("tel:+962791234567", "hi")}},
        {"empty text",
         endpoint::receive,
         "from=%2B962791234567&to=12345&text=" + id + secret,
         200,
         {msg("tel:+962791234567", "")}},
        {"Arabic recoded to UTF-8 (mo-recode = true)",
         endpoint::receive,
         "from=%2B962791234567&to=12345&text=%D9%85%D8%B1%D8%AD%D8%A8%D8%A7+%D8%A8%D9%83" + id + secret,
         200,
         {msg("tel:+962791234567", "مرحبا بك")}},
        {"Arabic as UTF-16BE with charset=%C",
         endpoint::receive,
         "from=%2B962791234567&to=12345&text=%06E%061%06-%06%28%06%27&coding=2&charset=UTF-16BE" + id +
             secret,
         200,
         {msg("tel:+962791234567", "مرحبا")}},
        {"Arabic as UTF-16BE with only coding=%c",
         endpoint::receive,
         "from=%2B962791234567&to=12345&text=%06E%061%06-%06%28%06%27&coding=2" + id + secret,
         200,
         {msg("tel:+962791234567", "مرحبا")}},
        {"Arabic as UTF-16BE, %a's '+' between words, recognised without charset",
         endpoint::receive,
         "from=%2B962791234567&to=12345&text=%06E%061%06-%06%28%06%27%00+%06%28%06C" + id + secret,
         200,
         {msg("tel:+962791234567", "مرحبا بك")}},
        {"UTF-16BE emoji (surrogate pair)",
         endpoint::receive,
         "from=%2B962791234567&to=12345&text=%D8%3D%DE%00&charset=UTF-16BE" + id + secret,
         200,
         {msg("tel:+962791234567", "😀")}},
        {"WINDOWS-1252 with charset",
         endpoint::receive,
         "from=%2B962791234567&to=12345&text=caf%E9+%80&charset=WINDOWS-1252" + id + secret,
         200,
         {msg("tel:+962791234567", "café €")}},
        {"Latin-1 bytes without charset",
         endpoint::receive,
         "from=%2B962791234567&to=12345&text=Ol%E9" + id + secret,
         200,
         {msg("tel:+962791234567", "Olé")}},
        {"charset=UTF-8 honoured",
         endpoint::receive,
         "from=%2B962791234567&to=12345&text=%C3%A9t%C3%A9&charset=UTF-8&coding=0" + id + secret,
         200,
         {msg("tel:+962791234567", "été")}},
        {"alphanumeric sender ignored",
         endpoint::receive,
         "from=Zain&to=12345&text=Your+balance" + id + secret,
         200,
         {},
         receive_result::outcome::ignored},
        {"charset=UTF-8 but not UTF-8",
         endpoint::receive,
         "from=%2B962791234567&to=12345&text=%E9&charset=UTF-8" + id + secret,
         400,
         {}},
        {"UTF-16BE of odd length",
         endpoint::receive,
         "from=%2B962791234567&to=12345&text=%06E%06&coding=2" + id + secret,
         400,
         {}},
        {"UTF-16BE lone surrogate",
         endpoint::receive,
         "from=%2B962791234567&to=12345&text=%D8%3D%00a&charset=UTF-16BE" + id + secret,
         400,
         {}},
        {"missing id", endpoint::receive, "from=%2B962791234567&to=12345&text=hi" + secret, 400, {}},
        {"empty id", endpoint::receive, "from=%2B962791234567&to=12345&text=hi&id=" + secret, 400, {}},
        {"missing from", endpoint::receive, "to=12345&text=hi" + id + secret, 400, {}},
        {"missing text", endpoint::receive, "from=%2B962791234567&to=12345" + id + secret, 400, {}},
    });
}

TEST(kannel, url_secret_is_required) {
    const std::string q = "from=%2B962791234567&to=12345&text=hi&id=" + kid;
    std::string one_changed = url_secret;
    one_changed[3] = one_changed[3] == 'u' ? 'v' : 'u';
    run_cases({
        {"no secret", endpoint::receive, q, 403, {}},
        {"wrong secret", endpoint::receive, q + "&secret=nope", 403, {}},
        {"one changed character", endpoint::receive, q + "&secret=" + one_changed, 403, {}},
        {"empty secret", endpoint::receive, q + "&secret=", 403, {}},
        {"the secret under another name (token=, as in §4.1's example)",
         endpoint::receive,
         q + "&token=" + url_secret,
         403,
         {}},
        {"a malformed query is not verified", endpoint::receive, q + secret + "&x=%G1", 403, {}},
        {"status endpoint too", endpoint::status, "id=mt42&type=1&secret=nope", 403, {}},
    });
    channel_settings s = settings();
    s.values["url_secret"] = "";
    const kannel_handler open(s);
    EXPECT_EQ(open.receive(endpoint::receive, make_request(endpoint::receive, q + "&secret=")).http_status,
              403);
}

TEST(kannel, delivery_reports) {
    // The dlr-url as kannel.md saw it called, with our id and secret.
    const auto dlr = [](const std::string& type) {
        return "id=mt42&type=" + type +
               "&status=ACK%2F&to=%2B15551230009&from=12345&ts=1795879281&smscid=" + secret;
    };
    run_cases({
        {"1: delivered to the phone",
         endpoint::status,
         dlr("1"),
         200,
         {status_update{"mt42", msg_state::delivered, ""}}},
        {"2: not delivered to the phone",
         endpoint::status,
         dlr("2"),
         200,
         {status_update{"mt42", msg_state::failed, "dlr-2"}}},
        {"4: queued on the SMSC",
         endpoint::status,
         dlr("4"),
         200,
         {status_update{"mt42", msg_state::sent, ""}}},
        {"8: accepted by the SMSC (kannel.md's first callback)",
         endpoint::status,
         dlr("8"),
         200,
         {status_update{"mt42", msg_state::sent, ""}}},
        {"16: rejected by the SMSC",
         endpoint::status,
         dlr("16"),
         200,
         {status_update{"mt42", msg_state::failed, "dlr-16"}}},
        {"32: intermediate, ignored", endpoint::status, dlr("32"), 200, {}, receive_result::outcome::ignored},
        {"unknown type", endpoint::status, dlr("3"), 400, {}},
        {"unsubstituted type", endpoint::status, "id=mt42&type=%25d" + secret, 400, {}},
        {"missing type", endpoint::status, "id=mt42" + secret, 400, {}},
        {"missing id", endpoint::status, "type=1" + secret, 400, {}},
    });
}

TEST(kannel, only_get_is_allowed) {
    const kannel_handler h(settings());
    EXPECT_TRUE(h.allows(endpoint::receive, "GET"));
    EXPECT_TRUE(h.allows(endpoint::status, "GET"));
    EXPECT_FALSE(h.allows(endpoint::receive, "POST"));
}

const std::string sendsms = "http://127.0.0.1:13013/cgi-bin/sendsms";
const std::string our_id = "6f1c2f7e-0000-4000-8000-000000000001";
const std::string dlr_param =
    "&dlr-mask=31&dlr-url=https%3A%2F%2Fsms.example.org%2Fc%2Fkannel-jo%2Fstatus%3Fsecret%3D" + url_secret +
    "%26id%3D" + our_id + "%26type%3D%25d";

TEST(kannel, builds_the_sendsms_request) {
    const kannel_handler h(settings());
    struct send_case {
        const char* label;
        std::string text;
        std::string url;
    };
    const std::vector<send_case> cases = {
        {"Arabic: UTF-8 text, coding=2",
         "مرحبا",
         sendsms +
             "?username=tester&password=foobar&to=%2B962791234567&from=12345&text=%D9%85%D8%B1%D8%AD%D8%A8%"
             "D8%A7"
             "&charset=UTF-8&coding=2" +
             dlr_param},
        {"GSM-7 with extension characters: no coding",
         "Hello @ 10€ {ok}",
         sendsms +
             "?username=tester&password=foobar&to=%2B962791234567&from=12345"
             "&text=Hello%20%40%2010%E2%82%AC%20%7Bok%7D&charset=UTF-8" +
             dlr_param},
        {"one lower-case ç makes it UCS-2",
         "Merci ç",
         sendsms +
             "?username=tester&password=foobar&to=%2B962791234567&from=12345&text=Merci%20%C3%A7"
             "&charset=UTF-8&coding=2" +
             dlr_param},
        {"an Arabic-Indic digit makes it UCS-2",
         "Reply ١",
         sendsms +
             "?username=tester&password=foobar&to=%2B962791234567&from=12345&text=Reply%20%D9%A1"
             "&charset=UTF-8&coding=2" +
             dlr_param},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const send_request req = h.build_send({our_id, "kannel-jo", "tel:+962791234567", c.text});
        EXPECT_EQ(req.method, "GET");
        EXPECT_EQ(req.url, c.url);
        EXPECT_TRUE(req.headers.empty());
        EXPECT_EQ(req.body, "");
    }

    // Without a dlr_url no reports are asked for; without an address Kannel's own sender is used;
    // a send_url that has a query already keeps it.
    channel_settings s = settings();
    s.values.erase("dlr_url");
    s.values.erase("address");
    s.values["send_url"] = sendsms + "?smsc=zain";
    const kannel_handler bare(s);
    EXPECT_EQ(
        bare.build_send({our_id, "kannel-jo", "tel:+962791234567", "hi"}).url,
        sendsms + "?smsc=zain&username=tester&password=foobar&to=%2B962791234567&text=hi&charset=UTF-8");

    // Without a dlr_url of its own, the channel asks for reports at the server's public URL.
    s.values["public_url"] = "https://sms.example.org";
    s.id = "kannel-jo";
    const kannel_handler public_url_only(s);
    const auto url = public_url_only.build_send({our_id, "kannel-jo", "tel:+962791234567", "hi"}).url;
    EXPECT_NE(url.find("&dlr-url=https%3A%2F%2Fsms.example.org%2Fc%2Fkannel-jo%2Fstatus"), std::string::npos)
        << url;
}

TEST(kannel, the_dlr_url_comes_back_to_the_status_endpoint) {
    const kannel_handler h(settings());
    const send_request req = h.build_send({our_id, "kannel-jo", "tel:+962791234567", "hi"});
    const auto fields = decode_form(req.url.substr(req.url.find('?') + 1));
    ASSERT_TRUE(fields);
    const std::string* dlr = find_field(*fields, "dlr-url");
    ASSERT_NE(dlr, nullptr);
    // What Kannel does with it: substitute %d, then GET it.
    std::string called = *dlr;
    called.replace(called.find("%d"), 2, "1");
    const auto q = called.find('?');
    EXPECT_EQ(called.substr(0, q), "https://sms.example.org/c/kannel-jo/status");
    const auto result = h.receive(endpoint::status, make_request(endpoint::status, called.substr(q + 1)));
    EXPECT_EQ(result.http_status, 200);
    EXPECT_EQ(result.events, (std::vector<event>{status_update{our_id, msg_state::delivered, ""}}));
}

TEST(kannel, gsm7_check) {
    const std::string digits = "1234567890";
    std::string long_digits;
    for (int i = 0; i < 16; ++i) {
        long_digits += digits;
    }
    // providers.md §9.6 and §9.1's traps.
    for (const std::string& t : {std::string{},
                                 long_digits,
                                 std::string("|^€{}[]~\\"),
                                 std::string("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"),
                                 std::string("¤¡ÄÖÑÜ§¿äöñüà\n\r"),
                                 std::string("]]]")}) {
        SCOPED_TRACE(t);
        EXPECT_TRUE(kannel_handler::is_gsm7(t));
    }
    for (const std::string& t : {std::string("😜23456789"),
                                 std::string("Á"),
                                 std::string("ç"),
                                 std::string("í"),
                                 std::string("`"),
                                 std::string("‘quoted’"),
                                 std::string("“quoted”"),
                                 std::string("wait…"),
                                 std::string("a–b"),
                                 std::string("a\u00a0b"),
                                 std::string("مرحبا"),
                                 std::string("٣"),
                                 std::string("۳"),
                                 std::string("1\u200f"),
                                 std::string("\xff"),
                                 std::string("\xc3"),
                                 std::string("\xc0\x80")}) {
        SCOPED_TRACE(t);
        EXPECT_FALSE(kannel_handler::is_gsm7(t));
    }
}

struct response_case {
    const char* label;
    int status;
    std::string body;
    send_error error;
};

TEST(kannel, classifies_sendsms_answers) {
    const kannel_handler h(settings());
    const outgoing_message m{our_id, "kannel-jo", "tel:+962791234567", "hi"};
    // providers.md §4.2's table and kannel.md's observed answers.
    const std::vector<response_case> cases = {
        {"accepted", 202, "0: Accepted for delivery", send_error::none},
        {"queued for later", 202, "3: Queued for later delivery", send_error::none},
        {"several recipients sent", 202, "Sent.", send_error::none},
        {"200 that is not Kannel", 200, "<html>hello</html>", send_error::bad_response},
        {"wrong password", 403, "Authorization failed for sendsms", send_error::config},
        {"401", 401, "", send_error::config},
        {"not routable", 403, "Not routable. Do not try again.", send_error::invalid_message},
        {"missing receiver", 400, "Missing receiver number, rejected", send_error::invalid_message},
        {"empty receiver", 400, "Empty receiver number not allowed, rejected", send_error::invalid_message},
        {"misformed field", 400, "Coding field misformed, rejected", send_error::invalid_message},
        {"charset misformed", 400, "Charset or body misformed, rejected", send_error::invalid_message},
        {"black-listed",
         400,
         "Number(s) has/have been denied by white- and/or black-lists.",
         send_error::invalid_message},
        {"no sender", 400, "Sender missing and no global set, rejected", send_error::config},
        {"temporal failure", 503, "Temporal failure, try again later.", send_error::server_error},
        {"sending failed", 500, "Sending failed.", send_error::server_error},
        {"429", 429, "", send_error::throttled},
        {"301", 301, "", send_error::bad_response},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const auto r = h.parse_send_response(m, {c.status, {}, c.body});
        EXPECT_EQ(r.error, c.error);
        EXPECT_EQ(r.provider_id, "");
        EXPECT_EQ(r.detail.find(password), std::string::npos);
    }
}

TEST(kannel, is_registered_with_its_settings) {
    const auto* t = find_handler_type("kannel");
    ASSERT_NE(t, nullptr);
    EXPECT_NE(t->make(settings()), nullptr);
    std::vector<std::string> required;
    for (const auto& s : t->settings) {
        if (s.required) {
            required.push_back(s.name);
        }
        if (s.name == "password" || s.name == "url_secret") {
            EXPECT_EQ(s.type, setting_spec::kind::secret);
        }
        if (s.name == "send_url" || s.name == "dlr_url") {
            EXPECT_EQ(s.type, setting_spec::kind::url);
        }
    }
    EXPECT_EQ(required, (std::vector<std::string>{"send_url", "username", "password", "url_secret"}));
    EXPECT_EQ(t->settings.size(), 6u);
}

}  // namespace
}  // namespace flowgate::handlers
