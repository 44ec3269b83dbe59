// Contacts (docs/api.md).

#include "gateway/api_routes.hpp"

namespace flowgate::gateway::api {

std::span<const route> contact_routes() { return {}; }

}  // namespace flowgate::gateway::api
