#pragma once
// `flowgate simulate`: a contact chatting with the same triggers, flows, keywords, workshops and
// engine as `serve`, against an in-memory store and a virtual clock. Each input line is one
// inbound message; `/wait DURATION` moves the clock on and fires what falls due (timeouts, expiry,
// reminders, messages held by quiet hours); `/from URN` makes the next lines another contact's.

#include <iosfwd>
#include <optional>
#include <string>

#include "config/config.hpp"

namespace flowgate::gateway {

struct simulate_options {
    std::string from = "tel:+962790000000";  // the contact's URN (a bare number is read as tel:)
    std::string channel;                     // "" : the config's first channel
    bool json = false;                       // one JSON object per outbound message
    std::string database = ":memory:";       // tests keep the store in a file to inspect it
    std::optional<timestamp> start;          // the virtual clock's start; unset: the real time
};

// Returns the process exit code: 0, or 2 for a bad --from/--channel (reported on `err`).
int simulate(const config::config& cfg,
             const simulate_options& opts,
             std::istream& in,
             std::ostream& out,
             std::ostream& err);

}  // namespace flowgate::gateway
