// The outbound HTTP client against a local fake provider: keep-alive connections are reused, and
// failures come back as short fixed errors.

#include "gateway/http_client.hpp"

#include <utility>

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <string>
#include <vector>

#include "tests/support/http.hpp"

namespace flowgate::gateway {
namespace {

namespace asio = boost::asio;

TEST(http_client, reuses_a_kept_alive_connection_and_reports_failures) {
    test::fake_provider provider([](std::size_t i, const test::recorded&) {
        return std::pair{200, "{\"n\": " + std::to_string(i) + "}"};
    });
    asio::io_context ioc;
    http_client client(ioc.get_executor());
    auto done = asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<std::vector<std::string>> {
            std::vector<std::string> seen;
            for (int i = 0; i < 5; ++i) {
                handlers::send_request req;
                req.url = provider.url("/send");
                req.headers.push_back({"Content-Type", "application/json"});
                req.body = "{\"text\": \"مرحبا\"}";
                const auto out = co_await client.request(req, std::chrono::seconds(5));
                seen.push_back(out.response ? out.response->body : out.error);
            }
            handlers::send_request nowhere;
            nowhere.url = "http://127.0.0.1:1/send";  // nothing listens on port 1
            const auto failed = co_await client.request(nowhere, std::chrono::seconds(5));
            seen.push_back(failed.response ? "answered?" : failed.error);
            handlers::send_request bad;
            bad.url = "ftp://example.org/";
            seen.push_back((co_await client.request(bad, std::chrono::seconds(5))).error);
            co_return seen;
        },
        asio::use_future);
    ioc.run();
    EXPECT_EQ(done.get(),
              (std::vector<std::string>{"{\"n\": 0}",
                                        "{\"n\": 1}",
                                        "{\"n\": 2}",
                                        "{\"n\": 3}",
                                        "{\"n\": 4}",
                                        "connection failed",
                                        "invalid URL"}));
    EXPECT_EQ(client.connections_opened(), 1u) << "five requests on one kept-alive connection";
    const auto got = provider.received();
    ASSERT_EQ(got.size(), 5u);
    EXPECT_EQ(got[0].body, "{\"text\": \"مرحبا\"}");
    EXPECT_EQ(got[0].method, "POST");
}

}  // namespace
}  // namespace flowgate::gateway
