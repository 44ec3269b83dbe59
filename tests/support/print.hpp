#pragma once
// GoogleTest printers for the project's vocabulary types: readable failures instead of bytes.

#include <ostream>

#include "common/types.hpp"

namespace flowgate {
[[maybe_unused]] inline void PrintTo(const problem& p, std::ostream* os) {
    *os << p.pointer << ": " << p.message;
}
}  // namespace flowgate
