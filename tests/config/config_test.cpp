#include "config/config.hpp"

#include <gtest/gtest.h>

#include <ctime>
#include <iomanip>
#include <map>
#include <sstream>

#include "handlers/registry.hpp"

namespace flowgate::config {
namespace {

const char* flow_json = R"({
  "id": "signup", "name": "Sign-up", "language": "en",
  "nodes": [
    {"id": "ask", "ask": {"en": "City?", "ar": "المدينة؟"}, "result": "City",
     "cases": [{"test": "has_any_word", "args": ["amman"], "category": "Amman", "next": "done"}],
     "other": "ask"},
    {"id": "done", "send": "Thanks"}
  ]
})";

struct fake_world {
    std::map<std::string, std::string> env;
    std::map<std::string, std::string> files;

    flowgate::config::environment env_of() const {
        flowgate::config::environment e;
        e.getenv = [this](const std::string& n) -> std::optional<std::string> {
            const auto it = env.find(n);
            return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
        };
        e.read_file = [this](const std::string& p) -> std::optional<std::string> {
            const auto it = files.find(p);
            return it == files.end() ? std::nullopt : std::optional<std::string>(it->second);
        };
        return e;
    }
};

fake_world world() {
    fake_world w;
    w.env["EXT_SECRET"] = "top-secret-value";
    w.files["flows/signup.json"] = flow_json;
    w.files["secret.txt"] = "file-secret\n";
    return w;
}

const std::string valid = R"({
  "server": {"listen": "127.0.0.1:8081", "public_url": "https://sms.example.org/", "threads": 4},
  "store": {"sqlite": "data/test.db"},
  "data_key": "none",
  "default_country": "LB", "timezone": "Asia/Beirut", "languages": ["ar", "en"],
  "quiet_hours": {"start": "21:00", "end": "08:00"},
  "channels": [
    {"id": "local", "type": "external", "send_url": "http://127.0.0.1:9000/send", "secret": "env:EXT_SECRET",
     "max_per_second": 5},
    {"id": "other", "type": "external", "send_url": "https://example.org/send", "secret": "file:secret.txt"}
  ],
  "flows": ["flows/signup.json"],
  "triggers": [{"keywords": ["JOIN", "انضم"], "flow": "signup"}]
})";

std::vector<std::string> messages(const load_outcome& out) {
    std::vector<std::string> lines;
    for (const auto& d : out.errors) {
        lines.push_back(d.to_string());
    }
    return lines;
}

TEST(config, loads_a_valid_config) {
    const auto w = world();
    const auto out = load_text("test.json", valid, w.env_of());
    ASSERT_TRUE(out.loaded) << ::testing::PrintToString(messages(out));
    const config& c = *out.loaded;
    EXPECT_EQ(c.server.host, "127.0.0.1");
    EXPECT_EQ(c.server.port, 8081);
    EXPECT_EQ(c.server.public_url, "https://sms.example.org");
    EXPECT_EQ(c.server.threads, 4);
    EXPECT_EQ(c.store.sqlite, "data/test.db");
    EXPECT_EQ(c.default_country, "LB");
    EXPECT_EQ(c.languages, (std::vector<std::string>{"ar", "en"}));
    ASSERT_TRUE(c.quiet_hours);
    EXPECT_EQ(c.quiet_hours->first.minutes, 21 * 60);
    ASSERT_EQ(c.channels.size(), 2u);
    EXPECT_EQ(c.channels[0].settings.get("secret"), "top-secret-value");
    EXPECT_EQ(c.channels[0].settings.default_country, "LB");
    EXPECT_EQ(c.channels[0].max_per_second, 5);
    EXPECT_EQ(c.channels[1].settings.get("secret"), "file-secret");
    ASSERT_NE(c.flows->find("signup"), nullptr);
    ASSERT_EQ(c.triggers.size(), 1u);
    EXPECT_EQ(c.triggers[0].flow_id, "signup");
    EXPECT_TRUE(out.warnings.empty());
}

