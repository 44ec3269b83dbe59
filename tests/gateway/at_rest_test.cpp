// Participants' data at rest (docs/security.md, "Data at rest"): after a campaign through the real
// server, neither the database file, nor its WAL, nor the log holds a participant's number in any
// form; a database is refused under another key; a database written before sealing is sealed in
// place when first opened with a key.

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "gateway/clock.hpp"
#include "gateway/data_key.hpp"
#include "gateway/sqlite.hpp"
#include "gateway/sqlite_store.hpp"
#include "handlers/crypto.hpp"
#include "tests/support/http.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sample_flows.hpp"

namespace flowgate::gateway {
namespace {

using json = nlohmann::json;

const std::string key_hex = "5c1f0e6b9a2d4c8e7f3a1b6d9e0c2f4a8b7d6e5f4c3b2a1908f7e6d5c4b3a291";

// Made-up participants (Jordan, +962 7...), each written in every form a number takes.
const std::vector<std::string> numbers = {"+962791234567", "+962797654321", "+962781112233"};

std::vector<std::string> forms_of(const std::string& e164) {
    const std::string digits = e164.substr(1);       // 962791234567
    const std::string local = "0" + e164.substr(4);  // 0791234567
    return {e164, digits, local, e164.substr(4)};    // and 791234567, in any of them
}

std::string file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    return bytes.str();
}

// The forms of any of the numbers found in `bytes`.
std::vector<std::string> numbers_in(const std::string& bytes) {
    std::vector<std::string> found;
    for (const auto& n : numbers) {
        for (const auto& form : forms_of(n)) {
            if (bytes.find(form) != std::string::npos) {
                found.push_back(form);
            }
        }
    }
    return found;
}

class at_rest_test : public ::testing::Test {
   protected:
    void SetUp() override {
        dir.write("signup.json", test::signup_flow);
        dir.write("data.key", key_hex + "\n");
        write_config("config.json", "file:" + dir.file("data.key"));
    }

    void write_config(const std::string& name, const std::string& data_key) {
        const json cfg = {
            {"server", {{"listen", "127.0.0.1:0"}}},
            {"store", {{"sqlite", dir.file("flowgate.db")}}},
            {"data_key", data_key},
            {"timezone", "Asia/Amman"},
            {"default_country", "JO"},
            {"languages", {"en", "ar"}},
            {"channels", {{{"id", "local"}, {"type", "external"}, {"send_url", provider.url()}}}},
            {"flows", {dir.file("signup.json")}},
            {"triggers", {{{"keywords", {"JOIN"}}, {"flow", "signup"}}}},
        };
        dir.write(name, cfg.dump());
    }

    void inbound(const std::string& id, const std::string& from, const std::string& text) {
        const auto res = test::request(server->port(),
                                       "POST",
                                       "/c/local/receive",
                                       json{{"id", id}, {"from", from}, {"text", text}}.dump(),
                                       {{"Content-Type", "application/json"}});
        ASSERT_EQ(res.status, 200) << res.body;
    }

