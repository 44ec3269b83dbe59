// Crash safety (docs/security.md, "Crash safety"): the real flowgate binary takes a burst of signed
// webhooks from several concurrent senders on three channels (Twilio, Telegram, the generic
// external one) while its replies go out to fake providers; it is killed with SIGKILL at a random
// moment, restarted, and the round repeats. Senders retry what was not acknowledged, as providers
// do. At the end, `flowgate export messages` must show every acknowledged message stored exactly
// once, exactly one reply per message (no flow step ran twice), no message marked sent that its
// provider did not receive, no message received twice by a provider, and an intact database.
//
// FLOWGATE_CRASH_ROUNDS sets the rounds: 3 in ctest, 20 in `make crash-test`.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gateway/sqlite.hpp"
#include "tests/support/http.hpp"
#include "tests/support/process.hpp"
#include "tests/support/webhooks.hpp"

namespace flowgate {
namespace {

using json = nlohmann::json;
using answer = std::pair<int, std::string>;

const std::string telegram_token = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
const std::string telegram_secret = "tg_secret-0123456789";
const std::string telegram_path = "/bot" + telegram_token + "/sendMessage";

int rounds() {
    const char* v = std::getenv("FLOWGATE_CRASH_ROUNDS");
    const int n = v ? std::atoi(v) : 0;
    return n > 0 ? n : 3;
}

test::fake_provider::answer_fn telegram_api(test::provider_ids& ids) {
    return [&ids](std::size_t i, const test::recorded& r) -> answer {
        const json body = json::parse(r.body, nullptr, false);
        if (r.method != "POST" || r.target != telegram_path || !body.is_object() ||
            !body.contains("chat_id")) {
            return {404, R"({"ok": false, "error_code": 404, "description": "Not Found"})"};
        }
        const json& chat = body.at("chat_id");
        ids.add((chat.is_string() ? chat.get<std::string>() : chat.dump()) + ":" + std::to_string(i + 1));
        const json result = {{"message_id", i + 1},
                             {"chat", {{"id", body.at("chat_id")}, {"type", "private"}}},
                             {"date", 1767225600},
                             {"text", body.value("text", "")}};
        return {200, json{{"ok", true}, {"result", result}}.dump()};
    };
}

test::webhook make_webhook(int sender, int n, int contact) {
    const std::string tag = "s" + std::to_string(sender) + "n" + std::to_string(n);
    const std::string text = "HELLO " + tag;
    const std::string phone = "+96279" + std::to_string(1000000 + sender * 100 + contact);
    switch (sender % 3) {
        case 0: {
            char sid[40];
            std::snprintf(sid, sizeof sid, "SM%08x%024x", sender, n);
            return test::twilio_webhook(sid, phone, text);
        }
        case 1: {
            const long long chat = 500000 + sender * 100 + contact;
            const json update = {{"update_id", sender * 1000000 + n},
                                 {"message",
                                  {{"message_id", n + 1},
                                   {"from", {{"id", chat}, {"is_bot", false}, {"first_name", "Huda"}}},
                                   {"chat", {{"id", chat}, {"type", "private"}}},
                                   {"date", 1767225600},
                                   {"text", text}}}};
            return {
                "tg",
                std::to_string(chat) + ":" + std::to_string(n + 1),
                "/c/tg/receive",
                update.dump(),
                {{"Content-Type", "application/json"}, {"X-Telegram-Bot-Api-Secret-Token", telegram_secret}}};
        }
        default:
            return test::external_webhook(tag, phone, text);
    }
}

class crash_test : public ::testing::Test {
   protected:
    void SetUp() override {
        dir.write("telegram_token", telegram_token + "\n");
        test::write_echo_config(
            dir,
            {{"sqlite", dir.file("flowgate.db")}},
            {// Slower than the burst: replies queue up and are mid-send when the kill comes.
             test::twilio_channel(dir, twilio.url(""), 100),
             {{"id", "tg"},
              {"type", "telegram"},
              {"bot_token", "file:" + dir.file("telegram_token")},
              {"secret_token", telegram_secret},
              {"api_base", telegram.url("")}},
             test::external_channel(dir, external.url("/send"))});
    }

    // Posts until told to stop or the server is gone; what got no 2xx stays pending (the provider
    // retries it). Returns when the server stops answering.
    void sender_loop(int sender, std::uint16_t port, const std::atomic<bool>& stop, bool drain_only) {
        auto& mine = pending[static_cast<std::size_t>(sender)];
        auto post = [&](const test::webhook& w) { return record.post(port, w); };  // -1: the server is gone
        // First what the last round left unacknowledged.
        std::vector<test::webhook> left;
        for (std::size_t i = 0; i < mine.size(); ++i) {
            if (stop.load() || post(mine[i]) <= 0) {
                left.insert(left.end(), mine.begin() + static_cast<std::ptrdiff_t>(i), mine.end());
                break;
            }
        }
        mine = std::move(left);
        if (drain_only || !mine.empty()) {
            return;
        }
        while (!stop.load()) {
            const int n = next[static_cast<std::size_t>(sender)]++;
            test::webhook w = make_webhook(sender, n, n % 5);
            {
                std::lock_guard lock(record.mutex);
                ++made;
            }
            if (post(w) <= 0) {
                mine.push_back(std::move(w));
                return;
            }
        }
    }