TEST(config, postgres_url_from_the_environment_or_written_without_a_password) {
    auto w = world();
    w.env["FLOWGATE_PG"] = "postgresql://flowgate:s3cret@127.0.0.1:5432/flowgate";
    struct url_case {
        const char* value;
        std::string loaded;
        bool warned;  // a password written in the config
    };
    const std::vector<url_case> cases = {
        {"env:FLOWGATE_PG", "postgresql://flowgate:s3cret@127.0.0.1:5432/flowgate", false},
        {"postgresql://flowgate@db/flowgate", "postgresql://flowgate@db/flowgate", false},
        {"postgresql://flowgate:pw@db/flowgate", "postgresql://flowgate:pw@db/flowgate", true},
        {"host=db dbname=flowgate", "host=db dbname=flowgate", false},
    };
    for (const auto& k : cases) {
        SCOPED_TRACE(k.value);
        std::string text = valid;
        const std::string from = R"("store": {"sqlite": "data/test.db"})";
        text.replace(
            text.find(from), from.size(), std::string(R"("store": {"postgres": ")") + k.value + "\"}");
        const auto out = load_text("test.json", text, w.env_of());
        ASSERT_TRUE(out.loaded) << ::testing::PrintToString(messages(out));
        EXPECT_EQ(out.loaded->store.postgres, k.loaded);
        EXPECT_TRUE(out.loaded->store.sqlite.empty());
        EXPECT_EQ(!out.warnings.empty(), k.warned);
        for (const auto& warning : out.warnings) {
            EXPECT_EQ(warning.message.find("pw"), std::string::npos) << "a warning never quotes the URL";
        }
    }
}

