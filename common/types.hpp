#pragma once
// The few vocabulary types shared by handlers/, flows/, config/ and gateway/.
// Nothing here does I/O or reads a clock.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace flowgate {

// Wall-clock instants are passed in explicitly (pure code never reads a clock).
using clock_type = std::chrono::system_clock;
using timestamp = std::chrono::time_point<clock_type, std::chrono::milliseconds>;

inline std::int64_t to_millis(timestamp t) { return t.time_since_epoch().count(); }
inline timestamp from_millis(std::int64_t ms) { return timestamp{std::chrono::milliseconds{ms}}; }

// One problem found while validating a document: a JSON pointer into it and a message.
// Whoever knows the file name prints it as `FILE: /pointer: message`.
struct problem {
    std::string pointer;
    std::string message;

    friend bool operator==(const problem&, const problem&) = default;
};
using problems = std::vector<problem>;

// Escapes one JSON-pointer reference token (RFC 6901).
inline std::string pointer_token(std::string_view token) {
    std::string out;
    for (char c : token) {
        if (c == '~') {
            out += "~0";
        } else if (c == '/') {
            out += "~1";
        } else {
            out += c;
        }
    }
    return out;
}

// ASCII letters lower-cased, every other byte as it is, whatever the C locale: for protocol words
// (header names, media types, hex, keywords of the expression language) and ASCII text.
constexpr char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

inline std::string ascii_lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        c = ascii_lower(c);
    }
    return out;
}

// State of an outbound message. The order is the order of progress: a status callback never moves
// a message to an earlier state (failed is terminal, delivered is terminal).
enum class msg_state { queued, sending, sent, delivered, failed, unknown, expired };

inline const char* to_string(msg_state s) {
    switch (s) {
        case msg_state::queued:
            return "queued";
        case msg_state::sending:
            return "sending";
        case msg_state::sent:
            return "sent";
        case msg_state::delivered:
            return "delivered";
        case msg_state::failed:
            return "failed";
        case msg_state::unknown:
            return "unknown";
        case msg_state::expired:
            return "expired";
    }
    return "unknown";
}

}  // namespace flowgate
