// Integration: the real flowgate binary on 127.0.0.1 with a temporary SQLite file and a fake
// send_url server, driven over HTTP the way a provider drives it.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "gateway/sqlite.hpp"
#include "handlers/external.hpp"
#include "tests/support/http.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sample_flows.hpp"

namespace flowgate {
namespace {

using json = nlohmann::json;

const std::string secret = "integration-secret";

using test::signup_flow;

class server_test : public ::testing::Test {
   protected:
    void SetUp() override {
        dir.write("secret", secret + "\n");
        dir.write("signup.json", signup_flow);
        write_config(provider.url("/send"));
    }

    void write_config(const std::string& send_url) {
        const json cfg = {
            {"server", {{"listen", "127.0.0.1:0"}, {"body_limit", 4096}, {"shutdown_grace", "5s"}}},
            {"store", {{"sqlite", dir.file("flowgate.db")}}},
            {"data_key", "none"},
            {"default_country", "JO"},
            {"languages", {"en", "ar"}},
            {"channels",
             {{{"id", "local"},
               {"type", "external"},
               {"send_url", send_url},
               {"secret", "file:" + dir.file("secret")}}}},
            {"flows", {dir.file("signup.json")}},
            {"triggers", {{{"keywords", {"JOIN", "انضم"}}, {"flow", "signup"}}}},
        };
        dir.write("config.json", cfg.dump(2));
    }

    test::response post_message(std::uint16_t port,
                                const std::string& id,
                                const std::string& text,
                                bool sign = true) {
        const std::string body = json{{"id", id}, {"from", "+962791234567"}, {"text", text}}.dump();
        std::map<std::string, std::string> headers{{"Content-Type", "application/json"}};
        if (sign) {
            headers["X-Flowgate-Signature"] = handlers::external_handler::signature(secret, body);
        }
        return test::request(port, "POST", "/c/local/receive", body, headers);
    }

    std::vector<std::string> texts(const std::vector<test::recorded>& got) {
        std::vector<std::string> out;
        for (const auto& r : got) {
            out.push_back(json::parse(r.body).at("text").get<std::string>());
        }
        return out;
    }

    std::int64_t count(const std::string& sql) {
        gateway::sqlite::connection db(dir.file("flowgate.db"));
        gateway::sqlite::statement q(db, sql);
        return q.step() ? q.column_int64(0) : -1;
    }

