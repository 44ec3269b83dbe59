#pragma once
// Plain line logging to stderr. Callers never pass a phone number (use handlers::mask_urn), a
// token or a message body.

#include <string_view>

namespace flowgate::gateway::log {

enum class level { debug, info, warn, error };

void set_level(level l);
void write(level l, std::string_view component, std::string_view message);

inline void debug(std::string_view c, std::string_view m) { write(level::debug, c, m); }
inline void info(std::string_view c, std::string_view m) { write(level::info, c, m); }
inline void warn(std::string_view c, std::string_view m) { write(level::warn, c, m); }
inline void error(std::string_view c, std::string_view m) { write(level::error, c, m); }

}  // namespace flowgate::gateway::log
