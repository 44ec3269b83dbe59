// Google Benchmark cases for the hot pieces (docs/performance.md): signature checks, form decoding,
// phone normalisation, text normalisation and matching, a flow step, SMS segment counting, the
// data key's sealing, building a send, and the writer's share of a webhook and of a message sent.
// Each input is what a real webhook or send carries.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "flows/engine.hpp"
#include "flows/loader.hpp"
#include "flows/matcher.hpp"
#include "flows/normalize.hpp"
#include "flows/segments.hpp"
#include "gateway/data_key.hpp"
#include "gateway/http_client.hpp"
#include "gateway/ingest.hpp"
#include "gateway/sqlite_store.hpp"
#include "handlers/crypto.hpp"
#include "handlers/form.hpp"
#include "handlers/meta.hpp"
#include "handlers/twilio.hpp"
#include "handlers/urn.hpp"
#include "tests/support/process.hpp"
#include "tests/support/twilio_message.hpp"

namespace flowgate {
namespace {

const std::string twilio_token = "bench-auth-token-0123456789abcdef";
const std::string public_url = "https://sms.example.org/c/sms/receive";

handlers::form_fields twilio_fields() {
    return test::twilio_message("SM0123456789abcdef0123456789abcdef",
                                "AC0123456789abcdef0123456789abcdef",
                                "+962791234567",
                                "+962790000000",
                                "\xd9\xa2 \xd8\xb4\xd9\x83\xd8\xb1\xd8\xa7");  // "٢ شكرا"
}

handlers::raw_request twilio_request() {
    const auto fields = twilio_fields();
    handlers::raw_request r;
    r.method = "POST";
    r.path = "/c/sms/receive";
    r.body = handlers::encode_form(fields);
    r.public_url = public_url;
    r.headers = {
        {"Content-Type", "application/x-www-form-urlencoded"},
        {"X-Twilio-Signature", handlers::twilio_handler::signature(twilio_token, public_url, fields)}};
    return r;
}

void twilio_signature_check(benchmark::State& state) {
    const auto request = twilio_request();
    for (auto _ : state) {
        benchmark::DoNotOptimize(handlers::twilio_handler::valid_signature(twilio_token, request));
    }
}
BENCHMARK(twilio_signature_check);

handlers::channel_settings twilio_settings() {
    handlers::channel_settings settings;
    settings.id = "sms";
    settings.type = "twilio";
    settings.default_country = "JO";
    settings.values = {{"address", "+962790000000"},
                       {"account_sid", "AC0123456789abcdef0123456789abcdef"},
                       {"auth_token", twilio_token},
                       {"public_url", "https://sms.example.org"}};
    return settings;
}

// The whole of a Twilio webhook in the handler: signature, form, sender normalised to a URN.
void twilio_receive(benchmark::State& state) {
    const handlers::twilio_handler handler(twilio_settings());
    const auto request = twilio_request();
    for (auto _ : state) {
        auto result = handler.receive(handlers::endpoint::receive, request);
        benchmark::DoNotOptimize(result);
    }
}
BENCHMARK(twilio_receive);

// The send side of a message: Twilio's request built (the form percent-encoded), then its URL
// taken apart by the HTTP client.
void twilio_build_send(benchmark::State& state) {
    const handlers::twilio_handler handler(twilio_settings());
    handlers::outgoing_message m;
    m.urn = "tel:+962791234567";
    m.text = "\xd8\xb4\xd9\x83\xd8\xb1\xd8\xa7 \xd9\x84\xd9\x83. Thank you for your answer.";
    for (auto _ : state) {
        auto request = handler.build_send(m);
        benchmark::DoNotOptimize(request);
    }
}
BENCHMARK(twilio_build_send);

void send_url_parse(benchmark::State& state) {
    const std::string url =
        "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json";
    for (auto _ : state) {
        auto parts = gateway::parse_url(url);
        benchmark::DoNotOptimize(parts);
    }
}
BENCHMARK(send_url_parse);

void meta_signature_check(benchmark::State& state) {
    const std::string secret = "meta-app-secret-0123";
    const std::string body =
        R"({"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":)"
        R"({"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881",)"
        R"("phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"\u0647\u062f\u0649"},)"
        R"("wa_id":"962791234567"}],"messages":[{"from":"962791234567","id":"wamid.HBgM","timestamp":)"
        R"("1767225600","text":{"body":"JOIN"},"type":"text"}]},"field":"messages"}]}]})";
    handlers::raw_request r;
    r.method = "POST";
    r.body = body;
    r.headers = {{"Content-Type", "application/json"},
                 {"X-Hub-Signature-256", handlers::meta::signature(secret, body)}};
    for (auto _ : state) {
        benchmark::DoNotOptimize(handlers::meta::signature_valid(r, secret));
    }
}
BENCHMARK(meta_signature_check);