    void burst(std::uint16_t port, std::atomic<bool>& stop, bool drain_only) {
        std::vector<std::thread> threads;
        for (int s = 0; s < senders; ++s) {
            threads.emplace_back(
                [this, s, port, &stop, drain_only] { sender_loop(s, port, stop, drain_only); });
        }
        for (auto& t : threads) {
            t.join();
        }
    }

    std::int64_t count(gateway::sqlite::connection& db, const std::string& sql) {
        gateway::sqlite::statement q(db, sql);
        return q.step() ? q.column_int64(0) : -1;
    }

    static constexpr int senders = 6;
    test::temp_dir dir;
    test::provider_ids twilio_ids, telegram_ids, external_ids;
    test::fake_provider twilio{test::twilio_api(twilio_ids)};
    test::fake_provider telegram{telegram_api(telegram_ids)};
    test::fake_provider external{test::external_api(external_ids)};

    test::burst_record record;
    std::size_t made = 0;  // under record.mutex
    std::vector<std::vector<test::webhook>> pending = std::vector<std::vector<test::webhook>>(senders);
    std::vector<int> next = std::vector<int>(senders, 0);
};

TEST_F(crash_test, kill_9_during_bursts_loses_and_doubles_nothing) {
    std::mt19937 random(std::random_device{}());
    const int n = rounds();
    std::size_t interrupted = 0;
    for (int round = 0; round < n; ++round) {
        test::server_process server(dir.file("config.json"));
        std::atomic<bool> stop{false};
        std::thread killer([&] {
            // A random moment in the burst: the randomness is the point, not a synchronisation.
            std::this_thread::sleep_for(
                std::chrono::milliseconds(std::uniform_int_distribution(50, 700)(random)));
            server.kill();
            stop = true;
        });
        burst(server.port(), stop, false);
        killer.join();
        const auto log = server.log();
        if (log.find("interrupted by a crash") != std::string::npos) {
            ++interrupted;
        }
    }

    // The last start: the providers retry everything still unacknowledged, and the outbox drains.
    test::server_process server(dir.file("config.json"));
    std::atomic<bool> stop{false};
    for (int attempt = 0; attempt < 20; ++attempt) {
        burst(server.port(), stop, true);
        bool left = false;
        for (const auto& p : pending) {
            left = left || !p.empty();
        }
        if (!left) {
            break;
        }
    }
    for (const auto& p : pending) {
        ASSERT_TRUE(p.empty()) << "a webhook was never acknowledged";
    }
    {
        // Until nothing is queued or being sent (a deadline, not a sleep: the drain is the event).
        gateway::sqlite::connection db(dir.file("flowgate.db"), true);
        test::wait_for_drain([&] { return count(db, test::outbox_sql); }, std::chrono::seconds(60));
    }
    EXPECT_EQ(server.stop(), 0);
    record.expect_no_unexpected_answers();

    std::string error;
    const json messages = test::export_messages(dir.file("config.json"), error);
    ASSERT_TRUE(messages.is_array()) << error;
    for (const auto& m : messages) {
        EXPECT_FALSE(m.contains("text"));
        EXPECT_FALSE(m.contains("urn"));
    }
    test::message_tally tally;
    ASSERT_NO_FATAL_FAILURE(test::tally_messages(
        messages,
        [&](const std::string& channel) -> test::provider_ids& {
            return channel == "sms" ? twilio_ids : channel == "tg" ? telegram_ids : external_ids;
        },
        tally));

    // Every acknowledged message is stored exactly once; nothing else is. No flow step ran twice for
    // one message: exactly one reply each, and one run each (below). Nothing marked sent that its
    // provider did not receive; nothing left mid-send or queued.
    EXPECT_EQ(record.acked.size(), made);
    test::expect_each_acked_stored_once(record.acked, tally);
    EXPECT_EQ(tally.out_states.count("sending"), 0u);
    EXPECT_EQ(tally.out_states.count("queued"), 0u);
    EXPECT_EQ(tally.out_states.count("failed"), 0u);

    // No provider received one message twice (each reply quotes its message, so texts are unique).
    const std::size_t requests = test::expect_each_received_once({&twilio, &telegram, &external});
    // What a provider received and was not marked sent: the sends a kill interrupted, now unknown.
    EXPECT_LE(requests, tally.replies.size());

    gateway::sqlite::connection db(dir.file("flowgate.db"), true);
    EXPECT_EQ(count(db, "SELECT count(*) FROM runs"), static_cast<std::int64_t>(tally.inbound_rows));
    {
        gateway::sqlite::statement q(db, "PRAGMA integrity_check");
        ASSERT_TRUE(q.step());
        EXPECT_EQ(q.column_text(0), "ok");
    }

    std::cout << n << " rounds: " << made << " webhooks acknowledged, " << tally.inbound_rows << " stored, "
              << requests << " replies received by providers; outbound by state:";
    for (const auto& [state, k] : tally.out_states) {
        std::cout << ' ' << state << '=' << k;
    }
    std::cout << "; " << interrupted << " restarts found sends interrupted\n";
}

}  // namespace
}  // namespace flowgate
