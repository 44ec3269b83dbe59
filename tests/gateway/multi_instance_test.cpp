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
#include "handlers/external.hpp"
#include "handlers/form.hpp"
#include "handlers/twilio.hpp"
#include "tests/support/http.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/process.hpp"

namespace flowgate {
namespace {

using json = nlohmann::json;
using answer = std::pair<int, std::string>;

const std::string public_url = "https://sms.example.org";
const std::string twilio_sid = "AC0123456789abcdef0123456789abcdef";
const std::string twilio_token = "twilio-auth-token-0001";
const std::string twilio_address = "+962790000000";
const std::string twilio_path = "/2010-04-01/Accounts/" + twilio_sid + "/Messages.json";
const std::string external_secret = "external-secret-0001";

// Every message starts the flow, which answers once, quoting it: each reply's text is unique.
constexpr const char* echo_flow = R"({
  "id": "echo", "language": "en",
  "nodes": [{"id": "echo", "send": "Got @input.text"}]
})";

struct webhook {
    std::string channel;
    std::string external_id;
    std::string target;
    std::string body;
    std::map<std::string, std::string> headers;
};

// Seven contacts in all, each writing through every sender: both instances take messages of the
// same contacts at the same time.
webhook make_webhook(int sender, int n) {
    const std::string tag = "s" + std::to_string(sender) + "n" + std::to_string(n);
    const std::string text = "HELLO " + tag;
    const std::string phone = "+96279" + std::to_string(1000000 + (sender + n) % 7);
    if (sender % 2 == 0) {
        char sid[40];
        std::snprintf(sid, sizeof sid, "SM%08x%024x", sender, n);
        const handlers::form_fields fields = {{"MessageSid", sid},
                                              {"SmsSid", sid},
                                              {"AccountSid", twilio_sid},
                                              {"From", phone},
                                              {"To", twilio_address},
                                              {"Body", text},
                                              {"NumSegments", "1"}};
        return {"sms",
                sid,
                "/c/sms/receive",
                handlers::encode_form(fields),
                {{"Content-Type", "application/x-www-form-urlencoded"},
                 {"X-Twilio-Signature",
                  handlers::twilio_handler::signature(twilio_token, public_url + "/c/sms/receive", fields)}}};
    }
    const std::string body = json{{"id", tag}, {"from", phone}, {"text", text}}.dump();
    return {"local",
            tag,
            "/c/local/receive",
            body,
            {{"Content-Type", "application/json"},
             {"X-Flowgate-Signature", handlers::external_handler::signature(external_secret, body)}}};
}

struct provider_ids {
    std::mutex mutex;
    std::set<std::string> given;
    void add(const std::string& id) {
        std::lock_guard lock(mutex);
        given.insert(id);
    }
};

std::string sent_text(const test::recorded& r) {
    if (r.headers.count("content-type") && r.headers.at("content-type").find("form") != std::string::npos) {
        const auto form = handlers::decode_form(r.body);
        const std::string* v = form ? handlers::find_field(*form, "Body") : nullptr;
        return v ? *v : "";
    }
    const json body = json::parse(r.body, nullptr, false);
    return body.is_object() ? body.value("text", "") : "";
}

class multi_instance_test : public ::testing::Test {
   protected:
    void SetUp() override {
        std::string why_not;
        auto* server = test::shared_postgres(why_not);
        if (!server) {
            GTEST_SKIP() << why_not;
        }
        database = server->create_database();
        dir.write("twilio_token", twilio_token + "\n");
        dir.write("external_secret", external_secret + "\n");
        dir.write("echo.json", echo_flow);
        const json cfg = {
            {"server", {{"listen", "127.0.0.1:0"}, {"public_url", public_url}, {"shutdown_grace", "5s"}}},
            {"store", {{"postgres", database}}},
            {"data_key", "none"},
            {"default_country", "JO"},
            {"languages", {"en"}},
            {"channels",
             {{{"id", "sms"},
               {"type", "twilio"},
               {"address", twilio_address},
               {"account_sid", twilio_sid},
               {"auth_token", "file:" + dir.file("twilio_token")},
               {"api_base", twilio.url("")},
               {"max_per_second", 200}},
              {{"id", "local"},
               {"type", "external"},
               {"send_url", external.url("/send")},
               {"secret", "file:" + dir.file("external_secret")}}}},
            {"flows", {dir.file("echo.json")}},
            {"triggers", {{{"keywords", {"HELLO"}}, {"flow", "echo"}}}},
        };
        dir.write("config.json", cfg.dump(2));
    }

    std::int64_t count(const std::string& sql) {
        gateway::pq::connection db(database);
        return db.q(sql).int64(0, 0);
    }

    test::temp_dir dir;
    std::string database;
    provider_ids twilio_ids, external_ids;
    test::fake_provider twilio{[this](std::size_t i, const test::recorded& r) -> answer {
        if (r.method != "POST" || r.target != twilio_path) {
            return {404, R"({"code": 20404, "status": 404})"};
        }
        char sid[40];
        std::snprintf(sid, sizeof sid, "SM%032zx", i + 1);
        twilio_ids.add(sid);
        return {201, json{{"sid", sid}, {"account_sid", twilio_sid}, {"status", "queued"}}.dump()};
    }};
    test::fake_provider external{[this](std::size_t i, const test::recorded&) -> answer {
        const std::string id = "ext-" + std::to_string(i + 1);
        external_ids.add(id);
        return {200, json{{"id", id}}.dump()};
    }};
};