void form_decode(benchmark::State& state) {
    const std::string body = handlers::encode_form(twilio_fields());
    for (auto _ : state) {
        auto fields = handlers::decode_form(body);
        benchmark::DoNotOptimize(fields);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}
BENCHMARK(form_decode);

// A number as Twilio sends it (E.164), and as a person types it (national, with spaces): seen
// before (answered from the thread's memo), and each time a number not seen before (the parse).
void phone_normalise_e164(benchmark::State& state) {
    for (auto _ : state) {
        auto urn = handlers::normalize_phone("+962791234567", "JO");
        benchmark::DoNotOptimize(urn);
    }
}
BENCHMARK(phone_normalise_e164);

void phone_normalise_national(benchmark::State& state) {
    for (auto _ : state) {
        auto urn = handlers::normalize_phone("079 123 4567", "JO");
        benchmark::DoNotOptimize(urn);
    }
}
BENCHMARK(phone_normalise_national);

// A number not seen before at each iteration, as `number(n)` writes it: the memo never answers.
template <class Number>
void normalise_first_time(benchmark::State& state, Number number) {
    std::uint32_t n = 0;
    char buf[24];
    for (auto _ : state) {
        number(buf, sizeof buf, n++);
        auto urn = handlers::normalize_phone(buf, "JO");
        benchmark::DoNotOptimize(urn);
    }
}

void phone_normalise_e164_first_time(benchmark::State& state) {
    normalise_first_time(state, [](char* buf, std::size_t size, std::uint32_t n) {
        std::snprintf(buf, size, "+96279%07u", 1000000 + n % 9000000);
    });
}
BENCHMARK(phone_normalise_e164_first_time);

void phone_normalise_national_first_time(benchmark::State& state) {
    normalise_first_time(state, [](char* buf, std::size_t size, std::uint32_t n) {
        std::snprintf(buf, size, "079 %03u %04u", 100 + n / 10000 % 900, n % 10000);
    });
}
BENCHMARK(phone_normalise_national_first_time);

void hmac_sha256_lookup(benchmark::State& state) {
    const std::string key(32, 'k');
    for (auto _ : state) {
        auto mac = handlers::hmac(handlers::digest::sha256, key, "tel:+962791234567");
        benchmark::DoNotOptimize(mac);
    }
}
BENCHMARK(hmac_sha256_lookup);

void text_normalise(benchmark::State& state) {
    // Arabic with a hamza, a taa marbuta, harakat and Arabic-Indic digits, as basic phones send it.
    const std::string text =
        "\xd8\xa3\xd8\xb1\xd9\x8a\xd8\xaf \xd8\xa7\xd9\x84\xd9\x88\xd8\xb1\xd8\xb4\xd8\xa9 "
        "\xd8\xb1\xd9\x82\xd9\x85 \xd9\xa2!";
    for (auto _ : state) {
        auto n = flows::normalize(text);
        benchmark::DoNotOptimize(n);
    }
}
BENCHMARK(text_normalise);

// Answers as participants write them, English and Arabic, each a different message (a test
// remembers the last message's words, so one message asked again would measure only that).
std::vector<std::string> sample_answers() {
    const std::vector<std::string> stems = {
        "I live in Irbid now",
        "yes please, Amman",
        "\xd9\x86\xd8\xb9\xd9\x85 \xd8\xb9\xd9\x85\xd8\xa7\xd9\x86",  // نعم عمان
        "\xd9\x84\xd8\xa7 \xd8\xb4\xd9\x83\xd8\xb1\xd8\xa7\xd9\x8b",  // لا شكراً
        "maybe later, I am at work",
        "\xd8\xa3\xd9\x86\xd8\xa7 \xd9\x81\xd9\x8a "
        "\xd8\xa7\xd9\x84\xd8\xb2\xd8\xb1\xd9\x82\xd8\xa7\xd8\xa1",  // أنا في الزرقاء
        "STOP",
        "zarqa",
    };
    std::vector<std::string> out;
    for (int i = 0; i < 64; ++i) {
        out.push_back(stems[static_cast<std::size_t>(i) % stems.size()] + " " + std::to_string(i));
    }
    return out;
}

void match_has_any_word(benchmark::State& state) {
    const std::vector<std::string> args = {"amman irbid zarqa \xd8\xb9\xd9\x85\xd8\xa7\xd9\x86"};
    const auto answers = sample_answers();
    std::size_t i = 0;
    for (auto _ : state) {
        auto m = flows::run_test("has_any_word", answers[i++ % answers.size()], args);
        benchmark::DoNotOptimize(m);
    }
}
BENCHMARK(match_has_any_word);

// A router of four has_any_word cases, English and Arabic, as a sign-up flow asks "which city?":
// each message tried against the cases in turn until one matches.
void match_router_four_cases(benchmark::State& state) {
    const std::vector<std::vector<std::string>> cases = {
        {"amman \xd8\xb9\xd9\x85\xd8\xa7\xd9\x86"},                          // عمان
        {"irbid \xd8\xa7\xd8\xb1\xd8\xa8\xd8\xaf"},                          // اربد
        {"zarqa \xd8\xa7\xd9\x84\xd8\xb2\xd8\xb1\xd9\x82\xd8\xa7\xd8\xa1"},  // الزرقاء
        {"no later \xd9\x84\xd8\xa7"},                                       // لا
    };
    const auto answers = sample_answers();
    std::size_t i = 0;
    for (auto _ : state) {
        const std::string& answer = answers[i++ % answers.size()];
        for (const auto& args : cases) {
            if (auto m = flows::run_test("has_any_word", answer, args)) {
                benchmark::DoNotOptimize(m);
                break;
            }
        }
    }
}
BENCHMARK(match_router_four_cases);

void match_has_number_between(benchmark::State& state) {
    const std::vector<std::string> args = {"1", "5"};
    for (auto _ : state) {
        auto m = flows::run_test("has_number_between", "\xd9\xa4", args);  // "٤"
        benchmark::DoNotOptimize(m);
    }
}
BENCHMARK(match_has_number_between);

constexpr const char* step_flow = R"j({
  "id": "bench", "language": "en",
  "nodes": [
    {"id": "ask", "ask": {"en": "Which city? 1 Amman 2 Irbid 3 Zarqa", "ar": "أي مدينة؟"},
     "result": "City",
     "cases": [{"test": "has_number_between", "args": [1, 3], "category": "Chosen", "next": "done"}],
     "other": "ask"},
    {"id": "done", "send": {"en": "Thanks, see you in @results.city.category.", "ar": "شكراً"}}
  ]
})j";

