#pragma once
// What the fuzz targets share: cutting one input into the parts an entry point takes, always the
// same way, so a crashing input reads as text and a seed is easy to write by hand.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "handlers/handler.hpp"

namespace flowgate::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// The first line of `rest` (without its "\n" or "\r\n"); `rest` keeps what follows.
inline std::string_view take_line(std::string_view& rest) {
    const auto nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
    }
    return line;
}

// Lines up to the first empty one (or the end); `rest` keeps what follows the empty line.
inline std::vector<std::string_view> take_block(std::string_view& rest) {
    std::vector<std::string_view> lines;
    while (!rest.empty()) {
        const std::string_view line = take_line(rest);
        if (line.empty()) {
            break;
        }
        lines.push_back(line);
    }
    return lines;
}

// An HTTP-like input:
//   METHOD TARGET[?QUERY]
//   Name: value            (header lines, up to an empty line)
//
//   body                   (everything after the empty line, as it is)
struct request_text {
    std::string method;
    std::string target;
    std::string query;
    bool has_query = false;
    std::vector<handlers::http_header> headers;
    std::string body;
};

inline request_text parse_request(std::string_view input) {
    request_text out;
    std::string_view first = take_line(input);
    const auto space = first.find(' ');
    out.method = std::string(first.substr(0, space));
    std::string_view target = space == std::string_view::npos ? std::string_view{} : first.substr(space + 1);
    if (const auto q = target.find('?'); q != std::string_view::npos) {
        out.query = std::string(target.substr(q + 1));
        out.has_query = true;
        target = target.substr(0, q);
    }
    out.target = std::string(target);
    for (const std::string_view line : take_block(input)) {
        const auto colon = line.find(':');
        std::string_view value =
            colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') {
            value.remove_prefix(1);
        }
        out.headers.push_back({std::string(line.substr(0, colon)), std::string(value)});
    }
    out.body = std::string(input);
    return out;
}

// A property the code promises that does not hold: report and abort, so libFuzzer keeps the input.
[[noreturn]] inline void broken(const char* what) {
    std::fprintf(stderr, "fuzz: broken promise: %s\n", what);
    std::abort();
}

inline void require(bool ok, const char* what) {
    if (!ok) {
        broken(what);
    }
}

}  // namespace flowgate::fuzz
