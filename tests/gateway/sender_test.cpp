#include "gateway/sender.hpp"

#include <utility>

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <future>
#include <nlohmann/json.hpp>

#include "gateway/sqlite.hpp"
#include "gateway/sqlite_store.hpp"
#include "handlers/registry.hpp"
#include "tests/support/http.hpp"
#include "tests/support/process.hpp"

namespace flowgate::gateway {
namespace {

namespace asio = boost::asio;

struct send_case {
    const char* label;
    std::vector<int> answers;  // the fake provider's status for each request, in order
    int max_attempts;
    std::size_t requests;  // how many requests the provider must see, no more
    std::string final_state;
    std::string external_id;  // kept from a 2xx answer
    bool opted_out = false;   // the provider said the contact opted out: the contact is stopped
};

TEST(sender, retries_classifies_and_settles) {
    const std::vector<send_case> cases = {
        {"accepted at once", {200}, 6, 1, "sent", "provider-1"},
        {"5xx is retried", {500, 200}, 6, 2, "sent", "provider-2"},
        {"429 is retried", {429, 503, 200}, 6, 3, "sent", "provider-3"},
        {"4xx fails without a retry", {400}, 6, 1, "failed", ""},
        {"gives up after the last attempt", {500, 500, 500}, 3, 3, "failed", ""},
        {"410: the contact opted out at the provider", {410}, 6, 1, "failed", "", true},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        test::fake_provider provider([&](std::size_t i,
                                         const test::recorded&) -> std::pair<int, std::string> {
            const int status = c.answers.at(std::min(i, c.answers.size() - 1));
            return {status, status < 300 ? R"({"id":"provider-)" + std::to_string(i + 1) + R"("})" : "{}"};
        });
        test::temp_dir dir;
        sqlite_store store(dir.file("s.db"));
        metrics stats;
        writer w(store, stats);
        w.start();

        config::channel_config ch;
        ch.settings = {"local", "external", "JO", {{"send_url", provider.url("/send")}}};
        channel_map channels;
        channels.emplace("local",
                         channel_runtime{&ch, handlers::find_handler_type("external")->make(ch.settings)});
        {
            auto tx = store.begin_write();
            const auto contact = tx->upsert_contact("tel:+962791234567", "local", from_millis(0));
            tx->enqueue_outbound({"local",
                                  contact.id,
                                  "tel:+962791234567",
                                  "مرحبا",
                                  "UCS-2",
                                  1,
                                  std::nullopt,
                                  from_millis(0)});
            tx->commit();
        }

        asio::io_context ioc;
        auto guard = asio::make_work_guard(ioc);
        sender_options opts;
        opts.max_attempts = c.max_attempts;
        opts.retry_delays = {std::chrono::milliseconds(20)};
        opts.poll_interval = std::chrono::milliseconds(20);
        sender send(ioc, w, channels, stats, opts);
        send.start();
        std::thread runner([&] { ioc.run(); });

        EXPECT_EQ(provider.wait_for(c.requests).size(), c.requests);
        // Stopping waits for the send in flight to record its outcome.
        std::promise<void> stopped;
        asio::co_spawn(
            ioc,
            [&]() -> asio::awaitable<void> {
                co_await send.stop(std::chrono::seconds(10));
                stopped.set_value();
            },
            asio::detached);
        stopped.get_future().wait();
        guard.reset();
        ioc.stop();
        runner.join();
        w.stop();

        EXPECT_EQ(provider.received().size(), c.requests) << "no request beyond the expected ones";
        const auto body = nlohmann::json::parse(provider.received().at(0).body);
        EXPECT_EQ(body.at("text"), "مرحبا");
        sqlite::connection db(dir.file("s.db"));
        sqlite::statement q(
            db, "SELECT state, attempts, coalesce(external_id, '') FROM messages WHERE direction = 'out'");
        ASSERT_TRUE(q.step());
        EXPECT_EQ(q.column_text(0), c.final_state);
        EXPECT_EQ(q.column_int64(1), static_cast<std::int64_t>(c.requests));
        EXPECT_EQ(q.column_text(2), c.external_id);
        sqlite::statement contact(db, "SELECT stopped FROM contacts");
        ASSERT_TRUE(contact.step());
        EXPECT_EQ(contact.column_int64(0) != 0, c.opted_out);
    }
}

TEST(sender, retry_delays_grow_and_repeat_the_last) {
    const sender_options opts;
    EXPECT_EQ(opts.retry_delay(1), std::chrono::seconds(5));
    EXPECT_EQ(opts.retry_delay(2), std::chrono::seconds(30));
    EXPECT_EQ(opts.retry_delay(6), std::chrono::hours(1));
    EXPECT_EQ(opts.retry_delay(60), std::chrono::hours(1));
}

}  // namespace
}  // namespace flowgate::gateway
