// The dashboard's files through the real server: / is the page, every embedded file is served
// with its type and the security headers, HEAD answers without a body, an unchanged file is a 304,
// and nothing else is a static file.

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gateway/static_files.hpp"
#include "tests/support/http.hpp"
#include "tests/support/process.hpp"

namespace flowgate::gateway {
namespace {

using json = nlohmann::json;

const std::string policy =
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'";

class static_test : public ::testing::Test {
   protected:
    void SetUp() override {
        const json cfg = {
            {"server", {{"listen", "127.0.0.1:0"}}},
            {"store", {{"sqlite", dir.file("flowgate.db")}}},
            {"data_key", "none"},
            {"channels", {{{"id", "local"}, {"type", "external"}, {"send_url", "http://127.0.0.1:9/send"}}}},
        };
        dir.write("config.json", cfg.dump());
    }

    static void expect_security_headers(const test::response& r) {
        EXPECT_EQ(r.headers.count("content-security-policy") ? r.headers.at("content-security-policy") : "",
                  policy);
        EXPECT_EQ(r.headers.count("x-content-type-options") ? r.headers.at("x-content-type-options") : "",
                  "nosniff");
        EXPECT_EQ(r.headers.count("referrer-policy") ? r.headers.at("referrer-policy") : "", "no-referrer");
        EXPECT_EQ(r.headers.count("cache-control") ? r.headers.at("cache-control") : "", "no-cache");
    }

    test::temp_dir dir;
};

TEST(static_files, content_types_by_extension) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"/index.html", "text/html; charset=utf-8"},
        {"/app.js", "text/javascript; charset=utf-8"},
        {"/style.css", "text/css; charset=utf-8"},
        {"/logo.svg", "image/svg+xml; charset=utf-8"},
        {"/logo.png", "image/png"},
        {"/notes", "application/octet-stream"},
        {"/app.js.map", "application/octet-stream"},
    };
    for (const auto& [path, type] : cases) {
        SCOPED_TRACE(path);
        EXPECT_EQ(static_content_type(path), type);
    }
}

TEST(static_files, the_page_and_its_files_are_embedded) {
    std::vector<std::string> paths;
    for (const auto& f : embedded_files()) {
        paths.emplace_back(f.path);
        EXPECT_FALSE(f.body.empty()) << f.path;
        EXPECT_EQ(f.etag.size(), 34u) << "a quoted SHA-256 prefix: " << f.etag;
    }
    for (const char* wanted : {"/index.html", "/app.js", "/i18n.js", "/segments.js", "/style.css"}) {
        EXPECT_NE(std::find(paths.begin(), paths.end(), wanted), paths.end()) << wanted;
    }
    ASSERT_NE(find_static_file("/"), nullptr);
    EXPECT_EQ(find_static_file("/")->path, "/index.html");
    EXPECT_EQ(find_static_file("/nothing.js"), nullptr);
    EXPECT_EQ(find_static_file(""), nullptr);
}

TEST_F(static_test, serves_the_dashboard) {
    test::server_process server(dir.file("config.json"));

    const auto page = test::request(server.port(), "GET", "/");
    EXPECT_EQ(page.status, 200);
    EXPECT_EQ(page.headers.at("content-type"), "text/html; charset=utf-8");
    expect_security_headers(page);
    EXPECT_EQ(page.body.rfind("<!doctype html>", 0), 0u) << page.body.substr(0, 100);
    EXPECT_NE(page.body.find(R"(<script type="module" src="/app.js">)"), std::string::npos);
    const std::string etag = page.headers.at("etag");
    EXPECT_EQ(test::request(server.port(), "GET", "/index.html").body, page.body);
    EXPECT_EQ(test::request(server.port(), "GET", "/?from=bookmark").body, page.body);

    // Every embedded file, with its own type, its ETag and the same headers.
    for (const auto& f : embedded_files()) {
        SCOPED_TRACE(std::string(f.path));
        const auto r = test::request(server.port(), "GET", std::string(f.path));
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.headers.at("content-type"), static_content_type(f.path));
        EXPECT_EQ(r.headers.at("etag"), f.etag);
        EXPECT_EQ(r.body, f.body);
        expect_security_headers(r);
    }

    // HEAD: the same headers and length, no body bytes (read raw, so none could hide).
    const std::string head =
        test::raw_exchange(server.port(), "HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    ASSERT_EQ(head.rfind("HTTP/1.1 200", 0), 0u) << head.substr(0, 100);
    EXPECT_NE(head.find("Content-Security-Policy: " + policy + "\r\n"), std::string::npos) << head;
    EXPECT_NE(head.find("Content-Length: " + std::to_string(page.body.size()) + "\r\n"), std::string::npos)
        << head;
    const auto end_of_header = head.find("\r\n\r\n");
    ASSERT_NE(end_of_header, std::string::npos);
    EXPECT_EQ(head.size(), end_of_header + 4) << "a HEAD response has no body";

    // A browser revalidating an unchanged file gets 304 and no body.
    struct revalidation {
        std::string if_none_match;
        int status;
    };
    const std::vector<revalidation> revalidations = {
        {etag, 304},
        {"W/" + etag, 304},
        {"\"other\", " + etag, 304},
        {"*", 304},
        {"\"other\"", 200},
        {etag.substr(1, etag.size() - 2), 200},  // unquoted: not the same tag
    };
    for (const auto& c : revalidations) {
        SCOPED_TRACE(c.if_none_match);
        const auto r = test::request(server.port(), "GET", "/", "", {{"If-None-Match", c.if_none_match}});
        EXPECT_EQ(r.status, c.status);
        EXPECT_EQ(r.headers.at("etag"), etag);
        EXPECT_EQ(r.body.empty(), c.status == 304);
        expect_security_headers(r);
    }

    // Only GET and HEAD.
    for (const char* method : {"POST", "PUT", "DELETE"}) {
        SCOPED_TRACE(method);
        const auto r = test::request(server.port(), method, "/app.js", "x", {{"Content-Type", "text/plain"}});
        EXPECT_EQ(r.status, 405);
        EXPECT_EQ(r.headers.at("allow"), "GET, HEAD");
    }

    // Nothing but the embedded files: no directory, no source path, no traversal.
    for (const char* path : {"/nothing.js",
                             "/index.htm",
                             "/web/index.html",
                             "/app.js/",
                             "/APP.JS",
                             "/%61pp.js",
                             "/../web/app.js",
                             "/./app.js",
                             "//app.js",
                             "/CMakeLists.txt"}) {
        SCOPED_TRACE(path);
        const auto r = test::request(server.port(), "GET", path);
        EXPECT_EQ(r.status, 404);
        EXPECT_EQ(r.headers.at("content-type"), "application/json");
    }
}

}  // namespace
}  // namespace flowgate::gateway