TEST(config, postgres_writers_default_to_two) {
    const auto w = world();
    for (const auto& [store, writers] : std::vector<std::pair<std::string, std::size_t>>{
             {R"("store": {"postgres": "postgresql://db/flowgate"})", 2},
             {R"("store": {"postgres": "postgresql://db/flowgate", "writers": 1})", 1},
             {R"("store": {"postgres": "postgresql://db/flowgate", "writers": 16})", 16},
         }) {
        SCOPED_TRACE(store);
        std::string text = valid;
        const std::string from = R"("store": {"sqlite": "data/test.db"})";
        text.replace(text.find(from), from.size(), store);
        const auto out = load_text("test.json", text, w.env_of());
        ASSERT_TRUE(out.loaded) << ::testing::PrintToString(messages(out));
        EXPECT_EQ(out.loaded->store.writers, writers);
    }
}

TEST(config, data_key_from_a_file_or_the_environment) {
    auto w = world();
    const std::string key = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
    w.files["data/demo.key"] = key + "\n";
    w.env["FLOWGATE_DATA_KEY"] = key;
    for (const std::string value : {"file:data/demo.key", "env:FLOWGATE_DATA_KEY"}) {
        std::string text = valid;
        text.replace(text.find(R"("none")"), 6, "\"" + value + "\"");
        const auto out = load_text("test.json", text, w.env_of());
        ASSERT_TRUE(out.loaded) << ::testing::PrintToString(messages(out));
        EXPECT_EQ(out.loaded->data_key, key) << value;
    }
    EXPECT_EQ(load_text("test.json", valid, w.env_of()).loaded->data_key, "none");
}

struct bad_case {
    const char* label;
    std::string patch_from;             // a piece of `valid` ...
    std::string patch_to;               // ... replaced by this
    std::vector<std::string> expected;  // every error line, in order
};

// Every registered channel type, as the loader lists them for an unknown one.
std::string known_channel_types() {
    std::string known;
    for (const auto& t : handlers::register_all()) {
        known += (known.empty() ? "" : ", ") + t.name;
    }
    return known;
}

TEST(config, reports_each_problem_with_its_pointer) {
    ASSERT_NE(known_channel_types().find("external"), std::string::npos);
    const std::vector<bad_case> cases = {
        {"unknown top-level key",
         R"("data_key": "none",)",
         R"("data_key": "none", "chanels": [],)",
         {"test.json: /chanels: unknown key"}},
        {"bad listen",
         "127.0.0.1:8081",
         "localhost",
         {"test.json: /server/listen: must be HOST:PORT, e.g. \"127.0.0.1:8080\""}},
        {"threads out of range",
         R"("threads": 4)",
         R"("threads": 0)",
         {"test.json: /server/threads: must be an integer from 1 to 64"}},
        {"unknown channel type",
         R"("type": "external", "send_url": "http://127)",
         R"("type": "twillio", "send_url": "http://127)",
         {"test.json: /channels/0/type: unknown channel type \"twillio\" (known: " + known_channel_types() +
          ")"}},
        {"missing env secret",
         "env:EXT_SECRET",
         "env:NOPE",
         {"test.json: /channels/0/secret: environment variable NOPE is not set"}},
        {"bad send_url",
         "http://127.0.0.1:9000/send",
         "ftp://x",
         {"test.json: /channels/0/send_url: must be an http:// or https:// URL"}},
        {"duplicate channel id",
         R"("id": "other")",
         R"("id": "local")",
         {"test.json: /channels/1/id: another channel has the id \"local\""}},
        {"unknown channel key",
         R"("max_per_second": 5)",
         R"("max_per_second": 5, "sendurl": "x")",
         {"test.json: /channels/0/sendurl: unknown key for channel type external"}},
        {"trigger to unknown flow",
         R"("flow": "signup")",
         R"("flow": "signup2")",
         {"test.json: /triggers/0/flow: no flow has the id \"signup2\""}},
        {"unreadable flow file",
         "flows/signup.json",
         "flows/missing.json",
         {"test.json: /flows/0: cannot read flow file flows/missing.json"}},
        {"bad country",
         R"("default_country": "LB")",
         R"("default_country": "Lebanon")",
         {"test.json: /default_country: must be an ISO 3166 country code such as \"JO\", \"LB\" or \"NG\""}},
        {"bad time zone",
         "Asia/Beirut",
         "Asia/Nowhere",
         {"test.json: /timezone: unknown time zone; use an IANA name such as \"Asia/Amman\""}},
        {"bad quiet hours",
         R"("start": "21:00")",
         R"("start": "9pm")",
         {"test.json: /quiet_hours/start: must be a time like \"21:00\""}},
        {"bad data key",
         R"("data_key": "none")",
         R"("data_key": "env:EXT_SECRET")",
         {"test.json: /data_key: the key must be 64 hexadecimal characters"}},
        {"no data key: the server will not start without one",
         R"("data_key": "none",)",
         "",
         {"test.json: /data_key: is required: the key for participants' data at rest, \"env:NAME\" or "
          "\"file:PATH\" holding 64 hexadecimal characters (or \"none\" for throwaway use)"}},
        {"a data key file that is not a key",
         R"("data_key": "none")",
         R"("data_key": "file:secret.txt")",
         {"test.json: /data_key: the key must be 64 hexadecimal characters"}},
        {"a data key file that is missing",
         R"("data_key": "none")",
         R"("data_key": "file:data/absent.key")",
         {"test.json: /data_key: cannot read secret file data/absent.key"}},
        {"trigger keyword that is a standing keyword",
         R"("keywords": ["JOIN", "انضم"])",
         R"("keywords": ["JOIN", "Help"])",
         {"test.json: /triggers/0/keywords/1: \"Help\" is the standing keyword help; choose another word"}},
        {"opt-out reply in a language the config does not have",
         R"("data_key": "none",)",
         R"("data_key": "none", "keywords": {"stop_reply": {"de": "Tschüss"}, "stop": ["STOP", "stop"]},)",
         {"test.json: /keywords/stop/1: the word \"stop\" is listed twice",
          "test.json: /keywords/stop_reply/de: is not one of the config's languages"}},
        {"a catch-all trigger with keywords",
         R"("triggers": [{"keywords": ["JOIN", "انضم"], "flow": "signup"}])",
         R"("triggers": [{"keywords": ["JOIN", "انضم"], "flow": "signup"}, {"catch_all": true, "keywords": ["X"], "flow": "signup"}])",
         {"test.json: /triggers/1/keywords: a catch-all trigger has no keywords"}},
        {"three mistakes at once",
         "\"threads\": 4},\n  \"store\": {\"sqlite\": \"data/test.db\"}",
         "\"threads\": \"four\"},\n  \"store\": {\"sqlit\": \"data/test.db\"}",
         {"test.json: /server/threads: must be an integer from 1 to 64",
          "test.json: /store/sqlit: unknown key",
          "test.json: /store: needs \"sqlite\": PATH or \"postgres\": URL"}},
        {"postgres URL from an unset variable",
         R"("store": {"sqlite": "data/test.db"})",
         R"("store": {"postgres": "env:FLOWGATE_PG_UNSET"})",
         {"test.json: /store/postgres: environment variable FLOWGATE_PG_UNSET is not set"}},
        {"postgres and sqlite both",
         R"("store": {"sqlite": "data/test.db"})",
         R"("store": {"sqlite": "data/test.db", "postgres": "postgresql://db/flowgate"})",
         {"test.json: /store: give one of \"sqlite\" and \"postgres\", not both"}},
        {"postgres that is no connection string",
         R"("store": {"sqlite": "data/test.db"})",
         R"("store": {"postgres": "db.example.org"})",
         {"test.json: /store/postgres: must be a PostgreSQL connection string such as "
          "\"postgresql://flowgate@db/flowgate\""}},
        {"writers for SQLite",
         R"("store": {"sqlite": "data/test.db"})",
         R"("store": {"sqlite": "data/test.db", "writers": 2})",
         {"test.json: /store/writers: is for \"postgres\" only: SQLite has one writer"}},
        {"writers out of range",
         R"("store": {"sqlite": "data/test.db"})",
         R"("store": {"postgres": "postgresql://db/flowgate", "writers": 0})",
         {"test.json: /store/writers: must be an integer from 1 to 16"}},
    };
    const auto w = world();
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        std::string text = valid;
        const auto at = text.find(c.patch_from);
        ASSERT_NE(at, std::string::npos) << "the case's patch does not apply";
        text.replace(at, c.patch_from.size(), c.patch_to);
        const auto out = load_text("test.json", text, w.env_of());
        EXPECT_FALSE(out.loaded);
        EXPECT_EQ(messages(out), c.expected);
    }
}

TEST(config, problems_in_a_flow_file_name_that_file) {
    auto w = world();
    w.files["flows/signup.json"] =
        R"({"id": "signup", "language": "en", "nodes": [{"id": "a", "send": "x", "next": "nowhere"}]})";
    const auto out = load_text("test.json", valid, w.env_of());
    ASSERT_FALSE(out.loaded);
    ASSERT_FALSE(out.errors.empty());
    EXPECT_EQ(out.errors[0].file, "flows/signup.json");
    EXPECT_EQ(out.errors[0].pointer, "/nodes/0/next");
    // The trigger's flow failed to load: no second, misleading error about the trigger.
    for (const auto& e : out.errors) {
        EXPECT_NE(e.pointer, "/triggers/0/flow");
    }
}

TEST(config, literal_secret_is_a_warning_and_never_printed) {
    auto w = world();
    std::string text = valid;
    text.replace(text.find("env:EXT_SECRET"), 14, "literal-secret-123");
    const auto out = load_text("test.json", text, w.env_of());
    ASSERT_TRUE(out.loaded);
    ASSERT_EQ(out.warnings.size(), 1u);
    EXPECT_EQ(out.warnings[0].pointer, "/channels/0/secret");
    EXPECT_EQ(out.warnings[0].to_string().find("literal-secret-123"), std::string::npos);
}

TEST(config, not_json_and_missing_file) {
    const auto w = world();
    auto out = load_text("test.json", "{nope", w.env_of());
    EXPECT_EQ(messages(out), std::vector<std::string>{"test.json: /: not valid JSON"});
    out = load("absent.json", w.env_of());
    EXPECT_EQ(messages(out), std::vector<std::string>{"absent.json: /: cannot read the config file"});
}

TEST(config, minimal_config_gets_defaults) {
    const auto w = world();
    const auto out = load_text(
        "min.json",
        R"({"store": {"sqlite": "x.db"}, "data_key": "none", "channels": [{"id": "c", "type": "external", "send_url": "http://127.0.0.1:1/"}]})",
        w.env_of());
    ASSERT_TRUE(out.loaded) << ::testing::PrintToString(messages(out));
    EXPECT_EQ(out.loaded->server.port, 8080);
    EXPECT_EQ(out.loaded->server.body_limit, 64u * 1024);
    EXPECT_EQ(out.loaded->default_country, "JO");
    EXPECT_EQ(out.loaded->languages, std::vector<std::string>{"en"});
    EXPECT_EQ(out.loaded->channels.at(0).settings.get("public_url"), "");
}

TEST(config, keywordless_triggers_are_one_of_a_kind) {
    const auto w = world();
    const auto out = load_text("t.json",
                               R"({"store": {"sqlite": "x.db"}, "data_key": "none", "flows": [],
            "triggers": [{"new_conversation": true, "flow": "x"}, {"new_conversation": true, "flow": "x"},
                         {"new_conversation": true, "catch_all": true, "flow": "x"},
                         {"new_conversation": true, "keywords": ["HI"], "flow": "x"}]})",
                               w.env_of());
    EXPECT_EQ(
        messages(out),
        (std::vector<std::string>{
            "t.json: /channels: is required: at least one channel",
            "t.json: /triggers/0/flow: no flow has the id \"x\"",
            "t.json: /triggers/1/new_conversation: there is already a new-conversation trigger",
            "t.json: /triggers/1/flow: no flow has the id \"x\"",
            "t.json: /triggers/2/new_conversation: a trigger is catch_all or new_conversation, not both",
            "t.json: /triggers/2/flow: no flow has the id \"x\"",
            "t.json: /triggers/3/keywords: a new-conversation trigger has no keywords",
            "t.json: /triggers/3/new_conversation: there is already a new-conversation trigger",
            "t.json: /triggers/3/flow: no flow has the id \"x\""}));
}

