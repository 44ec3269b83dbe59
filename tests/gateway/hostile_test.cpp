// Hostile HTTP against the real flowgate binary on loopback: limits decided from the header,
// lying lengths, request smuggling, wrong content types, slowloris, connection caps, the per-address
// rate limit, and the HTTPS-only option (docs/security.md, "Hostile HTTP").
//
// Clients come from several loopback addresses (127.0.0.2, 127.0.0.3, ...: all of 127.0.0.0/8 is
// this machine on Linux), so the per-address limits see an attacker apart from a provider.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <stdexcept>
#include <thread>

#include "config/config.hpp"
#include "gateway/sqlite.hpp"
#include "handlers/external.hpp"
#include "tests/support/http.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sample_flows.hpp"

namespace flowgate {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

const std::string secret = "hostile-secret";

// A blocking TCP client socket from a chosen loopback address, with a receive timeout so a test
// that goes wrong fails instead of hanging.
class client_socket {
   public:
    client_socket(std::uint16_t port, const std::string& from = "127.0.0.1") {
        fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) {
            throw std::runtime_error("socket failed");
        }
        sockaddr_in local{};
        local.sin_family = AF_INET;
        inet_pton(AF_INET, from.c_str(), &local.sin_addr);
        if (bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
            throw std::runtime_error("bind failed");
        }
        sockaddr_in remote{};
        remote.sin_family = AF_INET;
        remote.sin_port = htons(port);
        inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr);
        if (connect(fd_, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0) {
            throw std::runtime_error("connect failed");
        }
        timeval tv{30, 0};
        setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    ~client_socket() { close(fd_); }
    client_socket(const client_socket&) = delete;
    client_socket& operator=(const client_socket&) = delete;

    int fd() const { return fd_; }

    // False once the server has closed the connection.
    bool send_all(std::string_view bytes) {
        while (!bytes.empty()) {
            const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n <= 0) {
                return false;
            }
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    // Everything until the server closes (or the receive timeout).
    std::string read_to_close() {
        std::string out = std::exchange(pending_, {});
        char buf[4096];
        for (;;) {
            const ssize_t n = recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) {
                break;
            }
            out.append(buf, static_cast<std::size_t>(n));
        }
        return out;
    }

    // One response's head and body (by its Content-Length), leaving the connection open.
    std::string read_response() {
        while (pending_.find("\r\n\r\n") == std::string::npos && fill()) {
        }
        const auto end = pending_.find("\r\n\r\n");
        if (end == std::string::npos) {
            return std::exchange(pending_, {});
        }
        std::size_t length = 0;
        std::smatch m;
        const std::string head = pending_.substr(0, end);
        if (std::regex_search(head, m, std::regex("Content-Length: ([0-9]+)", std::regex::icase))) {
            length = std::stoul(m[1].str());
        }
        while (pending_.size() < end + 4 + length && fill()) {
        }
        const std::string out = pending_.substr(0, std::min(pending_.size(), end + 4 + length));
        pending_.erase(0, out.size());
        return out;
    }

    // Whether the server has closed its side: true when a read finds the end of the stream.
    bool closed_by_server() {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, 0) <= 0) {
            return false;
        }
        char c;
        const ssize_t n = recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
    }

   private:
    bool fill() {
        char buf[4096];
        const ssize_t n = recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) {
            return false;
        }
        pending_.append(buf, static_cast<std::size_t>(n));
        return true;
    }

    int fd_ = -1;
    std::string pending_;
};

int status_of(const std::string& response) {
    if (response.rfind("HTTP/1.1 ", 0) != 0 || response.size() < 12) {
        return 0;
    }
    return std::stoi(response.substr(9, 3));
}

std::string signed_post(const std::string& target, const std::string& body, bool close = true) {
    return "POST " + target + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
           "X-Flowgate-Signature: " + handlers::external_handler::signature(secret, body) + "\r\n" +
           (close ? "Connection: close\r\n" : "") + "Content-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body;
}

std::string message_body(const std::string& id, const std::string& text = "hello") {
    return json{{"id", id}, {"from", "+962791234567"}, {"text", text}}.dump();
}

// One request on a fresh connection from `from`; the whole answer.
std::string roundtrip(std::uint16_t port, const std::string& bytes, const std::string& from = "127.0.0.1") {
    client_socket s(port, from);
    s.send_all(bytes);
    return s.read_to_close();
}

// Polls /metrics (from 127.0.0.1) until `line` is there; the last page read.
std::string wait_for_metric(std::uint16_t port,
                            const std::string& line,
                            std::chrono::seconds deadline = 30s) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    std::string page;
    do {
        page = test::request(port, "GET", "/metrics").body;
        if (page.find(line) != std::string::npos) {
            break;
        }
        std::this_thread::sleep_for(100ms);
    } while (std::chrono::steady_clock::now() < until);
    return page;
}

