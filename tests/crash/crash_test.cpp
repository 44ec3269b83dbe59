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
#include "handlers/external.hpp"
#include "handlers/form.hpp"
#include "handlers/twilio.hpp"
#include "tests/support/http.hpp"
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
const std::string telegram_token = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
const std::string telegram_secret = "tg_secret-0123456789";
const std::string telegram_path = "/bot" + telegram_token + "/sendMessage";
const std::string external_secret = "external-secret-0001";

// Every message starts the flow, which answers once, quoting it: each reply's text is unique, so a
// provider's log shows which message it is.
constexpr const char* echo_flow = R"({
  "id": "echo", "language": "en",
  "nodes": [{"id": "echo", "send": "Got @input.text"}]
})";

int rounds() {
    const char* v = std::getenv("FLOWGATE_CRASH_ROUNDS");
    const int n = v ? std::atoi(v) : 0;
    return n > 0 ? n : 3;
}

// A fake provider's answers carry ids it makes up; the test keeps each one it gave out, to check
// that every message the store says was sent was in fact received.
struct provider_ids {
    std::mutex mutex;
    std::set<std::string> given;
    void add(const std::string& id) {
        std::lock_guard lock(mutex);
        given.insert(id);
    }
};

test::fake_provider::answer_fn twilio_api(provider_ids& ids) {
    return [&ids](std::size_t i, const test::recorded& r) -> answer {
        if (r.method != "POST" || r.target != twilio_path) {
            return {404, R"({"code": 20404, "status": 404})"};
        }
        char sid[40];
        std::snprintf(sid, sizeof sid, "SM%032zx", i + 1);
        ids.add(sid);
        return {201, json{{"sid", sid}, {"account_sid", twilio_sid}, {"status", "queued"}}.dump()};
    };
}