TEST_F(multi_instance_test, two_instances_one_killed_mid_burst_lose_and_double_nothing) {
    constexpr int senders = 6;
    constexpr int per_sender = 40;
    test::server_process a(dir.file("config.json"));
    test::server_process b(dir.file("config.json"));
    const std::uint16_t ports[2] = {a.port(), b.port()};

    std::mutex mutex;
    std::condition_variable progress;
    std::set<std::pair<std::string, std::string>> acked;
    std::vector<std::string> unexpected;
    std::atomic<bool> a_dead{false};
    std::atomic<int> retried{0};

    auto sender = [&](int s) {
        for (int n = 0; n < per_sender; ++n) {
            const webhook w = make_webhook(s, n);
            // Split between the two; what gets no 2xx goes again, to the other one, until acknowledged.
            int target = (s + n) % 2;
            for (int attempt = 0;; ++attempt) {
                if (target == 0 && a_dead.load()) {
                    target = 1;
                }
                const auto res = test::request(ports[target], "POST", w.target, w.body, w.headers);
                if (res.status >= 200 && res.status < 300) {
                    {
                        std::lock_guard lock(mutex);
                        acked.emplace(w.channel, w.external_id);
                    }
                    progress.notify_all();
                    break;
                }
                if (res.status != 0 && res.status != 503) {
                    std::lock_guard lock(mutex);
                    unexpected.push_back(w.channel + " " + std::to_string(res.status) + " " + res.body);
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
            std::unique_lock lock(mutex);
            progress.wait(lock, [&] { return acked.size() >= kill_after; });
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
    ASSERT_EQ(acked.size(), static_cast<std::size_t>(senders * per_sender));

    // Until nothing is queued or being sent: the survivor sends what the dead one left queued, and
    // finds the sends it left 'sending' (its instance lock is gone) and makes them unknown. A
    // deadline, not a sleep: the drain is the event.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    while (count("SELECT count(*) FROM messages WHERE direction = 'out' AND state IN ('queued', 'sending')") >
               0 &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_EQ(b.stop(), 0);
    EXPECT_TRUE(unexpected.empty()) << unexpected.size()
                                    << " unexpected answers, the first: " << unexpected.front();

    const auto exported =
        test::run_flowgate({"export", "messages", "--config", dir.file("config.json"), "--format", "json"});
    ASSERT_EQ(exported.exit_code, 0) << exported.output;
    const json messages = json::parse(exported.output.substr(exported.output.find('[')));
    ASSERT_TRUE(messages.is_array());

    std::map<std::pair<std::string, std::string>, int> inbound;
    std::map<std::string, int> replies;  // inbound uuid → replies
    std::map<std::string, int> out_states;
    std::size_t inbound_rows = 0;
    std::vector<std::string> sent_unreceived;
    for (const auto& m : messages) {
        if (m.at("direction") == "in") {
            ++inbound_rows;
            ++inbound[{m.at("channel").get<std::string>(), m.at("external_id").get<std::string>()}];
            replies.emplace(m.at("uuid").get<std::string>(), 0);
            continue;
        }
        const std::string state = m.at("state").get<std::string>();
        ++out_states[state];
        ASSERT_FALSE(m.at("reply_to").is_null());
        ++replies[m.at("reply_to").get<std::string>()];
        if (state == "sent" || state == "delivered") {
            auto& ids = m.at("channel") == "sms" ? twilio_ids : external_ids;
            if (m.at("external_id").is_null() || !ids.given.count(m.at("external_id").get<std::string>())) {
                sent_unreceived.push_back(m.at("uuid").get<std::string>());
            }
        }
    }

    // Zero lost, zero doubled: every acknowledged message stored once, and nothing else.
    for (const auto& key : acked) {
        const auto it = inbound.find(key);
        ASSERT_TRUE(it != inbound.end()) << "acknowledged but lost: " << key.first << " " << key.second;
        EXPECT_EQ(it->second, 1) << key.first << " " << key.second;
    }
    EXPECT_EQ(inbound_rows, acked.size());
    // No flow step twice: one reply to each message, one run each.
    for (const auto& [uuid, n_replies] : replies) {
        EXPECT_EQ(n_replies, 1) << "inbound " << uuid;
    }
    EXPECT_EQ(count("SELECT count(*) FROM runs"), static_cast<std::int64_t>(inbound_rows));
    EXPECT_TRUE(sent_unreceived.empty()) << sent_unreceived.size() << " messages marked sent, never received";
    EXPECT_EQ(out_states.count("sending"), 0u) << "a send the dead instance left was never recovered";
    EXPECT_EQ(out_states.count("queued"), 0u);
    EXPECT_EQ(out_states.count("failed"), 0u);

    // No outbound duplicated: no provider received one reply twice (each quotes its message).
    std::map<std::string, int> received;
    std::size_t requests = 0;
    for (auto* fake : {&twilio, &external}) {
        for (const auto& r : fake->received()) {
            ++requests;
            ++received[sent_text(r)];
        }
    }
    for (const auto& [text, times] : received) {
        EXPECT_EQ(times, 1) << "received " << times << " times: " << text;
    }
    EXPECT_LE(requests, replies.size());

    std::cout << acked.size() << " webhooks acknowledged (instance a killed after " << kill_after << "; "
              << retried.load() << " posts retried), " << inbound_rows << " stored, " << requests
              << " replies received by providers; outbound by state:";
    for (const auto& [state, k] : out_states) {
        std::cout << ' ' << state << '=' << k;
    }
    std::cout << '\n';
}

}  // namespace
}  // namespace flowgate
