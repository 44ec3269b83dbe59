#include "tests/support/webhooks.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <thread>

#include "handlers/external.hpp"
#include "handlers/form.hpp"
#include "handlers/twilio.hpp"

namespace flowgate::test {

using json = nlohmann::json;
using answer = std::pair<int, std::string>;

void write_echo_config(const temp_dir& dir, const json& store, const json& channels) {
    dir.write("twilio_token", twilio_token + "\n");
    dir.write("external_secret", external_secret + "\n");
    dir.write("echo.json", echo_flow);
    const json cfg = {
        {"server", {{"listen", "127.0.0.1:0"}, {"public_url", public_url}, {"shutdown_grace", "5s"}}},
        {"store", store},
        {"data_key", "none"},
        {"default_country", "JO"},
        {"languages", {"en"}},
        {"channels", channels},
        {"flows", {dir.file("echo.json")}},
        {"triggers", {{{"keywords", {"HELLO"}}, {"flow", "echo"}}}},
    };
    dir.write("config.json", cfg.dump(2));
}

json twilio_channel(const temp_dir& dir, const std::string& api_base, int max_per_second) {
    return {{"id", "sms"},
            {"type", "twilio"},
            {"address", twilio_address},
            {"account_sid", twilio_sid},
            {"auth_token", "file:" + dir.file("twilio_token")},
            {"api_base", api_base},
            {"max_per_second", max_per_second}};
}

json external_channel(const temp_dir& dir, const std::string& send_url) {
    return {{"id", "local"},
            {"type", "external"},
            {"send_url", send_url},
            {"secret", "file:" + dir.file("external_secret")}};
}

void provider_ids::add(const std::string& id) {
    std::lock_guard lock(mutex);
    given.insert(id);
}

fake_provider::answer_fn twilio_api(provider_ids& ids) {
    return [&ids](std::size_t i, const recorded& r) -> answer {
        if (r.method != "POST" || r.target != twilio_path) {
            return {404, R"j({"code": 20404, "status": 404})j"};
        }
        char sid[40];
        std::snprintf(sid, sizeof sid, "SM%032zx", i + 1);
        ids.add(sid);
        return {201, json{{"sid", sid}, {"account_sid", twilio_sid}, {"status", "queued"}}.dump()};
    };
}

fake_provider::answer_fn external_api(provider_ids& ids) {
    return [&ids](std::size_t i, const recorded&) -> answer {
        const std::string id = "ext-" + std::to_string(i + 1);
        ids.add(id);
        return {200, json{{"id", id}}.dump()};
    };
}

std::string sent_text(const recorded& r) {
    if (r.headers.count("content-type") && r.headers.at("content-type").find("form") != std::string::npos) {
        const auto form = handlers::decode_form(r.body);
        const std::string* v = form ? handlers::find_field(*form, "Body") : nullptr;
        return v ? *v : "";
    }
    const json body = json::parse(r.body, nullptr, false);
    return body.is_object() ? body.value("text", "") : "";
}

webhook twilio_webhook(const std::string& sid, const std::string& phone, const std::string& text) {
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

webhook external_webhook(const std::string& id, const std::string& phone, const std::string& text) {
    const std::string body = json{{"id", id}, {"from", phone}, {"text", text}}.dump();
    return {"local",
            id,
            "/c/local/receive",
            body,
            {{"Content-Type", "application/json"},
             {"X-Flowgate-Signature", handlers::external_handler::signature(external_secret, body)}}};
}

int burst_record::post(std::uint16_t port, const webhook& w) {
    const auto res = request(port, "POST", w.target, w.body, w.headers);
    if (res.status >= 200 && res.status < 300) {
        {
            std::lock_guard lock(mutex);
            acked.emplace(w.channel, w.external_id);
        }
        progress.notify_all();
        return 1;
    }
    if (res.status != 0 && res.status != 503) {
        std::lock_guard lock(mutex);
        unexpected.push_back(w.channel + " " + std::to_string(res.status) + " " + res.body);
    }
    return res.status == 0 ? -1 : 0;
}

void burst_record::expect_no_unexpected_answers() {
    std::lock_guard lock(mutex);
    EXPECT_TRUE(unexpected.empty()) << unexpected.size()
                                    << " unexpected answers, the first: " << unexpected.front();
}

void wait_for_drain(const std::function<std::int64_t()>& outbox, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (outbox() > 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

json export_messages(const std::string& config_file, std::string& error) {
    const auto exported = run_flowgate({"export", "messages", "--config", config_file, "--format", "json"});
    if (exported.exit_code != 0) {
        error = "flowgate export messages exited with " + std::to_string(exported.exit_code) + ":\n" +
                exported.output;
        return nullptr;
    }
    // run_flowgate mixes stderr in; the array is all there is on stdout here.
    const auto start = exported.output.find('[');
    json messages =
        start == std::string::npos ? json() : json::parse(exported.output.substr(start), nullptr, false);
    if (!messages.is_array()) {
        error = "flowgate export messages printed no JSON array:\n" + exported.output;
        return nullptr;
    }
    return messages;
}

void tally_messages(const json& messages,
                    const std::function<provider_ids&(const std::string& channel)>& ids_of,
                    message_tally& tally) {
    for (const auto& m : messages) {
        if (m.at("direction") == "in") {
            ++tally.inbound_rows;
            ++tally.inbound[{m.at("channel").get<std::string>(), m.at("external_id").get<std::string>()}];
            tally.replies.emplace(m.at("uuid").get<std::string>(), 0);
            continue;
        }
        const std::string state = m.at("state").get<std::string>();
        ++tally.out_states[state];
        ASSERT_FALSE(m.at("reply_to").is_null());
        ++tally.replies[m.at("reply_to").get<std::string>()];
        if (state == "sent" || state == "delivered") {
            // Marked sent: the provider gave this id, so it received the message.
            const auto& ids = ids_of(m.at("channel").get<std::string>());
            if (m.at("external_id").is_null() || !ids.given.count(m.at("external_id").get<std::string>())) {
                tally.sent_unreceived.push_back(m.at("uuid").get<std::string>());
            }
        }
    }
}

void expect_each_acked_stored_once(const std::set<std::pair<std::string, std::string>>& acked,
                                   const message_tally& tally) {
    for (const auto& key : acked) {
        const auto it = tally.inbound.find(key);
        ASSERT_TRUE(it != tally.inbound.end()) << "acknowledged but lost: " << key.first << " " << key.second;
        EXPECT_EQ(it->second, 1) << key.first << " " << key.second;
    }
    EXPECT_EQ(tally.inbound_rows, acked.size());
    // No flow step ran twice for one message: exactly one reply each.
    for (const auto& [uuid, n_replies] : tally.replies) {
        EXPECT_EQ(n_replies, 1) << "inbound " << uuid;
    }
    EXPECT_TRUE(tally.sent_unreceived.empty())
        << tally.sent_unreceived.size() << " messages marked sent, never received";
}

std::size_t expect_each_received_once(std::initializer_list<fake_provider*> fakes) {
    std::map<std::string, int> received;
    std::size_t requests = 0;
    for (auto* fake : fakes) {
        for (const auto& r : fake->received()) {
            ++requests;
            ++received[sent_text(r)];
        }
    }
    for (const auto& [text, times] : received) {
        EXPECT_EQ(times, 1) << "received " << times << " times: " << text;
    }
    return requests;
}

}  // namespace flowgate::test
