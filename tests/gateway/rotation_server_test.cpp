// Secret rotation through the real server: during the overlap a webhook signed with the previous
// secret is stored like any other, counted, and logged once; any other secret gets 403; no secret
// reaches the log or any answer of the API.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "handlers/external.hpp"
#include "tests/support/api.hpp"
#include "tests/support/http.hpp"
#include "tests/support/process.hpp"

namespace flowgate::gateway {
namespace {

using json = nlohmann::json;

TEST(rotation_server, the_previous_secret_is_accepted_counted_and_logged_once) {
    test::temp_dir dir;
    dir.write("new.secret", "webhook-secret-new");
    dir.write("old.secret", "webhook-secret-old");
    const json cfg = {
        {"server", {{"listen", "127.0.0.1:0"}}},
        {"store", {{"sqlite", dir.file("flowgate.db")}}},
        {"data_key", "none"},
        {"channels",
         {{{"id", "ext"},
           {"type", "external"},
           {"send_url", "http://127.0.0.1:9/send"},
           {"secret", "file:" + dir.file("new.secret")},
           {"secret_previous", "file:" + dir.file("old.secret")}}}},
    };
    dir.write("config.json", cfg.dump());
    const auto tokens = test::make_role_tokens(dir.file("config.json"));
    ASSERT_EQ(tokens.size(), 3u);
    test::server_process server(dir.file("config.json"));
    int n = 0;
    const auto post = [&](const std::string& secret) {
        const std::string body = json{
            {"id", "m" + std::to_string(++n)},
            {"from", "ext:p" + std::to_string(n)},
            {"text", "hi"}}.dump();
        return test::request(server.port(),
                             "POST",
                             "/c/ext/receive",
                             body,
                             {{"Content-Type", "application/json"},
                              {"X-Flowgate-Signature", handlers::external_handler::signature(secret, body)}})
            .status;
    };
    struct step {
        const char* secret;
        int status;
    };
    for (const auto& k : std::vector<step>{{"webhook-secret-new", 200},
                                           {"webhook-secret-old", 200},
                                           {"webhook-secret-old", 200},
                                           {"webhook-secret-older", 403},
                                           {"", 403}}) {
        SCOPED_TRACE(k.secret);
        EXPECT_EQ(post(k.secret), k.status);
    }
    const std::string metrics = test::request(server.port(), "GET", "/metrics").body;
    EXPECT_NE(metrics.find("flowgate_webhooks_previous_secret_total{channel=\"ext\"} 2"), std::string::npos)
        << metrics;
    EXPECT_NE(metrics.find("flowgate_messages_in_total{channel=\"ext\"} 3"), std::string::npos) << metrics;
    // Nothing the API answers holds a secret, whatever the role.
    for (const char* target : {"/api/v1/openapi.json",
                               "/api/v1/flows",
                               "/api/v1/contacts",
                               "/api/v1/broadcasts",
                               "/api/v1/workshops",
                               "/api/v1/tokens",
                               "/api/v1/audit",
                               "/healthz",
                               "/metrics"}) {
        SCOPED_TRACE(target);
        const auto res = test::request(
            server.port(), "GET", target, "", {{"Authorization", "Bearer " + tokens.at("admin")}});
        EXPECT_EQ(res.status, 200);
        EXPECT_EQ(res.body.find("webhook-secret"), std::string::npos);
    }
    EXPECT_EQ(server.stop(), 0);
    const std::string log = server.log();
    std::size_t warnings = 0;
    for (auto at = log.find("passed with the previous secret"); at != std::string::npos;
         at = log.find("passed with the previous secret", at + 1)) {
        ++warnings;
    }
    EXPECT_EQ(warnings, 1u) << log;
    EXPECT_EQ(log.find("webhook-secret"), std::string::npos) << "no secret in the log";
}

}  // namespace
}  // namespace flowgate::gateway