    test::temp_dir dir;
    test::fake_provider provider;
};

TEST_F(server_test, one_message_end_to_end_with_dedupe_and_signatures) {
    test::server_process server(dir.file("config.json"));
    EXPECT_EQ(test::request(server.port(), "GET", "/healthz").status, 200);

    ASSERT_EQ(post_message(server.port(), "m1", "JOIN").status, 200);
    auto got = provider.wait_for(2);
    ASSERT_EQ(texts(got), (std::vector<std::string>{"Welcome", "Which city? 1 Amman 2 Irbid"}));
    // The outbound request is signed the same way, and carries the number and our message id.
    for (const auto& r : got) {
        EXPECT_EQ(r.method, "POST");
        EXPECT_EQ(r.target, "/send");
        EXPECT_EQ(r.headers.at("x-flowgate-signature"),
                  handlers::external_handler::signature(secret, r.body));
        const auto body = json::parse(r.body);
        EXPECT_EQ(body.at("to"), "+962791234567");
        EXPECT_EQ(body.at("channel"), "local");
        EXPECT_EQ(body.at("id").get<std::string>().size(), 36u);
    }

    // A provider retrying the same webhook is acknowledged again and changes nothing.
    ASSERT_EQ(post_message(server.port(), "m1", "JOIN").status, 200);
    // A forged or unsigned webhook is refused and stores nothing.
    EXPECT_EQ(post_message(server.port(), "forged", "2", false).status, 403);
    auto forged =
        test::request(server.port(),
                      "POST",
                      "/c/local/receive",
                      R"({"id":"forged2","from":"+962791234567","text":"2"})",
                      {{"Content-Type", "application/json"}, {"X-Flowgate-Signature", "sha256=00"}});
    EXPECT_EQ(forged.status, 403);

    ASSERT_EQ(post_message(server.port(), "m2", "٢").status, 200);
    got = provider.wait_for(3);
    ASSERT_GE(got.size(), 3u);
    EXPECT_EQ(texts(got).back(), "Thanks, see you in Irbid");

    // Delivery report for the last message, by the provider's id.
    const std::string provider_id = "provider-3";
    auto status = test::request(server.port(),
                                "POST",
                                "/c/local/status",
                                json{{"id", provider_id}, {"status", "delivered"}}.dump(),
                                {{"Content-Type", "application/json"},
                                 {"X-Flowgate-Signature",
                                  handlers::external_handler::signature(
                                      secret, json{{"id", provider_id}, {"status", "delivered"}}.dump())}});
    EXPECT_EQ(status.status, 200);

    const auto metrics = test::request(server.port(), "GET", "/metrics");
    EXPECT_EQ(metrics.status, 200);
    EXPECT_NE(metrics.body.find("flowgate_http_requests_total{route=\"receive\",status=\"200\"} 3"),
              std::string::npos)
        << metrics.body;
    EXPECT_NE(metrics.body.find("flowgate_http_requests_total{route=\"receive\",status=\"403\"} 2"),
              std::string::npos);
    EXPECT_NE(metrics.body.find("flowgate_messages_in_total{channel=\"local\"} 2"), std::string::npos);
    EXPECT_NE(metrics.body.find("flowgate_store_commit_seconds_count"), std::string::npos);

    EXPECT_EQ(server.stop(), 0);
    EXPECT_EQ(provider.received().size(), 3u) << "the retried webhook must not cause a second reply";
    EXPECT_EQ(count("SELECT count(*) FROM messages WHERE direction = 'in'"), 2);
    EXPECT_EQ(count("SELECT count(*) FROM messages WHERE direction = 'out'"), 3);
    EXPECT_EQ(count("SELECT count(*) FROM messages WHERE external_id LIKE 'forged%'"), 0);
    EXPECT_EQ(count("SELECT count(*) FROM messages WHERE state = 'delivered'"), 1);
    EXPECT_EQ(count("SELECT count(*) FROM results WHERE key = 'city' AND category = 'Irbid'"), 1);
    // The log holds neither the number nor a message body.
    const std::string log = server.log();
    EXPECT_EQ(log.find("791234567"), std::string::npos) << log;
    EXPECT_EQ(log.find("Which city"), std::string::npos) << log;
}

TEST_F(server_test, conversation_continues_after_a_restart) {
    {
        test::server_process server(dir.file("config.json"));
        ASSERT_EQ(post_message(server.port(), "r1", "JOIN").status, 200);
        ASSERT_EQ(provider.wait_for(2).size(), 2u);
        server.kill();  // a crash, not a clean stop: the acknowledged step must survive it
    }
    test::server_process server(dir.file("config.json"));
    ASSERT_EQ(post_message(server.port(), "r2", "amman").status, 200);
    const auto got = provider.wait_for(3);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(texts(got).back(), "Thanks, see you in Amman");
    EXPECT_EQ(server.stop(), 0);
    EXPECT_EQ(count("SELECT count(*) FROM runs WHERE status = 'completed'"), 1);
}

TEST_F(server_test, bad_requests_get_4xx_and_the_server_keeps_serving) {
    test::server_process server(dir.file("config.json"));
    const auto port = server.port();
    struct bad_case {
        const char* label;
        std::string method;
        std::string target;
        std::string content_type;
        std::string body;
        int status;
    };
    const std::string big(5000, 'x');  // over the configured 4096-byte limit
    const std::vector<bad_case> cases = {
        {"body over the limit", "POST", "/c/local/receive", "application/json", big, 413},
        {"unknown channel", "POST", "/c/nope/receive", "application/json", "{}", 404},
        {"unknown action", "POST", "/c/local/send", "application/json", "{}", 404},
        {"unknown path", "GET", "/admin", "", "", 404},
        {"wrong method on a channel", "GET", "/c/local/receive", "", "", 405},
        {"wrong method on healthz", "POST", "/healthz", "text/plain", "x", 405},
        {"wrong content type (signature checked later)", "POST", "/c/local/receive", "text/plain", "hi", 415},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        std::map<std::string, std::string> headers;
        if (!c.content_type.empty()) {
            headers["Content-Type"] = c.content_type;
        }
        EXPECT_EQ(test::request(port, c.method, c.target, c.body, headers).status, c.status);
        EXPECT_EQ(test::request(port, "GET", "/healthz").status, 200) << "the server must keep serving";
    }
    // A signed but malformed JSON body is a 400.
    const std::string malformed = R"({"id": "x", "from": )";
    EXPECT_EQ(
        test::request(port,
                      "POST",
                      "/c/local/receive",
                      malformed,
                      {{"Content-Type", "application/json"},
                       {"X-Flowgate-Signature", handlers::external_handler::signature(secret, malformed)}})
            .status,
        400);
    // A Content-Length far over the limit is refused before any body byte is sent.
    const std::string answer =
        test::raw_exchange(port,
                           "POST /c/local/receive HTTP/1.1\r\nHost: x\r\nContent-Type: "
                           "application/json\r\nContent-Length: 1000000000000\r\n\r\n");
    EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer;
    // A header block over the limit gets 431.
    const std::string huge_header = test::raw_exchange(
        port, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(10000, 'a') + "\r\n\r\n");
    EXPECT_EQ(huge_header.rfind("HTTP/1.1 431", 0), 0u) << huge_header.substr(0, 100);
    // Garbage is a 400.
    EXPECT_EQ(test::raw_exchange(port, "NOT HTTP AT ALL\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
    // Chunked bodies count against the limit too.
    std::string chunked =
        "POST /c/local/receive HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 10; ++i) {
        chunked += "3e8\r\n" + std::string(1000, 'y') + "\r\n";
    }
    chunked += "0\r\n\r\n";
    EXPECT_EQ(test::raw_exchange(port, chunked).rfind("HTTP/1.1 413", 0), 0u);
    EXPECT_EQ(test::request(port, "GET", "/healthz").status, 200);
    EXPECT_EQ(server.stop(), 0);
    EXPECT_EQ(count("SELECT count(*) FROM messages"), 0);
}

TEST_F(server_test, keep_alive_serves_several_requests_on_one_connection) {
    test::server_process server(dir.file("config.json"));
    const std::string two =
        "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: "
        "close\r\n\r\n";
    const std::string answer = test::raw_exchange(server.port(), two);
    std::size_t oks = 0;
    for (auto at = answer.find("HTTP/1.1 200"); at != std::string::npos;
         at = answer.find("HTTP/1.1 200", at + 1)) {
        ++oks;
    }
    EXPECT_EQ(oks, 2u) << answer;
}

// The server runs on jemalloc (docs/performance.md, item 49): linked even where the linker drops
// libraries nothing names, and loaded, so it is the process's malloc.
TEST_F(server_test, the_server_allocates_with_jemalloc) {
    test::server_process server(dir.file("config.json"));
    std::ifstream maps("/proc/" + std::to_string(server.pid()) + "/maps");
    ASSERT_TRUE(maps) << "no /proc for the server";
    const std::string all((std::istreambuf_iterator<char>(maps)), std::istreambuf_iterator<char>());
    EXPECT_NE(all.find("/libjemalloc.so"), std::string::npos);
}

TEST_F(server_test, check_reports_every_problem_with_pointers) {
    dir.write("bad.json", R"({
      "server": {"listen": "127.0.0.1:8080", "threads": "many"},
      "store": {"sqlite": "x.db"},
      "channels": [{"id": "local", "type": "smoke-signals"}],
      "triggers": [{"keywords": ["JOIN"], "flow": "nowhere"}]
    })");
    const auto r = test::run_flowgate({"check", "--config", dir.file("bad.json")});
    EXPECT_EQ(r.exit_code, 1);
    const std::string f = dir.file("bad.json");
    EXPECT_NE(r.output.find(f + ": /server/threads: must be an integer from 1 to 64"), std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find(f + ": /channels/0/type: unknown channel type \"smoke-signals\""),
              std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find(f + ": /triggers/0/flow: no flow has the id \"nowhere\""), std::string::npos)
        << r.output;
    // No data_key: the server will not start without one (or "none" said in so many words).
    EXPECT_NE(r.output.find(f + ": /data_key: is required"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("4 problems"), std::string::npos) << r.output;

    const auto ok = test::run_flowgate({"check", "--config", dir.file("config.json")});
    EXPECT_EQ(ok.exit_code, 0) << ok.output;
}

TEST_F(server_test, shipped_demo_config_is_valid) {
    // Paths in the demo config are relative to the repository root, where `make run` starts and
    // makes the data key file; here the key file is the test's own, beside the shipped config.
    std::filesystem::create_directories(dir.file("data"));
    std::filesystem::create_directory_symlink(std::string(FLOWGATE_SOURCE_DIR) + "/config",
                                              dir.file("config"));
    dir.write("data/demo.key", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n");
    const auto r = test::run_flowgate({"check", "--config", "config/demo.json"}, dir.file("."));
    EXPECT_EQ(r.exit_code, 0) << r.output;
}

}  // namespace
}  // namespace flowgate

namespace flowgate {
namespace {

// A RapidPro flow that calls a webhook (the fake provider, on loopback) and routes on its status.
json hook_export(const std::string& url) {
    const auto node = [](const char* uuid, json actions, json router, json exits) {
        json n{{"uuid", uuid}, {"actions", std::move(actions)}, {"exits", std::move(exits)}};
        if (!router.is_null()) {
            n["router"] = std::move(router);
        }
        return n;
    };
    const auto send = [](const char* uuid, const char* text) {
        return json::array({{{"uuid", uuid}, {"type", "send_msg"}, {"text", text}}});
    };
    json call = json::array({{{"uuid", "a0000000-0000-4000-8000-000000000001"},
                              {"type", "call_webhook"},
                              {"method", "POST"},
                              {"url", url},
                              {"headers", {{"Content-Type", "application/json"}}},
                              {"body", R"({"contact": "@contact.uuid"})"},
                              {"result_name", "Registration"}}});
    json router = {{"type", "switch"},
                   {"operand", "@(default(webhook.status, 0))"},
                   {"categories",
                    {{{"uuid", "c0000000-0000-4000-8000-000000000001"},
                      {"name", "Success"},
                      {"exit_uuid", "e0000000-0000-4000-8000-000000000001"}},
                     {{"uuid", "c0000000-0000-4000-8000-000000000002"},
                      {"name", "Failure"},
                      {"exit_uuid", "e0000000-0000-4000-8000-000000000002"}}}},
                   {"cases",
                    {{{"uuid", "d0000000-0000-4000-8000-000000000001"},
                      {"type", "has_number_between"},
                      {"arguments", {"200", "299"}},
                      {"category_uuid", "c0000000-0000-4000-8000-000000000001"}}}},
                   {"default_category_uuid", "c0000000-0000-4000-8000-000000000002"}};
    json nodes =
        json::array({node("b0000000-0000-4000-8000-000000000001",
                          call,
                          router,
                          {{{"uuid", "e0000000-0000-4000-8000-000000000001"},
                            {"destination_uuid", "b0000000-0000-4000-8000-000000000002"}},
                           {{"uuid", "e0000000-0000-4000-8000-000000000002"},
                            {"destination_uuid", "b0000000-0000-4000-8000-000000000003"}}}),
                     node("b0000000-0000-4000-8000-000000000002",
                          send("a0000000-0000-4000-8000-000000000002", "Registered: @results.registration"),
                          nullptr,
                          {{{"uuid", "e0000000-0000-4000-8000-000000000003"}}}),
                     node("b0000000-0000-4000-8000-000000000003",
                          send("a0000000-0000-4000-8000-000000000003", "Sorry, try later"),
                          nullptr,
                          {{{"uuid", "e0000000-0000-4000-8000-000000000004"}}})});
    return {{"version", "13"},
            {"flows",
             {{{"uuid", "f0000000-0000-4000-8000-000000000001"},
               {"name", "Hook"},
               {"spec_version", "13.1.0"},
               {"language", "eng"},
               {"type", "messaging"},
               {"nodes", nodes}}}}};
}

TEST(server_webhooks, a_flow_webhook_is_called_and_its_status_routes_the_run) {
    test::temp_dir dir;
    // Request 0 is the webhook (answered 201), then the reply goes to /send.
    test::fake_provider provider([](std::size_t i, const test::recorded&) -> std::pair<int, std::string> {
        return {i == 0 ? 201 : 200, R"({"id": "p"})"};
    });
    dir.write("hook.json", hook_export(provider.url("/hook")).dump());
    const json cfg = {
        {"server", {{"listen", "127.0.0.1:0"}}},
        {"store", {{"sqlite", dir.file("flowgate.db")}}},
        {"data_key", "none"},
        {"channels", {{{"id", "local"}, {"type", "external"}, {"send_url", provider.url("/send")}}}},
        {"flows", {dir.file("hook.json")}},
        {"triggers", {{{"keywords", {"HOOK"}}, {"flow", "Hook"}}}},
    };
    dir.write("config.json", cfg.dump());
    test::server_process server(dir.file("config.json"));
    const auto r = test::request(server.port(),
                                 "POST",
                                 "/c/local/receive",
                                 R"({"id": "h1", "from": "+962791234567", "text": "HOOK"})",
                                 {{"Content-Type", "application/json"}});
    ASSERT_EQ(r.status, 200);
    const auto got = provider.wait_for(2);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].target, "/hook");
    EXPECT_EQ(got[0].method, "POST");
    EXPECT_EQ(json::parse(got[0].body).at("contact").get<std::string>().size(), 36u);
    EXPECT_EQ(got[1].target, "/send");
    EXPECT_EQ(json::parse(got[1].body).at("text"), "Registered: 201");
    EXPECT_EQ(server.stop(), 0);
}

}  // namespace
}  // namespace flowgate