test::fake_provider::answer_fn telegram_api(provider_ids& ids) {
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

test::fake_provider::answer_fn external_api(provider_ids& ids) {
    return [&ids](std::size_t i, const test::recorded& r) -> answer {
        const std::string id = "ext-" + std::to_string(i + 1);
        ids.add(id);
        return {200, json{{"id", id}}.dump()};
    };
}

// The text a provider received in one request, by its API's shape.
std::string sent_text(const test::recorded& r) {
    if (r.headers.count("content-type") && r.headers.at("content-type").find("form") != std::string::npos) {
        const auto form = handlers::decode_form(r.body);
        const std::string* v = form ? handlers::find_field(*form, "Body") : nullptr;
        return v ? *v : "";
    }
    const json body = json::parse(r.body, nullptr, false);
    return body.is_object() ? body.value("text", "") : "";
}

// One webhook as a provider would post it (and post again until acknowledged).
struct webhook {
    std::string channel;
    std::string external_id;  // what the store keeps as the message's provider id
    std::string target;
    std::string body;
    std::map<std::string, std::string> headers;
};

webhook make_webhook(int sender, int n, int contact) {
    const std::string tag = "s" + std::to_string(sender) + "n" + std::to_string(n);
    const std::string text = "HELLO " + tag;
    const std::string phone = "+96279" + std::to_string(1000000 + sender * 100 + contact);
    switch (sender % 3) {
        case 0: {
            char sid[40];
            std::snprintf(sid, sizeof sid, "SM%08x%024x", sender, n);
            const handlers::form_fields fields = {{"MessageSid", sid},
                                                  {"SmsSid", sid},
                                                  {"AccountSid", twilio_sid},
                                                  {"From", phone},
                                                  {"To", twilio_address},
                                                  {"Body", text},
                                                  {"NumSegments", "1"}};
            return {
                "sms",
                sid,
                "/c/sms/receive",
                handlers::encode_form(fields),
                {{"Content-Type", "application/x-www-form-urlencoded"},
                 {"X-Twilio-Signature",
                  handlers::twilio_handler::signature(twilio_token, public_url + "/c/sms/receive", fields)}}};
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
        default: {
            const std::string body = json{{"id", tag}, {"from", phone}, {"text", text}}.dump();
            return {"local",
                    tag,
                    "/c/local/receive",
                    body,
                    {{"Content-Type", "application/json"},
                     {"X-Flowgate-Signature", handlers::external_handler::signature(external_secret, body)}}};
        }
    }
}

class crash_test : public ::testing::Test {
   protected:
    void SetUp() override {
        dir.write("twilio_token", twilio_token + "\n");
        dir.write("telegram_token", telegram_token + "\n");
        dir.write("external_secret", external_secret + "\n");
        dir.write("echo.json", echo_flow);
        const json cfg = {
            {"server", {{"listen", "127.0.0.1:0"}, {"public_url", public_url}, {"shutdown_grace", "5s"}}},
            {"store", {{"sqlite", dir.file("flowgate.db")}}},
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
               // Slower than the burst: replies queue up and are mid-send when the kill comes.
               {"max_per_second", 100}},
              {{"id", "tg"},
               {"type", "telegram"},
               {"bot_token", "file:" + dir.file("telegram_token")},
               {"secret_token", telegram_secret},
               {"api_base", telegram.url("")}},
              {{"id", "local"},
               {"type", "external"},
               {"send_url", external.url("/send")},
               {"secret", "file:" + dir.file("external_secret")}}}},
            {"flows", {dir.file("echo.json")}},
            {"triggers", {{{"keywords", {"HELLO"}}, {"flow", "echo"}}}},
        };
        dir.write("config.json", cfg.dump(2));
    }

    // Posts until told to stop or the server is gone; what got no 2xx stays pending (the provider
    // retries it). Returns when the server stops answering.
    void sender_loop(int sender, std::uint16_t port, const std::atomic<bool>& stop, bool drain_only) {
        auto& mine = pending[static_cast<std::size_t>(sender)];
        auto post = [&](const webhook& w) {
            const auto res = test::request(port, "POST", w.target, w.body, w.headers);
            if (res.status >= 200 && res.status < 300) {
                std::lock_guard lock(mutex);
                acked.emplace(w.channel, w.external_id);
                return 1;
            }
            if (res.status != 0 && res.status != 503) {
                std::lock_guard lock(mutex);
                unexpected.push_back(w.channel + " " + std::to_string(res.status) + " " + res.body);
            }
            return res.status == 0 ? -1 : 0;  // -1: the server is gone
        };
        // First what the last round left unacknowledged.
        std::vector<webhook> left;
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
            webhook w = make_webhook(sender, n, n % 5);
            {
                std::lock_guard lock(mutex);
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
    provider_ids twilio_ids, telegram_ids, external_ids;
    test::fake_provider twilio{twilio_api(twilio_ids)};
    test::fake_provider telegram{telegram_api(telegram_ids)};
    test::fake_provider external{external_api(external_ids)};

    std::mutex mutex;
    std::set<std::pair<std::string, std::string>> acked;  // (channel, provider id)
    std::vector<std::string> unexpected;                  // answers other than 2xx, 503 or none
    std::size_t made = 0;
    std::vector<std::vector<webhook>> pending = std::vector<std::vector<webhook>>(senders);
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
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (
            count(
                db,
                "SELECT count(*) FROM messages WHERE direction = 'out' AND state IN ('queued', 'sending')") >
                0 &&
            std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
    EXPECT_EQ(server.stop(), 0);
    EXPECT_TRUE(unexpected.empty()) << unexpected.size()
                                    << " unexpected answers, the first: " << unexpected.front();

    const auto exported =
        test::run_flowgate({"export", "messages", "--config", dir.file("config.json"), "--format", "json"});
    ASSERT_EQ(exported.exit_code, 0) << exported.output;
    // run_flowgate mixes stderr in; the array is all there is on stdout here.
    const json messages = json::parse(exported.output.substr(exported.output.find('[')));
    ASSERT_TRUE(messages.is_array());

    std::map<std::pair<std::string, std::string>, int> inbound;  // (channel, provider id) → rows
    std::map<std::string, int> replies;                          // inbound uuid → replies
    std::map<std::string, int> out_states;
    std::size_t inbound_rows = 0;
    std::vector<std::string> sent_unreceived;
    for (const auto& m : messages) {
        EXPECT_FALSE(m.contains("text"));
        EXPECT_FALSE(m.contains("urn"));
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
            // Marked sent: the provider gave this id, so it received the message.
            const std::string channel = m.at("channel").get<std::string>();
            auto& ids = channel == "sms" ? twilio_ids : channel == "tg" ? telegram_ids : external_ids;
            if (m.at("external_id").is_null() || !ids.given.count(m.at("external_id").get<std::string>())) {
                sent_unreceived.push_back(m.at("uuid").get<std::string>());
            }
        }
    }

    // Every acknowledged message is stored exactly once; nothing else is.
    EXPECT_EQ(acked.size(), made);
    for (const auto& key : acked) {
        const auto it = inbound.find(key);
        ASSERT_TRUE(it != inbound.end()) << "acknowledged but lost: " << key.first << " " << key.second;
        EXPECT_EQ(it->second, 1) << key.first << " " << key.second;
    }
    EXPECT_EQ(inbound_rows, acked.size());
    // No flow step ran twice for one message: exactly one reply each, and one run each.
    for (const auto& [uuid, n_replies] : replies) {
        EXPECT_EQ(n_replies, 1) << "inbound " << uuid;
    }
    // Nothing marked sent that its provider did not receive; nothing left mid-send or queued.
    EXPECT_TRUE(sent_unreceived.empty()) << sent_unreceived.size() << " messages marked sent, never received";
    EXPECT_EQ(out_states.count("sending"), 0u);
    EXPECT_EQ(out_states.count("queued"), 0u);
    EXPECT_EQ(out_states.count("failed"), 0u);

    // No provider received one message twice (each reply quotes its message, so texts are unique).
    std::map<std::string, int> received;
    std::size_t requests = 0;
    for (auto* fake : {&twilio, &telegram, &external}) {
        for (const auto& r : fake->received()) {
            ++requests;
            ++received[sent_text(r)];
        }
    }
    for (const auto& [text, times] : received) {
        EXPECT_EQ(times, 1) << "received " << times << " times: " << text;
    }
    // What a provider received and was not marked sent: the sends a kill interrupted, now unknown.
    EXPECT_LE(requests, replies.size());

    gateway::sqlite::connection db(dir.file("flowgate.db"), true);
    EXPECT_EQ(count(db, "SELECT count(*) FROM runs"), static_cast<std::int64_t>(inbound_rows));
    {
        gateway::sqlite::statement q(db, "PRAGMA integrity_check");
        ASSERT_TRUE(q.step());
        EXPECT_EQ(q.column_text(0), "ok");
    }

    std::cout << n << " rounds: " << made << " webhooks acknowledged, " << inbound_rows << " stored, "
              << requests << " replies received by providers; outbound by state:";
    for (const auto& [state, k] : out_states) {
        std::cout << ' ' << state << '=' << k;
    }
    std::cout << "; " << interrupted << " restarts found sends interrupted\n";
}

}  // namespace
}  // namespace flowgate