TEST(config, channel_settings_get_the_public_url_and_choices_are_checked) {
    const auto w = world();
    auto out = load_text(
        "v.json",
        R"({"server": {"public_url": "https://sms.example.org/"}, "store": {"sqlite": "x.db"}, "data_key": "none",
            "channels": [{"id": "v", "type": "vonage", "address": "+962790000000", "api_key": "k", "api_secret": "env:EXT_SECRET",
                          "signature_secret": "env:EXT_SECRET", "signature_method": "sha256"}]})",
        w.env_of());
    ASSERT_TRUE(out.loaded) << ::testing::PrintToString(messages(out));
    EXPECT_EQ(out.loaded->channels.at(0).settings.get("public_url"), "https://sms.example.org");
    out = load_text("v.json",
                    R"({"store": {"sqlite": "x.db"}, "data_key": "none",
            "channels": [{"id": "v", "type": "vonage", "address": "+962790000000", "api_key": "k", "api_secret": "env:EXT_SECRET",
                          "signature_secret": "env:EXT_SECRET", "signature_method": "sha3"}]})",
                    w.env_of());
    EXPECT_FALSE(out.loaded);
    EXPECT_EQ(
        messages(out),
        std::vector<std::string>{
            "v.json: /channels/0/signature_method: must be one of: md5hash, md5, sha1, sha256, sha512"});
}

