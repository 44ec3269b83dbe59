#pragma once
// Every provider type, listed explicitly (no static-init registration).

#include <span>
#include <string_view>

#include "handlers/handler.hpp"

namespace flowgate::handlers {

std::span<const handler_type> register_all();
const handler_type* find_handler_type(std::string_view name);

}  // namespace flowgate::handlers
