#include "handlers/telegram.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "handlers/registry.hpp"

namespace flowgate::handlers {
namespace {

using namespace std::chrono_literals;

const std::string bot_token = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11";
const std::string secret_token = "Flowgate_secret-token_42";

channel_settings settings() {
    channel_settings s;
    s.id = "tg";
    s.type = "telegram";
    s.default_country = "JO";
    s.values["bot_token"] = bot_token;
    s.values["secret_token"] = secret_token;
    return s;
}

// The sample update of core.telegram.org/bots/webhooks (providers.md §6.2), verbatim.
const std::string sample_update = R"({"update_id":10000,
 "message":{"date":1441645532,
   "chat":{"last_name":"Test Lastname","id":1111111,"first_name":"Test","username":"Test"},
   "message_id":1365,
   "from":{"last_name":"Test Lastname","id":1111111,"first_name":"Test","username":"Test"},
   "text":"/start"}})";

// A private-chat message from the circulating variant of that sample.
std::string message(const std::string& fields, long long chat_id = 1111111) {
    const std::string id = std::to_string(chat_id);
    return R"({"update_id":10001,"message":{"message_id":1366,"date":1441645532,"chat":{"id":)" + id +
           R"(,"type":"private","first_name":"Test Firstname","last_name":"Test Lastname","username":"Testusername"},"from":{"id":)" +
           id +
           R"(,"is_bot":false,"first_name":"Test Firstname","last_name":"Test Lastname","username":"Testusername","language_code":"ar"},)" +
           fields + "}}";
}

enum class secret { valid, none, one_char_changed, other_case, empty };

struct incoming_case {
    const char* label;
    std::string body;
    secret header;
    int status;
    std::vector<event> events;
};

raw_request post(const std::string& body, secret s) {
    raw_request r;
    r.method = "POST";
    r.path = "/c/tg/receive";
    r.headers.push_back({"Content-Type", "application/json"});
    r.body = body;
    std::string value = secret_token;
    switch (s) {
        case secret::none:
            return r;
        case secret::valid:
            break;
        case secret::one_char_changed:
            value.back() = value.back() == '2' ? '3' : '2';
            break;
        case secret::other_case:
            value[0] = 'f';
            break;
        case secret::empty:
            value.clear();
            break;
    }
    r.headers.push_back({"X-Telegram-Bot-Api-Secret-Token", value});
    return r;
}

