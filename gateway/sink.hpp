#pragma once
// `flowgate sink`: a stand-in phone for the demo and for local testing. It accepts the external
// channel's outbound POSTs and prints each message, as a participant's phone would show it.

#include <cstdint>
#include <string>

namespace flowgate::gateway {

int run_sink(const std::string& host, std::uint16_t port);

}  // namespace flowgate::gateway