flows::flow bench_flow() {
    auto loaded = flows::load_flow(nlohmann::json::parse(step_flow));
    if (!loaded.loaded) {
        throw std::runtime_error("the bench flow does not load");
    }
    return std::move(*loaded.loaded);
}

struct step_fixture {
    flows::flow_set flows;
    std::unique_ptr<flows::engine> engine;
    flows::contact_view contact{"4b2c8a4e-0000-4000-8000-000000000001", "Amina", "en", {}};
    timestamp now = timestamp(std::chrono::seconds(1800000000));

    step_fixture() {
        flows.add(bench_flow());
        engine = std::make_unique<flows::engine>(flows,
                                                 std::vector<flows::keyword_trigger>{{{"JOIN"}, "bench"}},
                                                 flows::environment{{"en", "ar"}});
    }
};

// A keyword starts the flow: the question is rendered and the run waits.
void flow_step_trigger(benchmark::State& state) {
    const step_fixture f;
    for (auto _ : state) {
        auto out = f.engine->on_message(std::nullopt, f.contact, "join", f.now);
        benchmark::DoNotOptimize(out);
    }
}
BENCHMARK(flow_step_trigger);

// The answer to the waiting question: matched, saved as a result, the thanks rendered, run ended.
void flow_step_answer(benchmark::State& state) {
    const step_fixture f;
    const auto started = f.engine->on_message(std::nullopt, f.contact, "join", f.now);
    for (auto _ : state) {
        auto out = f.engine->on_message(started.session, f.contact, "\xd9\xa2", f.now);  // "٢"
        benchmark::DoNotOptimize(out);
    }
}
BENCHMARK(flow_step_answer);

