#include "gateway/static_files.hpp"

#include <boost/beast/http.hpp>
#include <string>

#include "gateway/responses.hpp"

namespace flowgate::gateway {

namespace http = boost::beast::http;

namespace {

// Scripts and styles from this origin only, no inline code and no framing: a value that slips
// into the page as text cannot run.
constexpr std::string_view content_security_policy =
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'";

boost::beast::string_view bsv(std::string_view s) { return {s.data(), s.size()}; }

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Whether an If-None-Match value ("a", "b" or *) names this ETag; W/ prefixes are weak matches,
// which If-None-Match allows.
bool matches_etag(std::string_view header, std::string_view etag) {
    while (!header.empty()) {
        const auto comma = header.find(',');
        std::string_view item = header.substr(0, comma);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) {
            item.remove_prefix(1);
        }
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) {
            item.remove_suffix(1);
        }
        if (item.substr(0, 2) == "W/") {
            item.remove_prefix(2);
        }
        if (item == "*" || item == etag) {
            return true;
        }
        header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    }
    return false;
}

}  // namespace

const embedded_file* find_static_file(std::string_view path) {
    if (path == "/") {
        path = "/index.html";
    }
    for (const auto& f : embedded_files()) {
        if (f.path == path) {
            return &f;
        }
    }
    return nullptr;
}

std::string_view static_content_type(std::string_view path) {
    struct type {
        std::string_view extension;
        std::string_view content_type;
    };
    static constexpr type types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json; charset=utf-8"},
        {".svg", "image/svg+xml; charset=utf-8"},
        {".txt", "text/plain; charset=utf-8"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
    };
    for (const auto& t : types) {
        if (ends_with(path, t.extension)) {
            return t.content_type;
        }
    }
    return "application/octet-stream";
}

http_response static_response(const embedded_file& file, const http_request& request) {
    const auto inm = request.find(http::field::if_none_match);
    const bool not_modified =
        inm != request.end() && matches_etag({inm->value().data(), inm->value().size()}, file.etag);
    http_response res = not_modified ? make_response(http::status::not_modified, "", "")
                                     : make_response(http::status::ok,
                                                     std::string(static_content_type(file.path)),
                                                     std::string(file.body));
    if (not_modified) {
        res.erase(http::field::content_type);
    }
    res.set(http::field::etag, bsv(file.etag));
    res.set(http::field::cache_control, "no-cache");
    res.set("Content-Security-Policy", bsv(content_security_policy));
    res.set("X-Content-Type-Options", "nosniff");
    res.set("Referrer-Policy", "no-referrer");
    res.set("X-Frame-Options", "DENY");
    return res;
}

}  // namespace flowgate::gateway