class hostile_test : public ::testing::Test {
   protected:
    void SetUp() override {
        dir.write("secret", secret + "\n");
        dir.write("signup.json", test::signup_flow);
    }

    // The server section merged over test defaults.
    std::string write_config(const json& server) {
        json s = {{"listen", "127.0.0.1:0"}, {"body_limit", 4096}, {"shutdown_grace", "2s"}};
        if (server.is_object()) {
            s.update(server);
        }
        const json cfg = {
            {"server", s},
            {"store", {{"sqlite", dir.file("flowgate.db")}}},
            {"data_key", "none"},
            {"channels",
             {{{"id", "local"},
               {"type", "external"},
               {"send_url", provider.url("/send")},
               {"secret", "file:" + dir.file("secret")}},
              {{"id", "tg"},
               {"type", "telegram"},
               {"bot_token", "file:" + dir.file("secret")},
               {"secret_token", "file:" + dir.file("secret")}}}},
            {"flows", {dir.file("signup.json")}},
        };
        dir.write("config.json", cfg.dump(2));
        return dir.file("config.json");
    }

    std::int64_t count(const std::string& sql) {
        gateway::sqlite::connection db(dir.file("flowgate.db"));
        gateway::sqlite::statement q(db, sql);
        return q.step() ? q.column_int64(0) : -1;
    }

    test::temp_dir dir;
    test::fake_provider provider;
};

// --- limits decided from the header ---------------------------------------------------------------