// What the store does with a session each step: to JSON and back.
void session_json_round_trip(benchmark::State& state) {
    const step_fixture f;
    const auto started = f.engine->on_message(std::nullopt, f.contact, "join", f.now);
    for (auto _ : state) {
        auto s = flows::session_from_json(nlohmann::json::parse(flows::to_json(*started.session).dump()));
        benchmark::DoNotOptimize(s);
    }
}
BENCHMARK(session_json_round_trip);

// The writer's whole share of a webhook, without HTTP: groups of 32 Twilio messages from 10,000
// senders who have all written before (each has a contact and a waiting question), each answering
// or starting again, as flowgate_bench sends them. Each is stored, deduplicated, stepped through the
// bench flow and answered, in one durable transaction on a real SQLite file (WAL,
// synchronous=FULL, a real data key), then the writer's checkpoint between groups. Its CPU time
// includes the kernel's (the log's writes and fdatasync) and the sealing of each message's URN and
// text, which the server does on its I/O threads. The figure to compare is CPU per item; the wall
// time also waits for the disk. Under callgrind, collect store_fixture::commit_group for the
// writer's share alone (the set-up is store_fixture's).
struct store_fixture {
    static constexpr int full_group = 32;  // the bench's full load commits about 30 a group
    const int group;
    static constexpr int senders = 10000;

    test::temp_dir dir;
    std::unique_ptr<gateway::sqlite_store> store = std::make_unique<gateway::sqlite_store>(
        dir.file("bench.db"), gateway::data_key::from_hex(handlers::to_hex(handlers::random_bytes(32))));
    config::config cfg;
    std::unique_ptr<flows::engine> engine;
    std::unique_ptr<gateway::ingest> in;
    std::int64_t n = 0;
    timestamp now = timestamp(std::chrono::seconds(1800000000));

    explicit store_fixture(int group_size = full_group) : group(group_size) {
        cfg.flows->add(bench_flow());
        cfg.languages = {"en", "ar"};
        cfg.triggers.push_back({{"JOIN"}, "bench", flows::keyword_trigger::match::first_word});
        engine = std::make_unique<flows::engine>(*cfg.flows, cfg.triggers, flows::environment{{"en", "ar"}});
        in = std::make_unique<gateway::ingest>(cfg, *engine);
        while (n < senders) {
            write_group(full_group);  // the set-up in large groups, whatever size is measured
        }
    }

    // Every sender's messages alternate: JOIN, then the answer "٢". Sealed first, as the
    // I/O threads do before handing a webhook to the writer; then the writer's part.
    // `first_time`: each message a new sender's JOIN instead (a contact, its URN and a session
    // created), as when a broadcast's invitation brings in people who never wrote before.
    void write_group(int size, bool first_time = false) {
        std::vector<handlers::incoming_message> messages;
        std::vector<gateway::sealed_inbound> sealed;
        messages.reserve(size);
        sealed.reserve(size);
        for (int i = 0; i < size; ++i, ++n) {
            const auto sender = first_time ? senders + n : n % senders;
            const bool answer = !first_time && (n / senders) % 2 == 1;
            messages.push_back({"SM" + std::to_string(1000000000 + n),
                                "tel:+96279" + std::to_string(1000000 + sender),
                                answer ? "\xd9\xa2" : "JOIN",
                                ""});
            sealed.push_back(store->seal_inbound(messages.back().urn, messages.back().text));
        }
        commit_group(messages, sealed);
    }

