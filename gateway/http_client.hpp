#pragma once
// Outbound HTTP(S) for the sender: one request, a deadline over the whole exchange, TLS with
// certificate and host-name verification.

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "handlers/handler.hpp"

namespace flowgate::gateway {

struct url_parts {
    bool tls = false;
    std::string host;
    std::string port;
    std::string target;  // path and query, at least "/"
};
std::optional<url_parts> parse_url(std::string_view url);

class http_client {
   public:
    explicit http_client(boost::asio::any_io_executor ex);

    struct outcome {
        std::optional<handlers::http_response> response;  // empty: no answer (see error)
        std::string error;                                // short, fixed: never a secret
    };

    boost::asio::awaitable<outcome> request(const handlers::send_request& req,
                                            std::chrono::milliseconds timeout);

   private:
    boost::asio::any_io_executor ex_;
    boost::asio::ssl::context tls_;
};

}  // namespace flowgate::gateway