TEST(telegram, incoming) {
    const telegram_handler h(settings());
    const std::string name = "Test Firstname Test Lastname";
    const std::vector<incoming_case> cases = {
        {"the official sample: /start opens a conversation",
         sample_update,
         secret::valid,
         200,
         {channel_event{channel_event::kind::new_conversation, "telegram:1111111"}}},
        {"/start with a deep-link payload",
         message(R"("text":"/start workshop-amman")"),
         secret::valid,
         200,
         {channel_event{channel_event::kind::new_conversation, "telegram:1111111"}}},
        {"text message",
         message(R"("text":"JOIN")"),
         secret::valid,
         200,
         {incoming_message{"1111111:1366", "telegram:1111111", "JOIN", name}}},
        {"Arabic text",
         message(R"("text":"مرحبا \u0661")"),
         secret::valid,
         200,
         {incoming_message{"1111111:1366", "telegram:1111111", "مرحبا ١", name}}},
        {"a word starting with /start is text",
         message(R"("text":"/startle")"),
         secret::valid,
         200,
         {incoming_message{"1111111:1366", "telegram:1111111", "/startle", name}}},
        {"caption of a photo",
         message(R"("photo":[{"file_id":"AgAD","width":90,"height":90}],"caption":"my card")"),
         secret::valid,
         200,
         {incoming_message{"1111111:1366", "telegram:1111111", "my card", name}}},
        {"sticker without text",
         message(R"("sticker":{"file_id":"CAAD","width":512,"height":512})"),
         secret::valid,
         200,
         {incoming_message{"1111111:1366", "telegram:1111111", "", name}}},
        {"chat id beyond 32 bits",
         message(R"("text":"hi")", 5'000'000'001LL),
         secret::valid,
         200,
         {incoming_message{"5000000001:1366", "telegram:5000000001", "hi", name}}},
        {"name from the username when there is no other",
         R"({"update_id":1,"message":{"message_id":7,"chat":{"id":42,"type":"private"},"from":{"id":42,"is_bot":false,"first_name":"","username":"huda_k"},"text":"hi"}})",
         secret::valid,
         200,
         {incoming_message{"42:7", "telegram:42", "hi", "huda_k"}}},
        {"first name only",
         R"({"update_id":1,"message":{"message_id":7,"chat":{"id":42,"type":"private"},"from":{"id":42,"first_name":"هدى"},"text":"hi"}})",
         secret::valid,
         200,
         {incoming_message{"42:7", "telegram:42", "hi", "هدى"}}},
        {"blocking the bot stops the contact",
         R"({"update_id":2,"my_chat_member":{"chat":{"id":42,"type":"private"},"from":{"id":42},"date":1,"old_chat_member":{"status":"member","user":{"id":9}},"new_chat_member":{"status":"kicked","user":{"id":9},"until_date":0}}})",
         secret::valid,
         200,
         {channel_event{channel_event::kind::stop_contact, "telegram:42"}}},
        {"unblocking ignored",
         R"({"update_id":3,"my_chat_member":{"chat":{"id":42,"type":"private"},"new_chat_member":{"status":"member"}}})",
         secret::valid,
         200,
         {}},
        {"group message ignored",
         R"({"update_id":4,"message":{"message_id":9,"chat":{"id":-1001234567890,"type":"supergroup","title":"g"},"from":{"id":42},"text":"hi"}})",
         secret::valid,
         200,
         {}},
        {"edited message ignored",
         R"({"update_id":5,"edited_message":{"message_id":1366,"chat":{"id":42,"type":"private"},"text":"JOIN!"}})",
         secret::valid,
         200,
         {}},
        {"callback query ignored",
         R"({"update_id":6,"callback_query":{"id":"1","from":{"id":42},"data":"x"}})",
         secret::valid,
         200,
         {}},
        {"malformed JSON", R"({"update_id":)", secret::valid, 400, {}},
        {"JSON array", "[]", secret::valid, 400, {}},
        {"no update_id",
         R"({"message":{"message_id":1,"chat":{"id":1},"text":"x"}})",
         secret::valid,
         400,
         {}},
        {"message without chat",
         R"({"update_id":1,"message":{"message_id":1,"text":"x"}})",
         secret::valid,
         400,
         {}},
        {"chat id as a string",
         R"({"update_id":1,"message":{"message_id":1,"chat":{"id":"1"},"text":"x"}})",
         secret::valid,
         400,
         {}},
        {"message without message_id",
         R"({"update_id":1,"message":{"chat":{"id":1},"text":"x"}})",
         secret::valid,
         400,
         {}},
        {"missing secret header", sample_update, secret::none, 403, {}},
        {"one character changed", sample_update, secret::one_char_changed, 403, {}},
        {"case matters", sample_update, secret::other_case, 403, {}},
        {"empty secret header", sample_update, secret::empty, 403, {}},
        {"secret checked before parsing", "{not json", secret::none, 403, {}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const auto result = h.receive(endpoint::receive, post(c.body, c.header));
        EXPECT_EQ(result.http_status, c.status);
        EXPECT_EQ(result.events, c.events);
        const auto reply = h.reply(endpoint::receive, result);
        EXPECT_EQ(reply.status, c.status);
        EXPECT_EQ(reply.body.find(secret_token), std::string::npos);
        if (c.status == 200) {
            // A 2xx body could be read as a Bot API call: it stays empty.
            EXPECT_EQ(reply.body, "");
        }
    }
}

TEST(telegram, without_a_configured_secret_nothing_gets_in) {
    channel_settings s = settings();
    s.values["secret_token"] = "";
    const telegram_handler h(s);
    EXPECT_EQ(h.receive(endpoint::receive, post(sample_update, secret::none)).http_status, 403);
    EXPECT_EQ(h.receive(endpoint::receive, post(sample_update, secret::empty)).http_status, 403);
}

TEST(telegram, reply_bodies) {
    const telegram_handler h(settings());
    const auto ok = h.reply(endpoint::receive, receive_result::accept({}));
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(ok.body, "");
    const auto rejected = h.reply(endpoint::receive, receive_result::reject(403, "invalid secret token"));
    EXPECT_EQ(rejected.status, 403);
    EXPECT_EQ(rejected.content_type, "application/json");
    EXPECT_EQ(rejected.body, R"({"error":"invalid secret token"})");
}

TEST(telegram, only_post_on_receive) {
    const telegram_handler h(settings());
    EXPECT_TRUE(h.allows(endpoint::receive, "POST"));
    EXPECT_FALSE(h.allows(endpoint::receive, "GET"));
    EXPECT_FALSE(h.allows(endpoint::status, "POST"));
}

outgoing_message out(std::string urn, std::string text) {
    return {"6f1c2f7e-0000-4000-8000-000000000001",
            "tg",
            std::move(urn),
            std::move(text),
            from_millis(0),
            std::nullopt};
}

TEST(telegram, builds_send_requests) {
    const telegram_handler h(settings());
    const struct {
        const char* label;
        outgoing_message message;
        std::string body;
    } cases[] = {
        {"Arabic text as UTF-8 JSON",
         out("telegram:1111111", "مرحبا، تم تسجيلك"),
         R"({"chat_id":1111111,"text":"مرحبا، تم تسجيلك"})"},
        {"64-bit chat id", out("telegram:5000000001", "hi"), R"({"chat_id":5000000001,"text":"hi"})"},
        {"channel name as a string",
         out("telegram:@flowgate_news", "hi"),
         R"({"chat_id":"@flowgate_news","text":"hi"})"},
        {"quotes and newlines escaped",
         out("telegram:42", "a \"b\"\nc"),
         R"({"chat_id":42,"text":"a \"b\"\nc"})"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const auto req = h.build_send(c.message);
        EXPECT_EQ(req.method, "POST");
        EXPECT_EQ(req.url, "https://api.telegram.org/bot" + bot_token + "/sendMessage");
        EXPECT_EQ(find_header(req.headers, "content-type"), "application/json");
        EXPECT_EQ(req.body, c.body);
    }

    channel_settings s = settings();
    s.values["api_base"] = "http://127.0.0.1:9001/";
    EXPECT_EQ(telegram_handler(s).build_send(out("telegram:1", "x")).url,
              "http://127.0.0.1:9001/bot" + bot_token + "/sendMessage");
}

struct response_case {
    const char* label;
    int status;
    std::vector<http_header> headers;
    std::string body;
    send_error error;
    std::string provider_id;
    std::optional<std::chrono::seconds> retry_after = std::nullopt;
};

TEST(telegram, classifies_send_responses) {
    const telegram_handler h(settings());
    const auto m = out("telegram:1111111", "hi");
    const std::vector<response_case> cases = {
        {"sent",
         200,
         {},
         R"({"ok":true,"result":{"message_id":1367,"from":{"id":123456,"is_bot":true},"chat":{"id":1111111,"type":"private"},"date":1,"text":"hi"}})",
         send_error::none,
         "1111111:1367"},
        {"sent, chat missing from the answer",
         200,
         {},
         R"({"ok":true,"result":{"message_id":1368}})",
         send_error::none,
         "1111111:1368"},
        {"ok without a message", 200, {}, R"({"ok":true,"result":true})", send_error::bad_response, ""},
        {"200 not JSON", 200, {}, "<html>", send_error::bad_response, ""},
        {"chat not found",
         400,
         {},
         R"({"ok":false,"error_code":400,"description":"Bad Request: chat not found"})",
         send_error::invalid_message,
         ""},
        {"message too long",
         400,
         {},
         R"({"ok":false,"error_code":400,"description":"Bad Request: message is too long"})",
         send_error::invalid_message,
         ""},
        {"revoked token",
         401,
         {},
         R"({"ok":false,"error_code":401,"description":"Unauthorized"})",
         send_error::config,
         ""},
        {"unknown token",
         404,
         {},
         R"({"ok":false,"error_code":404,"description":"Not Found"})",
         send_error::config,
         ""},
        {"blocked by the user",
         403,
         {},
         R"({"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"})",
         send_error::contact_stopped,
         ""},
        {"user deactivated",
         403,
         {},
         R"({"ok":false,"error_code":403,"description":"Forbidden: user is deactivated"})",
         send_error::contact_stopped,
         ""},
        {"never started the bot",
         403,
         {},
         R"({"ok":false,"error_code":403,"description":"Forbidden: bot can't initiate conversation with a user"})",
         send_error::invalid_message,
         ""},
        {"429 with parameters.retry_after",
         429,
         {},
         R"({"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5","parameters":{"retry_after":5}})",
         send_error::throttled,
         "",
         5s},
        {"parameters win over the header",
         429,
         {{"Retry-After", "9"}},
         R"({"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5","parameters":{"retry_after":5}})",
         send_error::throttled,
         "",
         5s},
        {"429 with only Retry-After", 429, {{"Retry-After", "7"}}, "", send_error::throttled, "", 7s},
        {"429 with nothing", 429, {}, "", send_error::throttled, ""},
        {"200 with ok=false and error_code 429",
         200,
         {},
         R"({"ok":false,"error_code":429,"parameters":{"retry_after":3}})",
         send_error::throttled,
         "",
         3s},
        {"500",
         500,
         {},
         R"({"ok":false,"error_code":500,"description":"Internal Server Error"})",
         send_error::server_error,
         ""},
        {"502 from a proxy", 502, {}, "<html>bad gateway</html>", send_error::server_error, ""},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const auto r = h.parse_send_response(m, {c.status, c.headers, c.body});
        EXPECT_EQ(r.error, c.error) << to_string(r.error);
        EXPECT_EQ(r.provider_id, c.provider_id);
        EXPECT_EQ(r.retry_after, c.retry_after);
        EXPECT_EQ(r.detail.find(bot_token), std::string::npos);
    }
}

// The parts of split_text, joined, are the text; each is valid UTF-8 within the limit.
std::size_t utf16_units(std::string_view s) {
    std::size_t n = 0;
    for (unsigned char c : s) {
        if ((c & 0xc0) != 0x80) {
            n += c >= 0xf0 ? 2 : 1;
        }
    }
    return n;
}

struct split_case {
    const char* label;
    std::string text;
    std::size_t max;
    std::vector<std::string> parts;
};

TEST(telegram, split_text) {
    const std::string emoji = "😀";  // 4 UTF-8 bytes, 2 UTF-16 units
    const std::vector<split_case> cases = {
        {"empty", "", 10, {}},
        {"fits", "hello", 5, {"hello"}},
        {"breaks after the last space that fits", "hello world again", 12, {"hello world ", "again"}},
        {"breaks after a line break", "1 Amman\n2 Irbid", 9, {"1 Amman\n", "2 Irbid"}},
        {"no space: cut between characters", "abcdefgh", 3, {"abc", "def", "gh"}},
        {"Arabic (2-byte) never cut inside a letter", "مرحباً", 4, {"مرحب", "اً"}},
        {"Arabic words", "أهلا وسهلا بكم", 11, {"أهلا وسهلا ", "بكم"}},
        {"emoji counts two", "ab" + emoji + "cd", 3, {"ab", emoji + "c", "d"}},
        {"emoji alone under a limit of one still goes", emoji + emoji, 1, {emoji, emoji}},
        {"invalid bytes count one each",
         "a\xff\xfe"
         "b",
         2,
         {"a\xff",
          "\xfe"
          "b"}},
        {"truncated sequence kept", "ab\xd8", 2, {"ab", "\xd8"}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        EXPECT_EQ(split_text(c.text, c.max), c.parts);
    }
}

TEST(telegram, split_text_for_the_4096_limit) {
    // 5000 Arabic letters in words of five: two valid parts within the limit, nothing lost.
    std::string text;
    while (utf16_units(text) < 5000) {
        text += "مرحبا ";
    }
    text += "😀😀😀";
    const auto parts = split_text(text, telegram_handler::max_text_chars);
    ASSERT_EQ(parts.size(), 2u);
    std::string joined;
    for (const auto& p : parts) {
        EXPECT_TRUE(is_valid_utf8(p));
        EXPECT_LE(utf16_units(p), telegram_handler::max_text_chars);
        joined += p;
    }
    EXPECT_EQ(joined, text);
    EXPECT_EQ(parts[0].back(), ' ');

    // Without spaces the cut falls between whole characters, as full as the limit allows.
    const std::string wall(3000 * 2, 'x');
    std::string emojis;
    for (int i = 0; i < 3000; ++i) {
        emojis += "😀";
    }
    const auto emoji_parts = split_text(emojis, telegram_handler::max_text_chars);
    ASSERT_EQ(emoji_parts.size(), 2u);
    EXPECT_EQ(utf16_units(emoji_parts[0]), 4096u);
    EXPECT_EQ(emoji_parts[0].size(), 2048u * 4);
    EXPECT_TRUE(is_valid_utf8(emoji_parts[1]));
    EXPECT_EQ(split_text(wall, 4096).front().size(), 4096u);
}

TEST(telegram, a_long_text_is_one_request_for_the_sender_to_split_first) {
    const telegram_handler h(settings());
    const std::string text(5000, 'a');
    const auto req = h.build_send(out("telegram:1", text));
    EXPECT_EQ(nlohmann::json::parse(req.body)["text"], text);
}

TEST(telegram, is_registered_with_its_settings) {
    const auto* t = find_handler_type("telegram");
    ASSERT_NE(t, nullptr);
    ASSERT_EQ(t->settings.size(), 3u);
    EXPECT_EQ(t->settings[0].name, "bot_token");
    EXPECT_EQ(t->settings[0].type, setting_spec::kind::secret);
    EXPECT_TRUE(t->settings[0].required);
    EXPECT_EQ(t->settings[1].name, "secret_token");
    EXPECT_EQ(t->settings[1].type, setting_spec::kind::secret);
    EXPECT_TRUE(t->settings[1].required);
    EXPECT_EQ(t->settings[2].name, "api_base");
    EXPECT_EQ(t->settings[2].type, setting_spec::kind::url);
    EXPECT_FALSE(t->settings[2].required);
    EXPECT_NE(t->make(settings()), nullptr);
}

}  // namespace
}  // namespace flowgate::handlers
