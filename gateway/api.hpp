#pragma once
// The admin API under /api/v1 (docs/api.md): JSON, `Authorization: Bearer TOKEN` from
// `flowgate token create`, three roles (viewer < staff < admin). No or bad token → 401, a role too
// low → 403, an unknown route → 404, a wrong method → 405. Described by the OpenAPI document at
// /api/v1/openapi.json, which a test keeps true. The routes live per area in api_*.cpp
// (gateway/api_routes.hpp).

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "gateway/ingest.hpp"
#include "gateway/server.hpp"
#include "gateway/store.hpp"
#include "gateway/writer.hpp"

namespace flowgate::gateway {

// A new token: 32 random bytes as "fg_" + hex. Only token_hash() of it is stored.
std::string new_api_token();
std::string token_hash(std::string_view token);

class admin_api {
   public:
    admin_api(
        const config::config& cfg,
        store& st,
        writer& w,
        const ingest& in,
        std::function<void()> outbound_queued = [] {});

    static bool owns(std::string_view path) { return path.substr(0, 8) == "/api/v1/" || path == "/api/v1"; }
    // Reads are answered from the store's read connection; writes go through the writer, so a
    // 2xx means the change is committed.
    boost::asio::awaitable<http_response> handle(const http_request& request, std::string path) const;

    // The OpenAPI 3 document, and every route this build implements ("GET /api/v1/flows", ...).
    static const nlohmann::json& openapi();
    static std::vector<std::string> implemented_routes();

   private:
    const config::config& config_;
    store& store_;
    writer& writer_;
    const ingest& ingest_;
    std::function<void()> outbound_queued_;
};

}  // namespace flowgate::gateway
