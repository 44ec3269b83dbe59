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

// Sends and flows' webhooks go to URLs from the config: the parts each one is taken apart into, and
// the forms that are refused (a scheme other than http(s), no host, a port that is not 1 to 5
// digits, a fragment, white space).
TEST(http_client, parses_the_urls_it_can_send_to) {
    struct row {
        std::string url;
        bool ok;
        bool tls = false;
        std::string host, port, target;
    };
    const std::vector<row> rows = {
        {"https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json",
         true,
         true,
         "api.twilio.com",
         "443",
         "/2010-04-01/Accounts/AC1/Messages.json"},
        {"http://127.0.0.1:8080/send?a=1&b=%20", true, false, "127.0.0.1", "8080", "/send?a=1&b=%20"},
        {"http://example.org", true, false, "example.org", "80", "/"},
        {"https://example.org/", true, true, "example.org", "443", "/"},
        {"http://example.org?x=1", true, false, "example.org", "80", "/?x=1"},
        {"http://[::1]:9000/p", true, false, "::1", "9000", "/p"},
        {"https://[2001:db8::1]/", true, true, "2001:db8::1", "443", "/"},
        {"http://host:1", true, false, "host", "1", "/"},
        {"http://host:65535/", true, false, "host", "65535", "/"},
        {"http://user@host/", true, false, "user@host", "80", "/"},
        {"", false},
        {"ftp://example.org/", false},
        {"HTTP://example.org/", false},
        {"https:/example.org/", false},
        {"https://", false},
        {"https:///path", false},
        {"https://:443/", false},
        {"http://host:/", false},
        {"http://host:123456/", false},
        {"http://host:12a/", false},
        {"http://host/a#frag", false},
        {"http://host/a b", false},
        {"http://ho st/", false},
        {"http://host\t/", false},
        {"http://[::1/", false},
        {"http://[::1]x/", false},
        {"http://[]/", false},
        {"http://[g::1]/", false},
        {"http://host#x", false},
        {"http://host:80#x", false},
    };
    for (const auto& r : rows) {
        SCOPED_TRACE(r.url);
        const auto p = parse_url(r.url);
        ASSERT_EQ(p.has_value(), r.ok);
        if (p) {
            EXPECT_EQ(p->tls, r.tls);
            EXPECT_EQ(p->host, r.host);
            EXPECT_EQ(p->port, r.port);
            EXPECT_EQ(p->target, r.target);
        }
    }
}

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
