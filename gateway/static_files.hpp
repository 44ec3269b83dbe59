#pragma once
// The staff dashboard's files (web/), embedded in the binary at build time
// (cmake/embed_web.cmake), served at / with a strict Content-Security-Policy. GET and HEAD only;
// an ETag per file answers a matching If-None-Match with 304, and Cache-Control: no-cache makes
// the browser ask each time, so a new build is never hidden behind a cached old one.

#include <span>
#include <string_view>

#include "gateway/server.hpp"

namespace flowgate::gateway {

struct embedded_file {
    std::string_view path;  // "/index.html"
    std::string_view body;
    std::string_view etag;  // quoted, as the header carries it
};

// Every file of web/, from the generated source.
std::span<const embedded_file> embedded_files();

// The file served at a URL path ("/" is /index.html), or nullptr.
const embedded_file* find_static_file(std::string_view path);

// "text/html; charset=utf-8" and the like, from the file's extension.
std::string_view static_content_type(std::string_view path);

// The file's response to a GET or HEAD (the caller empties a HEAD's body): 200, or 304 when the
// request's If-None-Match names its ETag; always with the security headers.
http_response static_response(const embedded_file& file, const http_request& request);

}  // namespace flowgate::gateway