    // The writer's share: one transaction, then the checkpoint between groups.
    [[gnu::noinline]] void commit_group(const std::vector<handlers::incoming_message>& messages,
                                        const std::vector<gateway::sealed_inbound>& sealed) {
        auto tx = store->begin_write();
        for (std::size_t i = 0; i < messages.size(); ++i) {
            auto out = in->apply(*tx, "sms", messages[i], now, &sealed[i]);
            benchmark::DoNotOptimize(out);
        }
        tx->commit();
        store->between_groups(true);
        now += std::chrono::milliseconds(3);
    }
};

// `first_time`: each message a new sender's first JOIN (store_fixture::write_group).
[[gnu::noinline]] void write_groups(store_fixture& f, benchmark::State& state, bool first_time = false) {
    for (auto _ : state) {
        f.write_group(f.group, first_time);
    }
    state.SetItemsProcessed(state.iterations() * f.group);
}

void store_webhook_group(benchmark::State& state) {
    store_fixture f;
    write_groups(f, state);
}
BENCHMARK(store_webhook_group)->MinTime(3.0);

// The same in groups of 4, as at half the bench's load: what each commit costs beyond its jobs
// (BEGIN, COMMIT, the log's writes and sync), shared by fewer. Its checkpoints are still the busy
// writer's (from 4000 pages), not half load's smaller, more frequent ones.
void store_webhook_small_group(benchmark::State& state) {
    store_fixture f(4);
    write_groups(f, state);
}
BENCHMARK(store_webhook_small_group)->MinTime(3.0);

// New senders' first JOIN, in groups of 32: what the bench's half load starts with (its senders
// are new) and what a broadcast's invitation brings.
void store_webhook_new_senders(benchmark::State& state) {
    store_fixture f;
    write_groups(f, state, true);
}
BENCHMARK(store_webhook_new_senders)->MinTime(3.0);

// The writer's share of sending, as in the bench's broadcast: a group claims `per_group` queued
// messages of a broadcast (the store_fixture's 10,000 replies went out first), confirms each just before its
// provider (confirm_send), and records each as sent (mark_sent), in one durable transaction, then
// the checkpoint between groups. The sender's claims take up to 64 and each group carries the
// confirmations and outcomes of the sends in flight, so a claim of 12 with its 24 jobs is about
// what a busy writer commits at once. Under callgrind, collect send_fixture::commit_group.
struct send_fixture : store_fixture {
    static constexpr int per_group = 12;
    static constexpr int per_contact = 8;

    send_fixture() {
        auto tx = store->begin_write();
        // The replies to the set-up's webhooks went out before the broadcast, as in the bench.
        for (auto replies = tx->claim_outbound(now, 1000); !replies.empty();
             replies = tx->claim_outbound(now, 1000)) {
            for (const auto& m : replies) {
                tx->mark_sent(m.id, "SM" + m.uuid, now);
            }
        }
        gateway::broadcast_record b;
        b.uuid = "0190c2a4-0000-7000-8000-000000000001";
        b.token_id = tx->create_token("bench", gateway::api_role::staff, std::string(64, 'a'), now);
        b.created_by = "bench";
        b.created_at = b.send_at = now;
        b.channel_id = "sms";
        b.text = {{"en", "Reminder"}};
        b.audience = {{"all", true}};
        b.figures = nlohmann::json::object();
        b.recipients = static_cast<std::int64_t>(per_contact) * senders;
        const auto broadcast = tx->insert_broadcast(b);
        for (int round = 0; round < per_contact; ++round) {
            for (int sender = 0; sender < senders; ++sender) {
                const std::string urn = "tel:+96279" + std::to_string(1000000 + sender);
                const auto contact = tx->find_contact(urn);
                gateway::new_outbound m;
                m.channel_id = "sms";
                m.contact_id = contact->id;
                m.urn = urn;
                m.text = "Reminder: the workshop starts at 10:00 tomorrow. Reply STOP to opt out.";
                m.encoding = "GSM-7";
                m.segments = 1;
                m.created_at = now;
                m.broadcast_id = broadcast;
                tx->enqueue_outbound(m);
            }
        }
        tx->commit();
        store->checkpoint();
    }