TEST_F(hostile_test, oversized_header_and_body_are_refused_from_the_header_alone) {
    test::server_process server(write_config({}));
    const auto port = server.port();

    // A header block over server.header_limit (8 KiB by default): 431, then the server closes.
    {
        client_socket s(port);
        s.send_all("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(10000, 'a') + "\r\n\r\n");
        const std::string answer = s.read_to_close();
        EXPECT_EQ(status_of(answer), 431) << answer.substr(0, 200);
        EXPECT_NE(answer.find("Connection: close"), std::string::npos);
    }
    // Many small fields add up the same way.
    {
        std::string many = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
        for (int i = 0; i < 1000; ++i) {
            many += "X-" + std::to_string(i) + ": y\r\n";
        }
        EXPECT_EQ(status_of(roundtrip(port, many + "\r\n")), 431);
    }
    // A Content-Length over the route's limit: 413 with only the header sent. The body is never
    // sent and the socket stays open for writing, so the answer can only come from the header.
    for (const std::string length : {"4097", "1000000000000"}) {
        SCOPED_TRACE(length);
        client_socket s(port);
        s.send_all(
            "POST /c/local/receive HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: " +
            length + "\r\n\r\n");
        const std::string answer = s.read_response();
        EXPECT_EQ(status_of(answer), 413) << answer;
        EXPECT_TRUE(s.read_to_close().empty()) << "the server closes after the 413";
    }
    // Expect: 100-continue is answered 413, not "100 Continue": the client never sends the body.
    {
        client_socket s(port);
        s.send_all(
            "POST /c/local/receive HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Expect: 100-continue\r\nContent-Length: 5000\r\n\r\n");
        EXPECT_EQ(status_of(s.read_response()), 413);
    }
    // At the limit exactly is fine (the signature check then answers).
    EXPECT_EQ(
        status_of(roundtrip(port,
                            "POST /c/local/receive HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            "Connection: close\r\nContent-Length: 4096\r\n\r\n" +
                                std::string(4096, ' '))),
        403);
    // The contacts import keeps its own larger limit: its header alone is not refused.
    {
        client_socket s(port);
        s.send_all(
            "POST /api/v1/contacts/import HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
            "Content-Length: 100000\r\n\r\n");
        s.send_all(std::string(100000, 'a'));
        EXPECT_EQ(status_of(s.read_response()), 401) << "refused for its missing token, not its size";
    }
    EXPECT_EQ(test::request(port, "GET", "/healthz").status, 200);
    const std::string metrics = test::request(port, "GET", "/metrics").body;
    EXPECT_NE(metrics.find("flowgate_http_requests_total{route=\"rejected\",status=\"413\"} 3"),
              std::string::npos)
        << metrics;
    EXPECT_NE(metrics.find("flowgate_http_requests_total{route=\"rejected\",status=\"431\"} 2"),
              std::string::npos);
    EXPECT_EQ(server.stop(), 0);
}

TEST_F(hostile_test, chunked_bodies_are_held_to_the_same_limit) {
    test::server_process server(write_config({}));
    const auto port = server.port();
    const std::string head =
        "POST /c/local/receive HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n";
    struct chunk_case {
        const char* label;
        std::string body;
        int status;
    };
    std::string many_small;
    for (int i = 0; i < 10; ++i) {
        many_small += "1f4\r\n" + std::string(500, 'y') + "\r\n";  // 5000 bytes in 500-byte chunks
    }
    const std::vector<chunk_case> cases = {
        {"small chunks adding up over the limit", many_small + "0\r\n\r\n", 413},
        // Refused from the chunk's size line, before its data.
        {"one chunk declared over the limit", "100000\r\n", 413},
        {"a chunk size that overflows 64 bits", "fffffffffffffffffffff\r\n", 400},
        // A chunk extension that never ends fills the connection's bounded buffer.
        {"an endless chunk extension", "1;ext=" + std::string(200000, 'e'), 400},
        {"a chunk longer than it said", "3\r\nabcdef\r\n0\r\n\r\n", 400},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const std::string answer = roundtrip(port, head + c.body);
        EXPECT_EQ(status_of(answer), c.status) << answer.substr(0, 200);
    }
    EXPECT_EQ(test::request(port, "GET", "/healthz").status, 200);
    EXPECT_EQ(server.stop(), 0);
    EXPECT_EQ(count("SELECT count(*) FROM messages"), 0);
}

// --- lying lengths and smuggling ------------------------------------------------------------------

TEST_F(hostile_test, a_content_length_that_lies_never_mixes_two_requests) {
    test::server_process server(write_config({{"body_timeout", "1s"}}));
    const auto port = server.port();

    // Shorter than it says, then silence: the body deadline closes the connection, unanswered.
    {
        client_socket s(port);
        const std::string body = message_body("short");
        s.send_all(
            "POST /c/local/receive HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "X-Flowgate-Signature: " +
            handlers::external_handler::signature(secret, body) +
            "\r\nContent-Length: " + std::to_string(body.size() + 50) + "\r\n\r\n" + body);
        EXPECT_EQ(s.read_to_close(), "") << "closed by the body deadline, no answer";
    }
    // Longer than it says: the bytes after the body are the next request, and garbage is a 400.
    {
        client_socket s(port);
        s.send_all(signed_post("/c/local/receive", message_body("long", "JOIN"), false) +
                   "{\"text\": \"STOP\"}");
        const std::string first = s.read_response();
        EXPECT_EQ(status_of(first), 200) << first;
        const std::string rest = s.read_to_close();
        EXPECT_EQ(status_of(rest), 400) << rest;
    }
    // Longer, and the extra bytes are a request: it is served as its own request.
    {
        client_socket s(port);
        s.send_all(signed_post("/c/local/receive", message_body("long2"), false) +
                   "GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        EXPECT_EQ(status_of(s.read_response()), 200);
        EXPECT_EQ(status_of(s.read_response()), 404);
    }
    EXPECT_EQ(server.stop(), 0);
    EXPECT_EQ(count("SELECT count(*) FROM messages WHERE direction = 'in'"), 2);
    EXPECT_EQ(count("SELECT count(*) FROM messages WHERE direction = 'in' AND external_id = 'short'"), 0);
}

TEST_F(hostile_test, ambiguous_framing_is_refused_and_closed) {
    test::server_process server(write_config({}));
    const auto port = server.port();
    const std::string start =
        "POST /c/local/receive HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
    struct framing_case {
        const char* label;
        std::string request;
    };
    const std::vector<framing_case> cases = {
        {"Content-Length and Transfer-Encoding",
         start + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
        {"Transfer-Encoding and Content-Length",
         start + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n"},
        {"two different Content-Lengths", start + "Content-Length: 4\r\nContent-Length: 5\r\n\r\n12345"},
        {"a Content-Length list that disagrees", start + "Content-Length: 4, 5\r\n\r\n12345"},
        {"a negative Content-Length", start + "Content-Length: -1\r\n\r\n"},
        {"a Transfer-Encoding other than chunked",
         start + "Transfer-Encoding: gzip\r\n\r\nGET / HTTP/1.1\r\n\r\n"},
        {"chunked twice", start + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"},
        {"a space before the colon", start + "Content-Length : 4\r\n\r\nabcd"},
        {"a bare LF line end", "GET /healthz HTTP/1.1\nHost: x\n\n"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const std::string answer = roundtrip(port, c.request);
        EXPECT_EQ(status_of(answer), 400) << answer.substr(0, 200);
        // One answer, then the connection is closed: nothing after the refused request is served.
        EXPECT_EQ(answer.find("HTTP/1.1", 1), std::string::npos) << answer;
    }
    EXPECT_EQ(test::request(port, "GET", "/healthz").status, 200);
    EXPECT_EQ(server.stop(), 0);
    EXPECT_EQ(count("SELECT count(*) FROM messages"), 0);
}

// --- content types --------------------------------------------------------------------------------

TEST_F(hostile_test, a_wrong_content_type_is_415_before_any_handler_reads_the_body) {
    test::server_process server(write_config({}));
    const auto port = server.port();
    struct type_case {
        const char* label;
        std::string target;
        std::string content_type;  // "" : none
        int status;
    };
    const std::vector<type_case> cases = {
        {"external, text/plain", "/c/local/receive", "text/plain", 415},
        {"external, none", "/c/local/receive", "", 415},
        {"external, XML", "/c/local/status", "application/xml", 415},
        {"external, multipart", "/c/local/receive", "multipart/form-data; boundary=x", 415},
        {"external, JSON with a charset (signature then refused)",
         "/c/local/receive",
         "application/json; charset=utf-8",
         403},
        {"external, upper-case JSON", "/c/local/receive", "Application/JSON", 403},
        {"telegram, text/plain (was read as JSON)", "/c/tg/receive", "text/plain", 415},
        {"telegram, JSON (secret token then refused)", "/c/tg/receive", "application/json", 403},
        {"API, text/plain", "/api/v1/workshops", "text/plain", 401},  // the token is checked first
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        std::map<std::string, std::string> headers;
        if (!c.content_type.empty()) {
            headers["Content-Type"] = c.content_type;
        }
        const auto r = test::request(port, "POST", c.target, R"({"id": "x"})", headers);
        EXPECT_EQ(r.status, c.status);
        if (c.status == 415) {
            EXPECT_EQ(r.body, R"({"error":"unsupported content type"})");
        }
    }
    EXPECT_EQ(server.stop(), 0);
    EXPECT_EQ(count("SELECT count(*) FROM messages"), 0);
}

// --- slowloris --------------------------------------------------------------------------------------

// Sockets that send a request header one byte at a time, a round every few milliseconds, until
// the server closes each of them (or the deadline, which fails the test).
struct slow_clients {
    std::vector<std::unique_ptr<client_socket>> sockets;
    std::vector<std::size_t> sent;
    std::vector<bool> closed;
    std::string header;

    slow_clients(std::uint16_t port, std::size_t n, const std::vector<std::string>& from) {
        header = "POST /c/local/receive HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(6000, 'p');
        for (std::size_t i = 0; i < n; ++i) {
            sockets.push_back(std::make_unique<client_socket>(port, from[i % from.size()]));
        }
        sent.assign(n, 0);
        closed.assign(n, false);
    }

    // One byte on every open socket; returns how many are still open.
    std::size_t round() {
        std::size_t open = 0;
        for (std::size_t i = 0; i < sockets.size(); ++i) {
            if (closed[i]) {
                continue;
            }
            if (sockets[i]->closed_by_server()) {
                closed[i] = true;
                continue;
            }
            if (sent[i] < header.size() &&
                ::send(sockets[i]->fd(), header.data() + sent[i], 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1) {
                ++sent[i];
            }
            ++open;
        }
        return open;
    }

    std::size_t run_until_all_closed(std::chrono::seconds deadline) {
        const auto until = std::chrono::steady_clock::now() + deadline;
        std::size_t open = sockets.size();
        while (open > 0 && std::chrono::steady_clock::now() < until) {
            open = round();
            std::this_thread::sleep_for(20ms);  // the attack's pace, not a synchronisation
        }
        return open;
    }
};

TEST_F(hostile_test, slowloris_from_many_addresses_is_cut_by_the_header_deadline_while_webhooks_succeed) {
    test::server_process server(write_config({{"header_timeout", "3s"}, {"per_ip_exempt", json::array()}}));
    const auto port = server.port();
    // 300 slow sockets from ten addresses: 30 each, under the per-address cap (64), so only the
    // header deadline can end them.
    std::vector<std::string> attackers;
    for (int i = 2; i <= 11; ++i) {
        attackers.push_back("127.0.0." + std::to_string(i));
    }
    slow_clients slow(port, 300, attackers);
    EXPECT_EQ(slow.round(), 300u) << "every slow socket was let in";

    // Meanwhile a provider's genuine webhooks, each on its own connection, all succeed.
    std::atomic<int> ok{0};
    std::atomic<bool> done{false};
    std::atomic<std::size_t> open_at_end{0};
    std::thread provider_thread([&] {
        for (int i = 0; i < 40; ++i) {
            const std::string answer =
                roundtrip(port, signed_post("/c/local/receive", message_body("g" + std::to_string(i))));
            ok += status_of(answer) == 200 ? 1 : 0;
        }
        done = true;
    });
    const auto until = std::chrono::steady_clock::now() + 60s;
    std::size_t still_open = slow.sockets.size();
    while ((still_open > 0 || !done) && std::chrono::steady_clock::now() < until) {
        still_open = slow.round();
        if (!done) {
            open_at_end = still_open;
        }
        std::this_thread::sleep_for(20ms);  // the attack's pace, not a synchronisation
    }
    provider_thread.join();
    std::cout << "[ figures  ] the 40 webhooks finished with " << open_at_end
              << " of 300 slow sockets open\n";
    EXPECT_EQ(ok.load(), 40);
    EXPECT_EQ(still_open, 0u) << "the header deadline closes every slow socket";
    for (std::size_t i = 0; i < slow.sent.size(); ++i) {
        ASSERT_LT(slow.sent[i], slow.header.size()) << "a slow header was never completed";
    }
    const std::string metrics =
        wait_for_metric(port, "flowgate_http_connections_dropped_total{reason=\"header_timeout\"} 300");
    EXPECT_NE(metrics.find("flowgate_http_connections_dropped_total{reason=\"header_timeout\"} 300"),
              std::string::npos)
        << metrics;
    EXPECT_EQ(server.stop(), 0);
    EXPECT_EQ(count("SELECT count(*) FROM messages WHERE direction = 'in'"), 40);
}

TEST_F(hostile_test, slowloris_from_one_address_is_held_to_its_connection_cap) {
    test::server_process server(write_config(
        {{"header_timeout", "3s"}, {"max_connections_per_ip", 64}, {"per_ip_exempt", json::array()}}));
    const auto port = server.port();
    slow_clients slow(port, 300, {"127.0.0.2"});
    // 64 are let in; the other 236 are closed as soon as they are accepted.
    const std::string metrics = wait_for_metric(
        port, "flowgate_http_connections_dropped_total{reason=\"max_connections_per_ip\"} 236");
    EXPECT_NE(metrics.find("flowgate_http_connections_dropped_total{reason=\"max_connections_per_ip\"} 236"),
              std::string::npos)
        << metrics;
    // Another address is not held back by them.
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(
            status_of(roundtrip(
                port, signed_post("/c/local/receive", message_body("p" + std::to_string(i))), "127.0.0.3")),
            200);
    }
    EXPECT_EQ(slow.run_until_all_closed(60s), 0u);
    EXPECT_NE(wait_for_metric(port, "flowgate_http_connections_dropped_total{reason=\"header_timeout\"} 64")
                  .find("{reason=\"header_timeout\"} 64"),
              std::string::npos);
    EXPECT_EQ(server.stop(), 0);
}

// --- connection caps --------------------------------------------------------------------------------

TEST_F(hostile_test, over_the_global_cap_new_connections_close_at_once_and_those_in_progress_finish) {
    test::server_process server(
        write_config({{"max_connections", 10}, {"header_timeout", "60s"}, {"per_ip_exempt", {"127.0.0.1"}}}));
    const auto port = server.port();
    // Ten connections hold every slot, each with half a request sent.
    std::vector<std::unique_ptr<client_socket>> holding;
    for (int i = 0; i < 10; ++i) {
        holding.push_back(std::make_unique<client_socket>(port, "127.0.0." + std::to_string(2 + i)));
        holding.back()->send_all("GET /healthz HTTP/1.1\r\nHost: x\r\n");
    }
    // The eleventh, from anywhere (an exempt address too), is closed without a byte read or sent.
    for (const std::string from : {"127.0.0.20", "127.0.0.1"}) {
        client_socket extra(port, from);
        EXPECT_EQ(extra.read_to_close(), "");
    }
    // Those in progress are served.
    for (auto& s : holding) {
        s->send_all("Connection: close\r\n\r\n");
        EXPECT_EQ(status_of(s->read_to_close()), 200);
    }
    holding.clear();
    // Their slots come back (the server forgets a connection as it closes it).
    int status = 0;
    for (int attempt = 0; attempt < 100 && status != 200; ++attempt) {
        status = test::request(port, "GET", "/healthz").status;
        if (status != 200) {
            std::this_thread::sleep_for(50ms);
        }
    }
    EXPECT_EQ(status, 200);
    const std::string metrics = test::request(port, "GET", "/metrics").body;
    EXPECT_NE(metrics.find("flowgate_http_connections_dropped_total{reason=\"max_connections\"} 2"),
              std::string::npos)
        << metrics;
    EXPECT_EQ(server.stop(), 0);
}

// --- the rate limit ---------------------------------------------------------------------------------

TEST_F(hostile_test, rate_limit_answers_429_but_never_to_webhooks_or_exempt_addresses) {
    // Five at once, then one every 100 s: the sixth request is refused however slow the test runs.
    test::server_process server(write_config({{"rate_limit", {{"per_second", 0.01}, {"burst", 5}}},
                                              {"per_ip_exempt", {"127.0.0.3", "10.0.0.0/8"}}}));
    const auto port = server.port();
    const std::string get = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(status_of(roundtrip(port, get, "127.0.0.2")), 200);
    }
    const std::string refused = roundtrip(port, get, "127.0.0.2");
    EXPECT_EQ(status_of(refused), 429) << refused;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(refused, m, std::regex("Retry-After: ([0-9]+)"))) << refused;
    EXPECT_GE(std::stoi(m[1].str()), 1);
    // Unknown paths, the API and the dashboard count too; a body announced is never read.
    EXPECT_EQ(status_of(roundtrip(port, "GET /wp-login.php HTTP/1.1\r\nHost: x\r\n\r\n", "127.0.0.2")), 429);
    EXPECT_EQ(
        status_of(roundtrip(port,
                            "POST /api/v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            "Content-Length: 100000\r\n\r\n",
                            "127.0.0.2")),
        429);
    // The same address's webhooks, and their failures, are never limited.
    for (int i = 0; i < 20; ++i) {
        EXPECT_EQ(
            status_of(roundtrip(
                port, signed_post("/c/local/receive", message_body("w" + std::to_string(i))), "127.0.0.2")),
            200);
        EXPECT_EQ(status_of(roundtrip(
                      port,
                      "POST /c/local/receive HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "X-Flowgate-Signature: sha256=00\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
                      "127.0.0.2")),
                  403);
    }
    // Another address has its own bucket; an exempt one has none.
    EXPECT_EQ(status_of(roundtrip(port, get, "127.0.0.4")), 200);
    for (int i = 0; i < 20; ++i) {
        EXPECT_EQ(status_of(roundtrip(port, get, "127.0.0.3")), 200);
    }
    const std::string metrics =
        roundtrip(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "127.0.0.3");
    EXPECT_NE(metrics.find("flowgate_http_requests_total{route=\"rejected\",status=\"429\"} 3"),
              std::string::npos)
        << metrics;
    EXPECT_EQ(server.stop(), 0);
    EXPECT_EQ(count("SELECT count(*) FROM messages WHERE direction = 'in'"), 20);
}

// --- config -----------------------------------------------------------------------------------------

config::environment files(std::map<std::string, std::string> content) {
    return {[](const std::string&) -> std::optional<std::string> { return std::nullopt; },
            [content](const std::string& path) -> std::optional<std::string> {
                const auto it = content.find(path);
                return it == content.end() ? std::nullopt : std::optional(it->second);
            }};
}

// --- TLS --------------------------------------------------------------------------------------------

struct key_pair {
    std::string certificate;
    std::string key;
};

// A self-signed certificate for 127.0.0.1 with a new key, made with the OpenSSL API.
key_pair self_signed(int rsa_bits = 2048) {
    EVP_PKEY* key = EVP_RSA_gen(static_cast<unsigned>(rsa_bits));
    X509* cert = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(
        name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509_sign(cert, key, EVP_sha256());
    const auto pem = [](auto write) {
        BIO* bio = BIO_new(BIO_s_mem());
        write(bio);
        char* data = nullptr;
        const long n = BIO_get_mem_data(bio, &data);
        std::string out(data, static_cast<std::size_t>(n));
        BIO_free(bio);
        return out;
    };
    key_pair out{pem([&](BIO* b) { PEM_write_bio_X509(b, cert); }), pem([&](BIO* b) {
                     PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
                 })};
    X509_free(cert);
    EVP_PKEY_free(key);
    return out;
}

TEST_F(hostile_test, server_config_keys_are_validated) {
    const key_pair good = self_signed();
    const key_pair other = self_signed();
    const key_pair weak = self_signed(1024);
    const auto env = files({{"cert.pem", good.certificate},
                            {"key.pem", good.key},
                            {"other-key.pem", other.key},
                            {"weak-cert.pem", weak.certificate},
                            {"weak-key.pem", weak.key},
                            {"junk.pem", "not a certificate"}});
    const json channels = {{{"id", "local"}, {"type", "external"}, {"send_url", "http://127.0.0.1:9/send"}}};
    struct config_case {
        const char* label;
        json server;
        std::string problem;  // "" : valid
    };
    const std::vector<config_case> cases = {
        {"defaults", json::object(), ""},
        {"every key",
         {{"max_connections", 100},
          {"max_connections_per_ip", 0},
          {"rate_limit", {{"per_second", 0.5}, {"burst", 10}}},
          {"per_ip_exempt", {"10.0.0.0/8", "2001:db8::/32", "192.0.2.7"}},
          {"tls", {{"certificate", "file:cert.pem"}, {"key", "file:key.pem"}}}},
         ""},
        {"no connections at all",
         {{"max_connections", 0}},
         "/server/max_connections: must be an integer from 1"},
        {"a negative rate",
         {{"rate_limit", {{"per_second", -1}}}},
         "/server/rate_limit/per_second: must be a number"},
        {"a zero burst",
         {{"rate_limit", {{"burst", 0}}}},
         "/server/rate_limit/burst: must be an integer from 1"},
        {"a typo in rate_limit",
         {{"rate_limit", {{"per_sec", 1}}}},
         "/server/rate_limit/per_sec: unknown key"},
        {"a bad range",
         {{"per_ip_exempt", {"10.0.0.0/33"}}},
         "/server/per_ip_exempt/0: must be an IP address"},
        {"a host name",
         {{"per_ip_exempt", {"provider.example"}}},
         "/server/per_ip_exempt/0: must be an IP address"},
        {"no key", {{"tls", {{"certificate", "file:cert.pem"}}}}, "/server/tls/key: is required"},
        {"a literal certificate",
         {{"tls", {{"certificate", "-----BEGIN"}, {"key", "file:key.pem"}}}},
         "/server/tls/certificate: must be \"file:PATH\""},
        {"a missing file",
         {{"tls", {{"certificate", "file:nope.pem"}, {"key", "file:key.pem"}}}},
         "/server/tls/certificate: cannot read secret file nope.pem"},
        {"not PEM",
         {{"tls", {{"certificate", "file:junk.pem"}, {"key", "file:key.pem"}}}},
         "/server/tls/certificate: is not a PEM certificate"},
        {"another certificate's key",
         {{"tls", {{"certificate", "file:cert.pem"}, {"key", "file:other-key.pem"}}}},
         "/server/tls/key: does not match the certificate"},
        {"a weak key",
         {{"tls", {{"certificate", "file:weak-cert.pem"}, {"key", "file:weak-key.pem"}}}},
         "/server/tls/key: is too weak"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        json doc = {{"server", c.server},
                    {"store", {{"sqlite", "x.db"}}},
                    {"data_key", "none"},
                    {"channels", channels}};
        const auto out = config::load_text("cfg.json", doc.dump(), env);
        std::string all;
        for (const auto& d : out.errors) {
            all += d.to_string() + "\n";
        }
        if (c.problem.empty()) {
            EXPECT_TRUE(out.errors.empty()) << all;
        } else {
            EXPECT_NE(all.find("cfg.json: " + c.problem), std::string::npos) << all;
        }
    }
    // What the keys mean once loaded.
    json doc = {{"server", {{"per_ip_exempt", {"10.0.0.0/8", "2001:db8::/32"}}}},
                {"store", {{"sqlite", "x.db"}}},
                {"data_key", "none"},
                {"channels", channels}};
    const auto out = config::load_text("cfg.json", doc.dump(), env);
    ASSERT_TRUE(out.loaded);
    const auto& nets = out.loaded->server.per_ip_exempt;
    ASSERT_EQ(nets.size(), 2u);
    const unsigned char in4[4] = {10, 1, 2, 3}, out4[4] = {11, 1, 2, 3};
    unsigned char in6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    EXPECT_TRUE(nets[0].contains(in4, 4));
    EXPECT_FALSE(nets[0].contains(out4, 4));
    EXPECT_TRUE(nets[1].contains(in6, 16));
    EXPECT_FALSE(nets[1].contains(in4, 4));
    in6[3] = 0xb9;
    EXPECT_FALSE(nets[1].contains(in6, 16));
    EXPECT_FALSE(config::server_config{}.tls) << "plain HTTP unless TLS is configured";
}

// A TLS client with exactly the versions and suites a case asks for.
struct tls_outcome {
    bool connected = false;
    int version = 0;
    std::string cipher;
    bool compressed = false;
    std::string answer;  // the response to one request, when connected
    bool renegotiated = false;
};

tls_outcome tls_request(std::uint16_t port,
                        int min_version,
                        int max_version,
                        const std::string& tls12_ciphers = "",
                        bool try_renegotiation = false) {
    tls_outcome out;
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    // Level 0 lets this client offer what a modern default refuses to, so the refusal is the server's.
    SSL_CTX_set_security_level(ctx, 0);
    SSL_CTX_set_min_proto_version(ctx, min_version);
    SSL_CTX_set_max_proto_version(ctx, max_version);
    if (!tls12_ciphers.empty() &&
        SSL_CTX_set_cipher_list(ctx, (tls12_ciphers + ":@SECLEVEL=0").c_str()) != 1) {
        SSL_CTX_free(ctx);
        throw std::runtime_error("this OpenSSL does not know " + tls12_ciphers);
    }
    client_socket s(port);
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, s.fd());
    if (SSL_connect(ssl) == 1) {
        out.connected = true;
        out.version = SSL_version(ssl);
        out.cipher = SSL_get_cipher_name(ssl);
        out.compressed = SSL_get_current_compression(ssl) != nullptr;
        if (try_renegotiation) {
            out.renegotiated = SSL_renegotiate(ssl) == 1 && SSL_do_handshake(ssl) == 1;
        }
        const std::string req = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        if (SSL_write(ssl, req.data(), static_cast<int>(req.size())) > 0) {
            char buf[4096];
            int n;
            while ((n = SSL_read(ssl, buf, sizeof buf)) > 0) {
                out.answer.append(buf, static_cast<std::size_t>(n));
            }
        }
    }
    ERR_clear_error();
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    return out;
}

TEST_F(hostile_test, tls_speaks_only_tls_1_2_and_1_3_with_forward_secret_aead_suites) {
    const key_pair kp = self_signed();
    dir.write("cert.pem", kp.certificate);
    dir.write("key.pem", kp.key);
    test::server_process server(write_config(
        {{"tls",
          {{"certificate", "file:" + dir.file("cert.pem")}, {"key", "file:" + dir.file("key.pem")}}}}));
    const auto port = server.port();
    EXPECT_NE(server.log().find("listening on https://127.0.0.1:"), std::string::npos) << server.log();

    const auto v13 = tls_request(port, TLS1_3_VERSION, TLS1_3_VERSION);
    ASSERT_TRUE(v13.connected);
    EXPECT_EQ(v13.version, TLS1_3_VERSION);
    EXPECT_EQ(status_of(v13.answer), 200) << v13.answer;
    EXPECT_FALSE(v13.compressed);

    const auto v12 = tls_request(port, TLS1_2_VERSION, TLS1_2_VERSION);
    ASSERT_TRUE(v12.connected);
    EXPECT_EQ(v12.version, TLS1_2_VERSION);
    EXPECT_EQ(status_of(v12.answer), 200);
    EXPECT_TRUE(std::regex_match(v12.cipher,
                                 std::regex("ECDHE-RSA-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)")))
        << v12.cipher;
    EXPECT_FALSE(v12.compressed);

    // Every forward-secret AEAD suite for an RSA key is offered; each alone is accepted.
    for (const std::string good :
         {"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305"}) {
        SCOPED_TRACE(good);
        const auto r = tls_request(port, TLS1_2_VERSION, TLS1_2_VERSION, good);
        EXPECT_TRUE(r.connected);
        EXPECT_EQ(r.cipher, good);
    }

    // Older protocols are refused.
    for (const int old : {TLS1_1_VERSION, TLS1_VERSION}) {
        SCOPED_TRACE(old);
        EXPECT_FALSE(tls_request(port, old, old).connected);
    }
    // So is every suite without forward secrecy or without authenticated encryption.
    for (const std::string weak : {"AES128-GCM-SHA256",
                                   "AES256-SHA256",
                                   "AES128-SHA",
                                   "ECDHE-RSA-AES128-SHA",
                                   "ECDHE-RSA-AES256-SHA384",
                                   "DHE-RSA-AES128-GCM-SHA256",
                                   "DES-CBC3-SHA"}) {
        SCOPED_TRACE(weak);
        bool known = true;
        tls_outcome r;
        try {
            r = tls_request(port, TLS1_2_VERSION, TLS1_2_VERSION, weak);
        } catch (const std::exception&) {
            known = false;  // this OpenSSL build does not even have the suite
        }
        EXPECT_FALSE(known && r.connected) << r.cipher;
    }
    // A TLS 1.2 client asking to renegotiate is refused.
    const auto reneg = tls_request(port, TLS1_2_VERSION, TLS1_2_VERSION, "", true);
    EXPECT_TRUE(reneg.connected);
    EXPECT_FALSE(reneg.renegotiated);

    // Plain HTTP to the TLS port is told so, in plain text, and closed.
    const std::string plain = roundtrip(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(status_of(plain), 400) << plain;
    EXPECT_NE(plain.find("this port speaks HTTPS"), std::string::npos);
    // Garbage that is neither is just closed.
    EXPECT_EQ(roundtrip(port, std::string("\x00\x01\x02\x03", 4)), "");

    // The server keeps serving, over TLS only.
    EXPECT_EQ(status_of(tls_request(port, TLS1_2_VERSION, TLS1_3_VERSION).answer), 200);
    EXPECT_EQ(server.stop(), 0);
    const std::string log = server.log();
    EXPECT_EQ(log.find("PRIVATE KEY"), std::string::npos);
}

}  // namespace
}  // namespace flowgate
