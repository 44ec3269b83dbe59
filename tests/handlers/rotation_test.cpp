// Secret rotation: every provider's inbound secret can be rotated with an overlap — a request
// signed (or addressed) with the current or the previous secret passes, one with any other secret
// is refused, and what we send always uses the current secrets.

#include "handlers/rotation.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "handlers/crypto.hpp"
#include "handlers/external.hpp"
#include "handlers/form.hpp"
#include "handlers/meta.hpp"
#include "handlers/registry.hpp"
#include "handlers/twilio.hpp"
#include "handlers/vonage.hpp"

namespace flowgate::handlers {
namespace {

using secrets = std::map<std::string, std::string>;  // rotating setting -> the value a request uses

const std::string public_url = "https://gw.example.org/c/ch/receive";

raw_request post(std::string type, std::string body, std::string query = "") {
    raw_request r;
    r.method = "POST";
    r.path = "/c/ch/receive";
    r.query = std::move(query);
    r.headers.push_back({"Content-Type", std::move(type)});
    r.body = std::move(body);
    r.public_url = public_url + (r.query.empty() ? "" : "?" + r.query);
    return r;
}

raw_request get(std::string query) {
    raw_request r;
    r.method = "GET";
    r.path = "/c/ch/receive";
    r.query = std::move(query);
    r.public_url = public_url + "?" + r.query;
    return r;
}

// Meta (WhatsApp, Messenger): a signed event, and the subscription handshake.
raw_request meta_post(const secrets& s, const std::string& object) {
    auto r = post("application/json", R"({"object":")" + object + R"(","entry":[]})");
    r.headers.push_back({"X-Hub-Signature-256", meta::signature(s.at("app_secret"), r.body)});
    return r;
}

raw_request meta_handshake(const secrets& s) {
    return get("hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=" + s.at("verify_token"));
}

struct rotation_case {
    const char* type;
    // A genuine request, authenticated with `s` as the provider (or the proxy) would.
    std::function<raw_request(const secrets& s)> request;
};

const std::vector<rotation_case>& cases() {
    static const std::vector<rotation_case> all = {
        {"twilio",
         [](const secrets& s) {
             const std::string body = "MessageSid=SM1&From=%2B962791234567&To=%2B15005550006&Body=JOIN";
             auto r = post("application/x-www-form-urlencoded", body);
             r.headers.push_back(
                 {"X-Twilio-Signature",
                  twilio_handler::signature(s.at("auth_token"), public_url, *decode_form(body))});
             return r;
         }},
        {"vonage",
         [](const secrets& s) {
             std::map<std::string, std::string> params = {{"msisdn", "96171123456"},
                                                          {"to", "96170000000"},
                                                          {"messageId", "v1"},
                                                          {"text", "hi"},
                                                          {"type", "text"},
                                                          {"message-timestamp", "2026-11-29 10:00:00"},
                                                          {"nonce", "n1"},
                                                          {"timestamp", "1780000000"}};
             params["sig"] = vonage_handler::signature(
                 vonage_handler::sig_method::md5hash, s.at("signature_secret"), params, false);
             form_fields fields(params.begin(), params.end());
             return post("application/x-www-form-urlencoded", encode_form(fields));
         }},
        {"africastalking",
         [](const secrets& s) {
             return post("application/x-www-form-urlencoded",
                         "from=%2B2348021234567&to=12345&text=hi&id=m1&date=2026-11-29T10%3A00%3A00Z",
                         "secret=" + s.at("url_secret"));
         }},
        {"infobip",
         [](const secrets& s) {
             return post("application/json",
                         R"({"results":[{"messageId":"m1","from":"2348021234567","to":"12345",)"
                         R"("text":"hi","receivedAt":"2026-11-29T10:00:00.000+0000"}]})",
                         "secret=" + s.at("url_secret"));
         }},
        {"kannel",
         [](const secrets& s) {
             return get("from=%2B962791234567&to=12345&text=hi&id=k1&secret=" + s.at("url_secret"));
         }},
        {"telegram",
         [](const secrets& s) {
             auto r = post(
                 "application/json",
                 R"({"update_id":1,"message":{"message_id":1,"date":1780000000,)"
                 R"("chat":{"id":42,"type":"private"},"from":{"id":42,"first_name":"Huda"},"text":"hi"}})");
             r.headers.push_back({"X-Telegram-Bot-Api-Secret-Token", s.at("secret_token")});
             return r;
         }},
        {"whatsapp", [](const secrets& s) { return meta_post(s, "whatsapp_business_account"); }},
        {"whatsapp", meta_handshake},
        {"messenger", [](const secrets& s) { return meta_post(s, "page"); }},
        {"messenger", meta_handshake},
        {"external",
         [](const secrets& s) {
             auto r = post("application/json", R"({"id":"m5","from":"ext:p5","text":"hi"})");
             r.headers.push_back(
                 {"X-Flowgate-Signature", external_handler::signature(s.at("secret"), r.body)});
             return r;
         }},
    };
    return all;
}

// Every required setting filled in, the rotating secrets with "<name>-new" and, when `rotating`,
// "<name>-old" as their previous values.
channel_settings settings_for(const handler_type& type, bool rotating) {
    channel_settings s;
    s.id = "ch";
    s.type = type.name;
    s.default_country = "JO";
    for (const auto& spec : type.settings) {
        if (spec.rotates) {
            s.values[spec.name] = spec.name + "-new";
            if (rotating) {
                s.values[spec.name + "_previous"] = spec.name + "-old";
            }
        } else if (spec.required) {
            s.values[spec.name] = spec.type == setting_spec::kind::url ? "http://127.0.0.1:9/send" : "x1";
        }
    }
    s.values["public_url"] = "https://gw.example.org";
    return s;
}

secrets with(const handler_type& type, const std::string& suffix) {
    secrets out;
    for (const auto& spec : type.settings) {
        if (spec.rotates) {
            out[spec.name] = spec.name + suffix;
        }
    }
    return out;
}

TEST(rotation, every_inbound_secret_of_every_provider_rotates_with_an_overlap) {
    std::set<std::string> covered;
    for (const auto& k : cases()) {
        SCOPED_TRACE(k.type);
        const handler_type* type = find_handler_type(k.type);
        ASSERT_NE(type, nullptr);
        covered.insert(k.type);
        const auto plain = make_channel_handler(*type, settings_for(*type, false));
        const auto rotating = make_channel_handler(*type, settings_for(*type, true));
        const endpoint e = endpoint::receive;

        const receive_result current = plain->receive(e, k.request(with(*type, "-new")));
        ASSERT_FALSE(current.result == receive_result::outcome::rejected) << current.reason;
        EXPECT_FALSE(current.previous_secret);

        const receive_result old_without = plain->receive(e, k.request(with(*type, "-old")));
        EXPECT_EQ(old_without.http_status, 403) << "no previous secret configured: the old one is refused";

        const receive_result current_rotating = rotating->receive(e, k.request(with(*type, "-new")));
        EXPECT_EQ(current_rotating.result, current.result);
        EXPECT_FALSE(current_rotating.previous_secret);

        const receive_result old = rotating->receive(e, k.request(with(*type, "-old")));
        EXPECT_EQ(old.result, current.result) << old.reason;
        EXPECT_EQ(old.http_status, current.http_status);
        EXPECT_EQ(old.events.size(), current.events.size());
        EXPECT_EQ(old.respond.has_value(), current.respond.has_value());
        EXPECT_TRUE(old.previous_secret);

        const receive_result other = rotating->receive(e, k.request(with(*type, "-stolen")));
        EXPECT_EQ(other.result, receive_result::outcome::rejected);
        EXPECT_EQ(other.http_status, 403);
        EXPECT_FALSE(other.previous_secret);
    }
    // Every provider type with a rotating secret is in the table.
    for (const auto& t : register_all()) {
        const bool rotates =
            std::any_of(t.settings.begin(), t.settings.end(), [](const auto& s) { return s.rotates; });
        EXPECT_EQ(covered.count(t.name) == 1, rotates) << t.name;
    }
}

TEST(rotation, sends_use_the_current_secrets_only) {
    const handler_type* type = find_handler_type("twilio");
    ASSERT_NE(type, nullptr);
    const auto h = make_channel_handler(*type, settings_for(*type, true));
    outgoing_message m;
    m.id = "0b9c1e2a-3f4d-4e5f-8a6b-7c8d9e0f1a2b";
    m.channel_id = "ch";
    m.urn = "tel:+962791234567";
    m.text = "hi";
    const send_request req = h->build_send(m);
    std::string auth;
    for (const auto& [name, value] : req.headers) {
        if (name == "Authorization") {
            auth = value;
        }
    }
    EXPECT_EQ(auth, "Basic " + to_base64("x1:auth_token-new"));
}

TEST(rotation, previous_settings_swap_only_the_rotating_secrets) {
    const handler_type* type = find_handler_type("whatsapp");
    ASSERT_NE(type, nullptr);
    EXPECT_FALSE(previous_settings(*type, settings_for(*type, false)));
    auto s = settings_for(*type, false);
    s.values["verify_token_previous"] = "verify_token-old";
    const auto p = previous_settings(*type, s);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->get("verify_token"), "verify_token-old");
    EXPECT_EQ(p->get("app_secret"), "app_secret-new") << "a secret with no previous value stays";
    EXPECT_EQ(p->get("access_token"), "x1");
}

}  // namespace
}  // namespace flowgate::handlers
