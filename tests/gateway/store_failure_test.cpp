// Store failures (docs/security.md, "Store failures"): the real flowgate binary with its database
// on a small tmpfs that a ballast file fills. While the disk is full, webhooks get 503 with
// Retry-After (providers retry), /healthz says the store is in trouble, and the process stays up;
// once space returns it recovers by itself, and every acknowledged message is stored once.
// Mounting needs root (CAP_SYS_ADMIN): elsewhere the test is skipped, saying why.

#include <gtest/gtest.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "gateway/sqlite.hpp"
#include "handlers/external.hpp"
#include "tests/support/http.hpp"
#include "tests/support/process.hpp"

namespace flowgate {
namespace {

using json = nlohmann::json;

const std::string secret = "store-failure-secret";

// A tmpfs of `size` mounted on a fresh directory, unmounted at the end.
class small_disk {
   public:
    explicit small_disk(const std::string& dir, const std::string& size) : path_(dir) {
        std::filesystem::create_directories(path_);
        const std::string options = "size=" + size + ",mode=0700";
        if (::mount("tmpfs", path_.c_str(), "tmpfs", 0, options.c_str()) == 0) {
            mounted_ = true;
        } else {
            error_ = std::strerror(errno);
        }
    }
    ~small_disk() {
        if (mounted_) {
            ::umount2(path_.c_str(), MNT_DETACH);
        }
    }
    bool mounted() const { return mounted_; }
    const std::string& error() const { return error_; }

    // Fills what is left with a ballast file.
    void fill() {
        std::FILE* f = std::fopen((path_ + "/ballast").c_str(), "wb");
        ASSERT_NE(f, nullptr);
        const std::string block(4096, 'x');
        while (std::fwrite(block.data(), 1, block.size(), f) == block.size() && std::fflush(f) == 0) {
        }
        std::fclose(f);
    }
    void free_space() { std::filesystem::remove(path_ + "/ballast"); }

   private:
    std::string path_;
    bool mounted_ = false;
    std::string error_;
};

TEST(store_failure, webhooks_get_503_while_the_disk_is_full_and_nothing_acknowledged_is_lost) {
    test::temp_dir dir;
    small_disk disk(dir.file("disk"), "4m");
    if (!disk.mounted()) {
        GTEST_SKIP() << "cannot mount a tmpfs here (" << disk.error() << "): needs root";
    }
    dir.write("secret", secret + "\n");
    dir.write("echo.json",
              R"({"id": "echo", "language": "en", "nodes": [{"id": "e", "send": "Got @input.text"}]})");
    test::fake_provider provider;
    const json cfg = {
        {"server", {{"listen", "127.0.0.1:0"}, {"shutdown_grace", "5s"}}},
        {"store", {{"sqlite", dir.file("disk/flowgate.db")}}},
        {"data_key", "none"},
        {"default_country", "JO"},
        {"languages", {"en"}},
        {"channels",
         {{{"id", "local"},
           {"type", "external"},
           {"send_url", provider.url("/send")},
           {"secret", "file:" + dir.file("secret")}}}},
        {"flows", {dir.file("echo.json")}},
        {"triggers", {{{"keywords", {"HELLO"}}, {"flow", "echo"}}}},
    };
    dir.write("config.json", cfg.dump());
    test::server_process server(dir.file("config.json"));

    std::set<std::string> acked;
    auto post = [&](int n) {
        const std::string id = "m" + std::to_string(n);
        // A long text: the disk fills in a few hundred messages.
        const std::string body = json{{"id", id},
                                      {"from", "+96279" + std::to_string(1000000 + n % 50)},
                                      {"text", "HELLO " + id + " " + std::string(1500, 'a')}}
                                     .dump();
        const auto res =
            test::request(server.port(),
                          "POST",
                          "/c/local/receive",
                          body,
                          {{"Content-Type", "application/json"},
                           {"X-Flowgate-Signature", handlers::external_handler::signature(secret, body)}});
        if (res.status == 200) {
            acked.insert(id);
        }
        return res;
    };
    ASSERT_EQ(post(0).status, 200);
    ASSERT_EQ(test::request(server.port(), "GET", "/healthz").status, 200);

    disk.fill();
    int n = 1;
    int first_refused = 0;
    for (; n < 3000; ++n) {
        const auto res = post(n);
        if (res.status == 503) {
            EXPECT_EQ(res.headers.count("retry-after"), 1u);
            EXPECT_EQ(res.body.find("HELLO"), std::string::npos);
            first_refused = n;
            break;
        }
        ASSERT_EQ(res.status, 200) << res.body;
    }
    ASSERT_GT(first_refused, 0) << "the full disk never refused a write";
    // More while the disk is full: each refused, the process up and reporting it.
    for (int i = 0; i < 20; ++i) {
        EXPECT_EQ(post(n + 1 + i).status, 503);
    }
    const auto health = test::request(server.port(), "GET", "/healthz");
    EXPECT_EQ(health.status, 503);
    EXPECT_EQ(health.body, "store unavailable\n");

    // Space returns: the same webhooks, retried by their providers, are taken.
    disk.free_space();
    for (int i = first_refused; i <= n + 20; ++i) {
        EXPECT_EQ(post(i).status, 200) << "message " << i;
    }
    EXPECT_EQ(test::request(server.port(), "GET", "/healthz").status, 200);
    EXPECT_EQ(server.stop(), 0) << server.log();

    const auto exported =
        test::run_flowgate({"export", "messages", "--config", dir.file("config.json"), "--format", "json"});
    ASSERT_EQ(exported.exit_code, 0) << exported.output;
    std::map<std::string, int> stored;
    std::size_t replies = 0;
    for (const auto& m : json::parse(exported.output.substr(exported.output.find('[')))) {
        if (m.at("direction") == "in") {
            ++stored[m.at("external_id").get<std::string>()];
        } else {
            ++replies;
        }
    }
    EXPECT_EQ(stored.size(), acked.size());
    for (const auto& id : acked) {
        EXPECT_EQ(stored[id], 1) << id;
    }
    EXPECT_EQ(replies, acked.size()) << "one reply per message, none for a refused attempt";
    gateway::sqlite::connection db(dir.file("disk/flowgate.db"), true);
    gateway::sqlite::statement q(db, "PRAGMA integrity_check");
    ASSERT_TRUE(q.step());
    EXPECT_EQ(q.column_text(0), "ok");
}

}  // namespace
}  // namespace flowgate
