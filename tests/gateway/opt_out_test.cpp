// The opt-out property (docs/security.md, "Opt-out"): once a STOP is committed, nothing more
// leaves the sender for that contact — neither the messages still queued nor the one already
// claimed and waiting for the channel's rate. Only a message already handed to the provider before
// the STOP committed can still arrive (it cannot be recalled), and the STOP's own confirmation.

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "gateway/sqlite.hpp"
#include "handlers/external.hpp"
#include "tests/support/http.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sealed.hpp"

namespace flowgate {
namespace {

using json = nlohmann::json;

const std::string secret = "opt-out-secret";

constexpr const char* three_flow = R"({
  "id": "three", "language": "en",
  "nodes": [{"id": "a", "send": "one", "next": "b"}, {"id": "b", "send": "two", "next": "c"},
            {"id": "c", "send": "three"}]
})";

class opt_out_test : public ::testing::Test {
   protected:
    void write_config(const std::string& send_url, double per_second) {
        dir.write("secret", secret + "\n");
        dir.write("three.json", three_flow);
        const json cfg = {
            {"server", {{"listen", "127.0.0.1:0"}, {"shutdown_grace", "5s"}}},
            {"store", {{"sqlite", dir.file("flowgate.db")}}},
            {"data_key", "none"},
            {"default_country", "JO"},
            {"languages", {"en"}},
            {"channels",
             {{{"id", "local"},
               {"type", "external"},
               {"send_url", send_url},
               {"secret", "file:" + dir.file("secret")},
               {"max_per_second", per_second}}}},
            {"flows", {dir.file("three.json")}},
            {"triggers", {{{"keywords", {"GO"}}, {"flow", "three"}}}},
        };
        dir.write("config.json", cfg.dump());
    }

    static int post(std::uint16_t port, const std::string& id, const std::string& text) {
        const std::string body = json{{"id", id}, {"from", "+962791234567"}, {"text", text}}.dump();
        return test::request(port,
                             "POST",
                             "/c/local/receive",
                             body,
                             {{"Content-Type", "application/json"},
                              {"X-Flowgate-Signature", handlers::external_handler::signature(secret, body)}})
            .status;
    }

    // The outbound message with this text: "state error" ("" when there is none).
    std::string outbound(const std::string& text) {
        gateway::sqlite::connection db(dir.file("flowgate.db"), true);
        test::add_reveal(db);
        gateway::sqlite::statement q(db,
                                     "SELECT state || ' ' || coalesce(error, '') FROM messages "
                                     "WHERE direction = 'out' AND reveal(text) = ?1");
        q.bind(1, text);
        return q.step() ? q.column_text(0) : "";
    }

    // Polls the store (the state change is the event) until `text` is in a state starting with
    // `prefix`, up to 20 s.
    bool wait_state(const std::string& text, const std::string& prefix) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (std::chrono::steady_clock::now() < deadline) {
            if (outbound(text).rfind(prefix, 0) == 0) {
                return true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return false;
    }

    static std::vector<std::string> texts(const std::vector<test::recorded>& got) {
        std::vector<std::string> out;
        for (const auto& r : got) {
            out.push_back(json::parse(r.body).at("text").get<std::string>());
        }
        return out;
    }

    test::temp_dir dir;
};

// The race: "two" is claimed (state sending) and waits for the channel's rate — one message every
// 4 s — when the STOP commits. Checked again just before the provider, it must not go.
TEST_F(opt_out_test, a_message_claimed_before_the_stop_is_not_sent_after_it) {
    test::fake_provider provider;
    write_config(provider.url("/send"), 0.25);
    test::server_process server(dir.file("config.json"));
    ASSERT_EQ(post(server.port(), "m1", "GO"), 200);
    ASSERT_EQ(texts(provider.wait_for(1)).at(0), "one");
    ASSERT_TRUE(wait_state("two", "sending")) << outbound("two");
    ASSERT_EQ(post(server.port(), "m2", "STOP"), 200);  // committed
    ASSERT_TRUE(wait_state("two", "failed")) << outbound("two");
    EXPECT_EQ(outbound("two"), "failed contact_stopped");
    EXPECT_EQ(outbound("three"), "failed contact_stopped");
    EXPECT_EQ(server.stop(), 0);
    for (const auto& text : texts(provider.received())) {
        EXPECT_NE(text, "two");
        EXPECT_NE(text, "three");
    }
}

// A send the provider holds until after the STOP committed was handed over before it: it arrives.
// The messages queued behind it do not.
TEST_F(opt_out_test, messages_queued_behind_a_send_in_flight_are_stopped) {
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    // Set when the first send reaches the provider: 'sending' alone is not that, since a claimed
    // message is checked once more before it goes, and a STOP committed before that check
    // rightly stops it too.
    std::promise<void> arrived;
    std::future<void> first_arrived = arrived.get_future();
    test::fake_provider provider(
        [released, &arrived](std::size_t i, const test::recorded&) -> std::pair<int, std::string> {
            if (i == 0) {
                arrived.set_value();
                released.wait();  // the first send hangs until the STOP is committed
            }
            return {200, json{{"id", "p" + std::to_string(i)}}.dump()};
        });
    // Released at the latest when the test ends, so the fake's thread can stop.
    struct release_guard {
        std::promise<void>& p;
        bool done = false;
        void now() {
            if (!done) {
                done = true;
                p.set_value();
            }
        }
        ~release_guard() { now(); }
    } guard{release};
    write_config(provider.url("/send"), 100);
    test::server_process server(dir.file("config.json"));
    ASSERT_EQ(post(server.port(), "m1", "GO"), 200);
    ASSERT_EQ(first_arrived.wait_for(std::chrono::seconds(20)), std::future_status::ready);
    ASSERT_TRUE(wait_state("one", "sending"));
    ASSERT_EQ(post(server.port(), "m2", "STOP"), 200);
    guard.now();
    ASSERT_TRUE(wait_state("one", "sent")) << outbound("one");
    EXPECT_EQ(outbound("two"), "failed contact_stopped");
    EXPECT_EQ(outbound("three"), "failed contact_stopped");
    EXPECT_EQ(server.stop(), 0);
    const auto got = texts(provider.received());
    ASSERT_FALSE(got.empty());
    EXPECT_EQ(got.at(0), "one");
    for (const auto& text : got) {
        EXPECT_NE(text, "two");
        EXPECT_NE(text, "three");
    }
}

}  // namespace
}  // namespace flowgate
