// Several instances on one PostgreSQL (docs/architecture.md, "Several instances"): two real
// `flowgate serve` processes share a throwaway PostgreSQL on 127.0.0.1 and one config, as behind a
// load balancer. Concurrent senders split a burst of signed webhooks between them — the same few
// contacts writing to both at once — and one instance is killed with SIGKILL mid-burst. As a
// provider would, a sender posts what was not acknowledged again, to the instance still up. At the
// end, `flowgate export messages` must show every acknowledged message stored exactly once,
// exactly one reply to each (no flow step ran twice, whichever instance took it), no provider that
// received a reply twice, nothing marked sent that a provider did not receive, and no send left
// 'sending' by the dead instance.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gateway/pq.hpp"
#include "tests/support/http.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/process.hpp"
#include "tests/support/webhooks.hpp"

namespace flowgate {
namespace {

using json = nlohmann::json;

// Seven contacts in all, each writing through every sender: both instances take messages of the
// same contacts at the same time.
test::webhook make_webhook(int sender, int n) {
    const std::string tag = "s" + std::to_string(sender) + "n" + std::to_string(n);
    const std::string text = "HELLO " + tag;
    const std::string phone = "+96279" + std::to_string(1000000 + (sender + n) % 7);
    if (sender % 2 == 0) {
        char sid[40];
        std::snprintf(sid, sizeof sid, "SM%08x%024x", sender, n);
        return test::twilio_webhook(sid, phone, text);
    }
    return test::external_webhook(tag, phone, text);
}

class multi_instance_test : public test::postgres_database_test {
   protected:
    void SetUp() override {
        postgres_database_test::SetUp();
        if (IsSkipped()) {
            return;
        }
        test::write_echo_config(dir,
                                {{"postgres", database}},
                                {test::twilio_channel(dir, twilio.url(""), 200),
                                 test::external_channel(dir, external.url("/send"))});
    }

    std::int64_t count(const std::string& sql) {
        gateway::pq::connection db(database);
        return db.q(sql).int64(0, 0);
    }

    test::temp_dir dir;
    test::provider_ids twilio_ids, external_ids;
    test::fake_provider twilio{test::twilio_api(twilio_ids)};
    test::fake_provider external{test::external_api(external_ids)};
};

TEST_F(multi_instance_test, two_instances_one_killed_mid_burst_lose_and_double_nothing) {
    constexpr int senders = 6;
    constexpr int per_sender = 40;
    test::server_process a(dir.file("config.json"));
    test::server_process b(dir.file("config.json"));
    const std::uint16_t ports[2] = {a.port(), b.port()};

    test::burst_record burst;
    std::atomic<bool> a_dead{false};
    std::atomic<int> retried{0};

    auto sender = [&](int s) {
        for (int n = 0; n < per_sender; ++n) {
            const test::webhook w = make_webhook(s, n);
            // Split between the two; what gets no 2xx goes again, to the other one, until acknowledged.
            int target = (s + n) % 2;
            for (int attempt = 0;; ++attempt) {
                if (target == 0 && a_dead.load()) {
                    target = 1;
                }
                if (burst.post(ports[target], w) > 0) {
                    break;
                }
                ASSERT_LT(attempt, 50) << "never acknowledged";
                ++retried;
                target = 1 - target;
            }
        }
    };
    // Mid-burst: once a random share of the burst (a fifth to three fifths) is acknowledged — an
    // event, not a sleep — instance a is killed, with requests and sends in flight.
    std::mt19937 random(std::random_device{}());
    const std::size_t kill_after = std::uniform_int_distribution<std::size_t>(
        senders * per_sender / 5, senders * per_sender * 3 / 5)(random);
    std::thread killer([&] {
        {
            std::unique_lock lock(burst.mutex);
            burst.progress.wait(lock, [&] { return burst.acked.size() >= kill_after; });
        }
        a.kill();
        a_dead = true;
    });
    std::vector<std::thread> threads;
    for (int s = 0; s < senders; ++s) {
        threads.emplace_back(sender, s);
    }
    for (auto& t : threads) {
        t.join();
    }
    killer.join();
    ASSERT_EQ(burst.acked.size(), static_cast<std::size_t>(senders * per_sender));

    // Until nothing is queued or being sent: the survivor sends what the dead one left queued, and
    // finds the sends it left 'sending' (its instance lock is gone) and makes them unknown. A
    // deadline, not a sleep: the drain is the event.
    test::wait_for_drain([&] { return count(test::outbox_sql); }, std::chrono::seconds(90));
    EXPECT_EQ(b.stop(), 0);
    burst.expect_no_unexpected_answers();

    std::string error;
    const json messages = test::export_messages(dir.file("config.json"), error);
    ASSERT_TRUE(messages.is_array()) << error;
    test::message_tally tally;
    ASSERT_NO_FATAL_FAILURE(test::tally_messages(
        messages,
        [&](const std::string& channel) -> test::provider_ids& {
            return channel == "sms" ? twilio_ids : external_ids;
        },
        tally));

    // Zero lost, zero doubled: every acknowledged message stored once, and nothing else; one reply
    // to each message (no flow step twice), one run each.
    test::expect_each_acked_stored_once(burst.acked, tally);
    EXPECT_EQ(count("SELECT count(*) FROM runs"), static_cast<std::int64_t>(tally.inbound_rows));
    EXPECT_EQ(tally.out_states.count("sending"), 0u) << "a send the dead instance left was never recovered";
    EXPECT_EQ(tally.out_states.count("queued"), 0u);
    EXPECT_EQ(tally.out_states.count("failed"), 0u);

    // No outbound duplicated: no provider received one reply twice (each quotes its message).
    const std::size_t requests = test::expect_each_received_once({&twilio, &external});
    EXPECT_LE(requests, tally.replies.size());

    std::cout << burst.acked.size() << " webhooks acknowledged (instance a killed after " << kill_after
              << "; " << retried.load() << " posts retried), " << tally.inbound_rows << " stored, "
              << requests << " replies received by providers; outbound by state:";
    for (const auto& [state, k] : tally.out_states) {
        std::cout << ' ' << state << '=' << k;
    }
    std::cout << '\n';
}

}  // namespace
}  // namespace flowgate
