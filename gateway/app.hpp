#pragma once

#include "config/config.hpp"

namespace flowgate::gateway {

// Runs the server until SIGINT or SIGTERM, then shuts down gracefully. Returns the exit code.
int serve(const config::config& cfg);

}  // namespace flowgate::gateway