TEST(config, an_inbound_secret_can_name_its_previous_value_for_a_rotation) {
    auto w = world();
    w.env["TOKEN_NEW"] = "token-new";
    w.env["TOKEN_OLD"] = "token-old";
    auto out = load_text("r.json",
                         R"({"store": {"sqlite": "x.db"}, "data_key": "none",
            "channels": [{"id": "t", "type": "twilio", "account_sid": "AC1", "address": "+15005550006",
                          "auth_token": "env:TOKEN_NEW", "auth_token_previous": "env:TOKEN_OLD"}]})",
                         w.env_of());
    ASSERT_TRUE(out.loaded) << ::testing::PrintToString(messages(out));
    EXPECT_EQ(out.loaded->channels.at(0).settings.get("auth_token_previous"), "token-old");

    struct bad_case {
        const char* channel;
        const char* error;
    };
    const std::vector<bad_case> cases = {
        // A credential we send with is replaced, not rotated with an overlap.
        {R"({"id": "a", "type": "africastalking", "username": "u", "api_key": "env:TOKEN_NEW",
             "url_secret": "env:TOKEN_NEW", "api_key_previous": "env:TOKEN_OLD"})",
         "r.json: /channels/0/api_key_previous: only a secret that checks inbound requests has a previous "
         "value to rotate"},
        {R"({"id": "v", "type": "vonage", "address": "+962790000000", "api_key": "k", "api_secret": "env:TOKEN_NEW",
             "signature_secret_previous": "env:TOKEN_OLD"})",
         "r.json: /channels/0/signature_secret_previous: needs the current secret \"signature_secret\" "
         "beside it"},
        {R"({"id": "e", "type": "external", "send_url": "http://127.0.0.1:9/send", "secret": "env:TOKEN_NEW",
             "secret_previous": "env:MISSING"})",
         "r.json: /channels/0/secret_previous: environment variable MISSING is not set"},
        {R"({"id": "e", "type": "external", "send_url": "http://127.0.0.1:9/send", "send_url_previous": "x"})",
         "r.json: /channels/0/send_url_previous: only a secret that checks inbound requests has a previous "
         "value to rotate"},
    };
    for (const auto& k : cases) {
        SCOPED_TRACE(k.channel);
        out = load_text("r.json",
                        std::string(R"({"store": {"sqlite": "x.db"}, "data_key": "none", "channels": [)") +
                            k.channel + "]}",
                        w.env_of());
        EXPECT_FALSE(out.loaded);
        EXPECT_EQ(messages(out), std::vector<std::string>{k.error});
        for (const auto& m : messages(out)) {
            EXPECT_EQ(m.find("token-"), std::string::npos) << "a secret is never printed";
        }
    }
}

}  // namespace
}  // namespace flowgate::config

