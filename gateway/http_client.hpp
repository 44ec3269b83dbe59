#pragma once
// Outbound HTTP(S) for the sender and the flows' webhooks: TLS with certificate and host-name
// verification against the system store, keep-alive connections reused per host, a connect
// deadline and a deadline over each exchange.

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "handlers/handler.hpp"

namespace flowgate::gateway {

struct url_parts {
    bool tls = false;
    std::string host;
    std::string port;
    std::string target;  // path and query, at least "/"
};
std::optional<url_parts> parse_url(std::string_view url);

// Used from one strand (the sender's, the timer loop's): the pool is not locked.
class http_client {
   public:
    explicit http_client(boost::asio::any_io_executor ex);
    ~http_client();

    struct outcome {
        std::optional<handlers::http_response> response;  // empty: no answer (see error)
        std::string error;                                // short, fixed: never a secret
    };

    // Connects within connect_timeout (a fresh connection), then the exchange within `timeout`.
    // Connections are kept alive and reused per scheme, host and port, up to max_idle_per_host
    // idle ones each; one idle longer than max_idle_age is closed instead of reused (servers
    // drop idle keep-alive connections, and a send must not race that).
    boost::asio::awaitable<outcome> request(const handlers::send_request& req,
                                            std::chrono::milliseconds timeout);

    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds max_idle_age{20000};
    std::size_t max_idle_per_host = 16;

    // Connections opened so far (tests check reuse).
    std::size_t connections_opened() const { return opened_; }

   private:
    struct connection;
    boost::asio::awaitable<outcome> exchange(connection& c,
                                             const url_parts& url,
                                             const handlers::send_request& r,
                                             std::chrono::milliseconds timeout,
                                             bool& reusable);

    boost::asio::any_io_executor ex_;
    boost::asio::ssl::context tls_;
    std::map<std::string, std::vector<std::unique_ptr<connection>>> idle_;
    std::size_t opened_ = 0;
};

}  // namespace flowgate::gateway
