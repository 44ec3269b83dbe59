// `flowgate export messages`: every stored message in both directions with its provider id, and
// never a message's text or a phone number.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "gateway/data_key.hpp"
#include "gateway/sqlite_store.hpp"
#include "tests/support/process.hpp"

namespace flowgate::gateway {
namespace {

using json = nlohmann::json;

class export_test : public ::testing::Test {
   protected:
    void SetUp() override {
        dir.write("data.key", key_hex);
        dir.write("flow.json", R"({"id": "hi", "language": "en", "nodes": [{"id": "hi", "send": "Hi"}]})");
        const json cfg = {
            {"server", {{"listen", "127.0.0.1:0"}}},
            {"store", {{"sqlite", dir.file("flowgate.db")}}},
            {"data_key", "file:" + dir.file("data.key")},
            {"default_country", "JO"},
            {"languages", {"en"}},
            {"channels", {{{"id", "local"}, {"type", "external"}, {"send_url", "http://127.0.0.1:9/send"}}}},
            {"flows", {dir.file("flow.json")}},
        };
        dir.write("config.json", cfg.dump());
    }

    test::run_result run_export() {
        return test::run_flowgate(
            {"export", "messages", "--config", dir.file("config.json"), "--format", "json"});
    }

    // A real key, as a deployment has: the export opens the sealed store with it.
    const std::string key_hex = std::string(32, 'a') + std::string(32, '7');
    test::temp_dir dir;
};

TEST_F(export_test, lists_both_directions_without_texts_or_numbers) {
    const std::string urn = "tel:+962791234567";
    std::string contact_uuid;
    {
        sqlite_store store(dir.file("flowgate.db"), data_key::from_config(key_hex));
        auto tx = store.begin_write();
        const auto contact = tx->upsert_contact(urn, "local", from_millis(1000));
        contact_uuid = contact.uuid;
        const auto in = tx->insert_inbound(
            {"local", "prov-in-1", urn, "my secret answer", contact.id, from_millis(2000)});
        ASSERT_TRUE(in);
        new_outbound out;
        out.channel_id = "local";
        out.contact_id = contact.id;
        out.urn = urn;
        out.text = "a private reply";
        out.encoding = "GSM-7";
        out.segments = 1;
        out.reply_to = *in;
        out.created_at = from_millis(3000);
        const auto out_id = tx->enqueue_outbound(out);
        const auto claimed = tx->claim_outbound(from_millis(4000), 10);
        ASSERT_EQ(claimed.size(), 1u);
        tx->mark_sent(out_id, "prov-out-1", from_millis(5000));
        out.reply_to.reset();
        tx->enqueue_outbound(out);  // still queued, no provider id yet
        tx->commit();
        store.close();
    }
    const auto result = run_export();
    ASSERT_EQ(result.exit_code, 0) << result.output;
    EXPECT_EQ(result.output.find("+962791234567"), std::string::npos) << result.output;
    EXPECT_EQ(result.output.find("secret answer"), std::string::npos);
    EXPECT_EQ(result.output.find("private reply"), std::string::npos);
    const json rows = json::parse(result.output);
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0].at("direction"), "in");
    EXPECT_EQ(rows[0].at("channel"), "local");
    EXPECT_EQ(rows[0].at("external_id"), "prov-in-1");
    EXPECT_EQ(rows[0].at("state"), "handled");
    EXPECT_EQ(rows[0].at("contact"), contact_uuid);
    EXPECT_EQ(rows[0].at("created_at"), "1970-01-01T00:00:02Z");
    EXPECT_EQ(rows[1].at("direction"), "out");
    EXPECT_EQ(rows[1].at("external_id"), "prov-out-1");
    EXPECT_EQ(rows[1].at("state"), "sent");
    EXPECT_EQ(rows[1].at("attempts"), 1);
    EXPECT_EQ(rows[1].at("reply_to"), rows[0].at("uuid"));
    EXPECT_EQ(rows[2].at("state"), "queued");
    EXPECT_TRUE(rows[2].at("external_id").is_null());
    EXPECT_TRUE(rows[2].at("reply_to").is_null());
    for (const auto& r : rows) {
        EXPECT_EQ(r.at("uuid").get<std::string>().size(), 36u);
        EXPECT_FALSE(r.contains("text"));
        EXPECT_FALSE(r.contains("urn"));
    }
}

TEST_F(export_test, an_empty_store_is_an_empty_array_and_bad_use_is_refused) {
    { sqlite_store store(dir.file("flowgate.db"), data_key::from_config(key_hex)); }
    const auto empty = run_export();
    ASSERT_EQ(empty.exit_code, 0) << empty.output;
    EXPECT_EQ(json::parse(empty.output), json::array());
    EXPECT_EQ(
        test::run_flowgate({"export", "messages", "--config", dir.file("config.json"), "--format", "csv"})
            .exit_code,
        2);
    EXPECT_EQ(test::run_flowgate({"export", "messages", "--config", dir.file("config.json")}).exit_code, 2);
}

TEST_F(export_test, no_database_is_an_error_not_a_new_empty_one) {
    const auto result = run_export();
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_FALSE(std::filesystem::exists(dir.file("flowgate.db")));
}

}  // namespace
}  // namespace flowgate::gateway
