#pragma once
// The route table: /healthz, /metrics, /c/{channel}/receive, /c/{channel}/status, the admin API
// under /api/v1 (gateway/api.hpp), and the staff dashboard's files at / (gateway/static_files.hpp).
// Unknown path or channel → 404, wrong method → 405 (with Allow), a webhook's 2xx only after its
// events are durably committed, 503 when the store cannot commit (providers retry).

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "gateway/api.hpp"
#include "gateway/ingest.hpp"
#include "gateway/metrics.hpp"
#include "gateway/server.hpp"
#include "gateway/store.hpp"
#include "gateway/writer.hpp"
#include "handlers/handler.hpp"

namespace flowgate::gateway {

struct channel_runtime {
    const config::channel_config* config = nullptr;
    std::unique_ptr<handlers::handler> handler;
};
using channel_map = std::map<std::string, channel_runtime, std::less<>>;

class routes final : public http_handler {
   public:
    routes(const config::config& cfg,
           const channel_map& channels,
           store& st,
           writer& w,
           const ingest& in,
           metrics& m,
           std::function<void()> outbound_queued);

    std::size_t body_limit(const http_request& header) const override;
    boost::asio::awaitable<http_response> handle(http_request request) override;
    void count_rejected(int status) override;
    bool rate_limited(const http_request& header) const override;
    void count_dropped(std::string_view reason) override;

   private:
    boost::asio::awaitable<http_response> channel_request(const channel_runtime& channel,
                                                          handlers::endpoint endpoint,
                                                          http_request& request);

    const config::config& config_;
    const channel_map& channels_;
    store& store_;
    writer& writer_;
    const ingest& ingest_;
    metrics& metrics_;
    std::function<void()> outbound_queued_;
    admin_api api_;
};

}  // namespace flowgate::gateway
