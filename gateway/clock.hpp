#pragma once
// The one place gateway/ reads the wall clock (flows/ and handlers/ are given the time).

#include "common/types.hpp"

namespace flowgate::gateway {

inline timestamp now() { return std::chrono::time_point_cast<std::chrono::milliseconds>(clock_type::now()); }

}  // namespace flowgate::gateway