    [[gnu::noinline]] std::size_t commit_group() {
        auto tx = store->begin_write();
        const auto claimed = tx->claim_outbound(now, per_group);
        for (const auto& m : claimed) {
            benchmark::DoNotOptimize(tx->confirm_send(m.id, now));
        }
        for (const auto& m : claimed) {
            tx->mark_sent(m.id, "SM" + m.uuid, now);
        }
        tx->commit();
        store->between_groups(true);
        now += std::chrono::milliseconds(1);
        return claimed.size();
    }
};

void store_send_group(benchmark::State& state) {
    send_fixture f;
    std::int64_t sent = 0;
    for (auto _ : state) {
        sent += static_cast<std::int64_t>(f.commit_group());
    }
    state.SetItemsProcessed(sent);
}
// A fixed count, so that the queue (80,000 messages) never runs dry: 5,000 groups of 12.
BENCHMARK(store_send_group)->Iterations(5000);

void segments_gsm7(benchmark::State& state) {
    const std::string text =
        "Reminder: the workshop starts at 10:00 tomorrow at the Community Centre. Reply 2 to cancel, STOP "
        "to opt out. [Peace Skills]";
    for (auto _ : state) {
        benchmark::DoNotOptimize(flows::count_segments(text));
    }
}
BENCHMARK(segments_gsm7);

void segments_ucs2(benchmark::State& state) {
    const std::string text =
        "\xd8\xaa\xd8\xb0\xd9\x83\xd9\x8a\xd8\xb1: \xd8\xaa\xd8\xa8\xd8\xaf\xd8\xa3 \xd8\xa7\xd9\x84\xd9\x88"
        "\xd8\xb1\xd8\xb4\xd8\xa9 \xd8\xba\xd8\xaf\xd8\xa7\xd9\x8b \xd8\xa7\xd9\x84\xd8\xb3\xd8\xa7\xd8\xb9"
        "\xd8\xa9 \xd9\xa1\xd9\xa0:\xd9\xa0\xd9\xa0. \xd8\xa3\xd8\xb1\xd8\xb3\xd9\x84\xd9\x88\xd8\xa7 STOP";
    for (auto _ : state) {
        benchmark::DoNotOptimize(flows::count_segments(text));
    }
}
BENCHMARK(segments_ucs2);

// Every stored URN and text is sealed with AES-256-GCM under the data key, and looked up by HMAC.
void data_key_seal(benchmark::State& state) {
    const auto key = gateway::data_key::from_hex(handlers::to_hex(handlers::random_bytes(32)));
    for (auto _ : state) {
        auto sealed = key.seal("tel:+962791234567", "messages.urn");
        benchmark::DoNotOptimize(sealed);
    }
}
BENCHMARK(data_key_seal);

void data_key_lookup(benchmark::State& state) {
    const auto key = gateway::data_key::from_hex(handlers::to_hex(handlers::random_bytes(32)));
    for (auto _ : state) {
        auto hash = key.lookup("tel:+962791234567");
        benchmark::DoNotOptimize(hash);
    }
}
BENCHMARK(data_key_lookup);

void random_uuid(benchmark::State& state) {
    for (auto _ : state) {
        auto id = handlers::random_uuid();
        benchmark::DoNotOptimize(id);
    }
}
BENCHMARK(random_uuid);

}  // namespace
}  // namespace flowgate

BENCHMARK_MAIN();