namespace flowgate::config {
namespace {

timestamp utc(const char* iso) {
    std::tm tm{};
    std::istringstream in(iso);
    in >> std::get_time(&tm, "%Y-%m-%dT%H:%M");
    return from_millis(static_cast<std::int64_t>(timegm(&tm)) * 1000);
}

TEST(config, quiet_hours_hold_messages_until_morning_in_the_config_time_zone) {
    config c;
    c.timezone = "Asia/Amman";  // UTC+3 all year
    EXPECT_EQ(c.outside_quiet_hours(utc("2026-11-29T19:00")), utc("2026-11-29T19:00")) << "no quiet hours";
    c.quiet_hours = std::pair{clock_time{21 * 60}, clock_time{8 * 60}};
    const std::vector<std::pair<const char*, const char*>> cases = {
        {"2026-11-29T17:59", "2026-11-29T17:59"},  // 20:59 local: still fine
        {"2026-11-29T18:00", "2026-11-30T05:00"},  // 21:00 local → 08:00 local
        {"2026-11-29T20:30", "2026-11-30T05:00"},  // 23:30 local
        {"2026-11-29T22:00", "2026-11-30T05:00"},  // 01:00 local, the next day
        {"2026-11-30T04:59", "2026-11-30T05:00"},  // 07:59 local
        {"2026-11-30T05:00", "2026-11-30T05:00"},  // 08:00 local: the day has begun
    };
    for (const auto& [at, expected] : cases) {
        EXPECT_EQ(c.outside_quiet_hours(utc(at)), utc(expected)) << at;
    }
    c.quiet_hours = std::pair{clock_time{13 * 60}, clock_time{15 * 60}};  // a siesta, not across midnight
    EXPECT_EQ(c.outside_quiet_hours(utc("2026-11-29T10:30")), utc("2026-11-29T12:00"));
    EXPECT_EQ(c.outside_quiet_hours(utc("2026-11-29T12:00")), utc("2026-11-29T12:00"));
}

}  // namespace
}  // namespace flowgate::config
