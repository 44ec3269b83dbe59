#pragma once
// Test support: a blocking HTTP client, and a fake provider — a small local HTTP server (the
// gateway's own server class) that records what it receives and answers as a test tells it to.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace flowgate::test {

struct response {
    int status = 0;                              // 0: no answer (connection failed)
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
};

// One request on a fresh connection to 127.0.0.1:port.
response request(std::uint16_t port,
                 const std::string& method,
                 const std::string& target,
                 const std::string& body = "",
                 const std::map<std::string, std::string>& headers = {});

// Raw bytes to 127.0.0.1:port; returns what the server answered before closing (up to `limit`).
std::string raw_exchange(std::uint16_t port, const std::string& bytes, std::size_t limit = 65536);

struct recorded {
    std::string method;
    std::string target;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    std::chrono::steady_clock::time_point at;  // when the request was read
};

class fake_provider {
   public:
    // `answer` decides each response (status, body) from the request number (0-based) and request.
    using answer_fn = std::function<std::pair<int, std::string>(std::size_t, const recorded&)>;
    explicit fake_provider(answer_fn answer = nullptr);
    ~fake_provider();

    std::uint16_t port() const { return port_; }
    std::string url(const std::string& path = "/send") const;
    // Waits (on an event, with a deadline) until at least n requests arrived; returns them all.
    std::vector<recorded> wait_for(std::size_t n, std::chrono::seconds deadline = std::chrono::seconds(20));
    std::vector<recorded> received();

    struct impl;

   private:
    std::unique_ptr<impl> impl_;
    std::uint16_t port_ = 0;
};

}  // namespace flowgate::test
