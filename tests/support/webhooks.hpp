#pragma once
// Test support for the burst tests (tests/crash/, tests/gateway/multi_instance_test.cpp): the real
// server with a Twilio and a generic external channel whose APIs are fakes, the echo flow, signed
// webhooks posted as a provider would (again until acknowledged), and the checks on what
// `flowgate export messages` shows afterwards. The Twilio account and channel serve the other
// integration tests too (tests/gateway/providers_test.cpp).

#include <utility>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/support/http.hpp"
#include "tests/support/process.hpp"

namespace flowgate::test {

inline const std::string public_url = "https://sms.example.org";
inline const std::string twilio_sid = "AC0123456789abcdef0123456789abcdef";
inline const std::string twilio_token = "twilio-auth-token-0001";
inline const std::string twilio_address = "+962790000000";
inline const std::string twilio_path = "/2010-04-01/Accounts/" + twilio_sid + "/Messages.json";
inline const std::string external_secret = "external-secret-0001";

// Every message starts the flow, which answers once, quoting it: each reply's text is unique, so a
// provider's log shows which message it is.
inline constexpr const char* echo_flow = R"j({
  "id": "echo", "language": "en",
  "nodes": [{"id": "echo", "send": "Got @input.text"}]
})j";

// Writes the Twilio token, the external secret and the echo flow into `dir`, and config.json:
// listening on 127.0.0.1:0 behind public_url, `store`, no data key, Jordan, English, `channels`,
// and the echo flow triggered by HELLO.
void write_echo_config(const temp_dir& dir, const nlohmann::json& store, const nlohmann::json& channels);
// The Twilio channel "sms" (its token in dir's twilio_token) with its API at `api_base`.
nlohmann::json twilio_channel(const temp_dir& dir, const std::string& api_base, int max_per_second);
// The generic external channel "local" (its secret in dir's external_secret).
nlohmann::json external_channel(const temp_dir& dir, const std::string& send_url);

// A fake provider's answers carry ids it makes up; a test keeps each one it gave out, to check
// that every message the store says was sent was in fact received.
struct provider_ids {
    std::mutex mutex;
    std::set<std::string> given;
    void add(const std::string& id);
};

// The fake APIs: Twilio's send path (a 404 elsewhere), and the external channel's send URL.
fake_provider::answer_fn twilio_api(provider_ids& ids);
fake_provider::answer_fn external_api(provider_ids& ids);

// The text a provider received in one request, by its API's shape (Twilio's form, or JSON "text").
std::string sent_text(const recorded& r);

// One webhook as a provider would post it (and post again until acknowledged).
struct webhook {
    std::string channel;
    std::string external_id;  // what the store keeps as the message's provider id
    std::string target;
    std::string body;
    std::map<std::string, std::string> headers;
};

// An SMS from `phone` to twilio_address with Twilio's signature, `sid` its MessageSid.
webhook twilio_webhook(const std::string& sid, const std::string& phone, const std::string& text);
// A message on the external channel, signed with external_secret, `id` its provider id.
webhook external_webhook(const std::string& id, const std::string& phone, const std::string& text);

// What the senders of a burst saw, shared between their threads.
struct burst_record {
    std::mutex mutex;
    std::condition_variable progress;                     // notified on each acknowledgement
    std::set<std::pair<std::string, std::string>> acked;  // (channel, provider id)
    std::vector<std::string> unexpected;                  // answers other than 2xx, 503 or none

    // Posts `w` once to 127.0.0.1:port: 1 acknowledged (2xx), 0 refused, -1 no answer (the server
    // is gone).
    int post(std::uint16_t port, const webhook& w);
    // None of the answers was other than 2xx, 503 or none.
    void expect_no_unexpected_answers();
};

// Counts the outbound messages still queued or being sent.
inline constexpr const char* outbox_sql =
    "SELECT count(*) FROM messages WHERE direction = 'out' AND state IN ('queued', 'sending')";
// Until `outbox()` (outbox_sql on the store) is 0, or `limit` passed: a deadline, not a sleep, the
// drain is the event.
void wait_for_drain(const std::function<std::int64_t()>& outbox, std::chrono::seconds limit);

// Runs `flowgate export messages --format json` on a config; the array, or `error` set.
nlohmann::json export_messages(const std::string& config_file, std::string& error);

// The exported messages counted: each inbound message's rows and replies, the outbound ones by
// state, and those marked sent whose provider never gave out their id.
struct message_tally {
    std::map<std::pair<std::string, std::string>, int> inbound;  // (channel, provider id) → rows
    std::map<std::string, int> replies;                          // inbound uuid → replies
    std::map<std::string, int> out_states;
    std::size_t inbound_rows = 0;
    std::vector<std::string> sent_unreceived;
};
// `ids_of` gives the provider ids a channel's fake gave out. A fatal failure when an outbound
// message is no reply (check with ASSERT_NO_FATAL_FAILURE).
void tally_messages(const nlohmann::json& messages,
                    const std::function<provider_ids&(const std::string& channel)>& ids_of,
                    message_tally& tally);

// Zero lost, zero doubled: every acknowledged message stored exactly once and nothing else, each
// with exactly one reply (no flow step ran twice), and nothing marked sent that was not received.
void expect_each_acked_stored_once(const std::set<std::pair<std::string, std::string>>& acked,
                                   const message_tally& tally);

// No provider received one reply twice (each quotes its message, so texts are unique). Returns how
// many requests the fakes received.
std::size_t expect_each_received_once(std::initializer_list<fake_provider*> fakes);

}  // namespace flowgate::test
