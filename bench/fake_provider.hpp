#pragma once
// A stand-in for Twilio's send API on 127.0.0.1 for the outbound figure: the gateway's own server
// class (keep-alive, no rate limit) answering every POST 201 with a fresh "sid", counting what it
// gets and when. Nothing is kept of the requests (a broadcast of 100,000 would fill memory).

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace flowgate::bench {

class fake_provider {
   public:
    fake_provider();
    ~fake_provider();
    fake_provider(const fake_provider&) = delete;
    fake_provider& operator=(const fake_provider&) = delete;

    std::uint16_t port() const { return port_; }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

    std::size_t received() const;
    // Waits (on an event, with a deadline) until `n` requests arrived in all; false on the deadline.
    bool wait_for(std::size_t n, std::chrono::milliseconds deadline);
    // Starts counting afresh: received() is 0, first()/last() unset.
    void reset();
    // When the first and the latest request since reset() arrived.
    std::chrono::steady_clock::time_point first() const;
    std::chrono::steady_clock::time_point last() const;

    struct impl;

   private:
    std::unique_ptr<impl> impl_;
    std::uint16_t port_ = 0;
};

}  // namespace flowgate::bench