    test::fake_provider provider;
    test::temp_dir dir;
    std::unique_ptr<test::server_process> server;
};

TEST_F(at_rest_test, no_number_in_the_database_its_wal_or_the_log_after_a_campaign) {
    const auto token = test::run_flowgate(
        {"token", "create", "--config", dir.file("config.json"), "--role", "admin", "--name", "a"});
    ASSERT_EQ(token.exit_code, 0) << token.output;
    const std::string bearer = "Bearer " + token.output.substr(0, token.output.find('\n'));

    server = std::make_unique<test::server_process>(dir.file("config.json"));
    // Numbers in each form a provider sends them; one participant answers with a number too.
    inbound("m1", "0791234567", "JOIN");
    inbound("m2", "+962797654321", "JOIN");
    inbound("m3", "962781112233", "JOIN");
    inbound("m4", "0791234567", "call me on 0797654321 please");
    inbound("m5", "0791234567", "1");
    inbound("m6", "+962797654321", "irbid");
    // Welcome and question to each, the question again, and two answers.
    provider.wait_for(9);

    // Lookups go through the keyed hash: a search by number finds the contact, and the number
    // comes back (masked) from the sealed column.
    const auto found = test::request(
        server->port(), "GET", "/api/v1/contacts?urn=0791234567", "", {{"Authorization", bearer}});
    ASSERT_EQ(found.status, 200) << found.body;
    const auto contacts = json::parse(found.body).at("contacts");
    ASSERT_EQ(contacts.size(), 1u);
    EXPECT_EQ(contacts.at(0).at("urns"), json::array({"tel:\u202667"}));

    // While the server runs (before the shutdown checkpoint), the file and the WAL as they are.
    const std::string db_file = dir.file("flowgate.db");
    const std::string wal_before = file_bytes(db_file + "-wal");
    EXPECT_GT(wal_before.size(), 0u) << "the campaign is still in the WAL";
    EXPECT_EQ(numbers_in(file_bytes(db_file)), std::vector<std::string>{});
    EXPECT_EQ(numbers_in(wal_before), std::vector<std::string>{});

    EXPECT_EQ(server->stop(), 0);
    EXPECT_EQ(numbers_in(file_bytes(db_file)), std::vector<std::string>{});
    EXPECT_EQ(numbers_in(file_bytes(db_file + "-wal")), std::vector<std::string>{});
    EXPECT_EQ(numbers_in(server->log()), std::vector<std::string>{});
    // Message bodies are sealed too.
    for (const char* text : {"call me on", "irbid", "Which city"}) {
        EXPECT_EQ((file_bytes(db_file) + wal_before).find(text), std::string::npos) << text;
    }

    // The provider was sent the real numbers: sealing is at rest only.
    std::vector<std::string> sent_to;
    for (const auto& r : provider.received()) {
        sent_to.push_back(json::parse(r.body).value("urn", ""));
    }
    EXPECT_NE(std::find(sent_to.begin(), sent_to.end(), "tel:+962791234567"), sent_to.end())
        << ::testing::PrintToString(sent_to);

    // Under another key, or with "none", the database is refused, naming the key.
    write_config("other.json", "0000000000000000000000000000000000000000000000000000000000000001");
    write_config("none.json", "none");
    for (const char* config : {"other.json", "none.json"}) {
        const auto out = test::run_flowgate({"serve", "--config", dir.file(config)});
        EXPECT_EQ(out.exit_code, 1) << config;
        EXPECT_NE(out.output.find("was written with another data key: /data_key"), std::string::npos)
            << out.output;
    }
}

TEST(at_rest, a_database_from_before_sealing_is_sealed_in_place) {
    test::temp_dir dir;
    const std::string path = dir.file("old.db");
    {
        // Schema version 6, with participants' data in plain text as it was written then.
        sqlite::connection db(path);
        for (int v = 1; v <= 6; ++v) {
            db.exec(sqlite_store::migration_sql(v));
        }
        db.exec("PRAGMA user_version = 6");
        flows::session s;
        s.flow_id = "signup";
        s.node_id = "ask";
        s.results["city"] = flows::result_value{"City", "Amman", "Amman", "0797654321 amman", "ask", {}};
        const std::string state = flows::to_json(s).dump();
        db.exec(
            "INSERT INTO contacts (id, uuid, name, created_at, updated_at) VALUES (1, 'u1', 'Rania', 0, 0);"
            "INSERT INTO contact_urns (contact_id, urn, channel_id) VALUES (1, 'tel:+962791234567', 'local');"
            "INSERT INTO messages (uuid, direction, channel_id, contact_id, urn, external_id, text, state, "
            "created_at, updated_at) VALUES ('m1', 'in', 'local', 1, 'tel:+962791234567', 'x1', "
            "'my sister is 0797654321', 'handled', 0, 0);"
            "INSERT INTO messages (uuid, direction, channel_id, contact_id, urn, text, state, segments, "
            "next_attempt_at, created_at, updated_at) VALUES ('m2', 'out', 'local', 1, 'tel:+962791234567', "
            "'Which city?', 'queued', 1, 0, 0, 0);"
            "INSERT INTO runs (id, uuid, contact_id, flow_id, status, created_at, updated_at) "
            "VALUES (1, 'r1', 1, 'signup', 'active', 0, 0);"
            "INSERT INTO results (run_id, key, name, value, category, input, node_id, created_at) "
            "VALUES (1, 'city', 'City', 'Amman', 'Amman', '0797654321 amman', 'ask', 0);"
            "INSERT INTO webhook_calls (contact_id, flow_id, node_id, request, created_at) VALUES "
            "(1, 'signup', 'ask', '{\"method\":\"GET\",\"url\":\"http://x/?n=0797654321\",\"headers\":[],"
            "\"body\":\"\"}', 0);");
        sqlite::statement session(db,
                                  "INSERT INTO sessions (contact_id, run_id, flow_id, state, updated_at) "
                                  "VALUES (1, 1, 'signup', ?1, 0)");
        session.bind(1, state).run();
        // An erased contact's opt-out, as version 5 hashed it.
        sqlite::statement suppressed(db, "INSERT INTO suppressed_urns (hash, created_at) VALUES (?1, 0)");
        suppressed.bind(1, handlers::to_hex(handlers::sha256("tel:+962781112233"))).run();
    }
    ASSERT_NE(file_bytes(path).find("962791234567"), std::string::npos) << "the test starts from plain text";

    const auto key = data_key::from_hex(key_hex);
    {
        sqlite_store store(path, key);
        auto tx = store.begin_write();
        const auto rania = tx->find_contact("whatsapp:962791234567");
        ASSERT_TRUE(rania) << "found by the keyed hash, under the other scheme too";
        EXPECT_EQ(rania->name, "Rania");
        EXPECT_EQ(tx->load_contact(1)->urn, "tel:+962791234567");
        const auto session = tx->load_session(1);
        ASSERT_TRUE(session);
        EXPECT_EQ(session->session.results.at("city").input, "0797654321 amman");
        const auto claimed = tx->claim_outbound(now(), 10);
        ASSERT_EQ(claimed.size(), 1u);
        EXPECT_EQ(claimed[0].urn, "tel:+962791234567");
        EXPECT_EQ(claimed[0].text, "Which city?");
        const auto calls = tx->claim_webhooks(10);
        ASSERT_EQ(calls.size(), 1u);
        EXPECT_EQ(calls[0].call.url, "http://x/?n=0797654321");
        // The old suppression hash still keeps the erased contact opted out.
        EXPECT_TRUE(tx->upsert_contact("tel:+962781112233", "local", now()).stopped);
        EXPECT_FALSE(tx->upsert_contact("tel:+962797654321", "local", now()).stopped);
        tx->commit();
        const auto runs = store.list_flow_runs("signup", true);
        ASSERT_EQ(runs.size(), 1u);
        EXPECT_EQ(runs[0].urn, "tel:+962791234567");
        EXPECT_EQ(runs[0].values.at("city").input, "0797654321 amman");
        contact_query q;
        q.urns = {"tel:+962791234567"};
        ASSERT_EQ(store.find_contacts(q).size(), 1u);
        EXPECT_EQ(store.find_contacts(q)[0].urns, std::vector<std::string>{"tel:+962791234567"});
        // Before the checkpoint at close: the WAL holds no plain text either.
        EXPECT_EQ(numbers_in(file_bytes(path) + file_bytes(path + "-wal")), std::vector<std::string>{});
    }
    EXPECT_EQ(numbers_in(file_bytes(path) + file_bytes(path + "-wal")), std::vector<std::string>{});
    EXPECT_EQ(file_bytes(path).find("Which city"), std::string::npos);
    EXPECT_EQ(file_bytes(path).find(handlers::to_hex(handlers::sha256("tel:+962791234567"))),
              std::string::npos);

    // Opened again under another key: refused, not silently unreadable.
    EXPECT_THROW(sqlite_store(path, data_key::throwaway()), std::runtime_error);
    EXPECT_NO_THROW(sqlite_store(path, key));
}

}  // namespace
}  // namespace flowgate::gateway
