#include "gateway/app.hpp"

#include <utility>

#include <pthread.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <thread>
#include <vector>

#include "flows/engine.hpp"
#include "gateway/clock.hpp"
#include "gateway/ingest.hpp"
#include "gateway/log.hpp"
#include "gateway/metrics.hpp"
#include "gateway/open_store.hpp"
#include "gateway/routes.hpp"
#include "gateway/sender.hpp"
#include "gateway/server.hpp"
#include "gateway/timers.hpp"
#include "gateway/writer.hpp"
#include "handlers/registry.hpp"
#include "handlers/rotation.hpp"

namespace flowgate::gateway {

namespace asio = boost::asio;

int serve(const config::config& cfg) {
    if (cfg.data_key == "none") {
        log::warn("store",
                  "\"data_key\": \"none\": participants' numbers and messages are sealed under a key "
                  "everyone knows; for throwaway use only, never with real participants");
    }
    const auto opened = open_store(cfg.store, data_key::from_config(cfg.data_key));
    store& store = *opened;
    const flows::engine engine(*cfg.flows, cfg.triggers, cfg.engine_environment());
    const ingest in(cfg, engine);
    {
        auto tx = store.begin_write();
        // Sends interrupted by a crash: we cannot know whether the provider got them.
        const auto n = tx->mark_interrupted_sends_unknown(gateway::now());
        in.seed_workshops(*tx, gateway::now());
        tx->commit();
        if (n > 0) {
            log::warn("store",
                      std::to_string(n) + " sends were interrupted by a crash and are now 'unknown'");
        }
    }
    metrics stats;
    writer write(store, stats);
    write.start();

    channel_map channels;
    for (const auto& c : cfg.channels) {
        const auto* type = handlers::find_handler_type(c.settings.type);
        channels.emplace(c.settings.id,
                         channel_runtime{&c, handlers::make_channel_handler(*type, c.settings)});
    }

    asio::io_context ioc(cfg.server.threads);
    sender send(ioc, write, channels, stats);
    timers clock(ioc, write, in, [&send] { send.notify(); });
    if (cfg.retention_days) {
        clock.set_retention(*cfg.retention_days, stats);
    }
    routes table(cfg, channels, store, write, in, stats, [&send, &clock] {
        send.notify();
        clock.notify();  // a step may have queued a webhook call
    });
    server http(ioc, cfg.server, table);
    const auto port = http.listen();
    log::info("http",
              "listening on " + cfg.server.scheme() + "://" + cfg.server.host + ":" + std::to_string(port));
    http.start();
    send.start();
    clock.start();

    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int) {
        if (ec) {
            return;
        }
        log::info("app", "shutting down: finishing requests in flight");
        asio::co_spawn(
            ioc,
            [&]() -> asio::awaitable<void> {
                co_await http.shutdown();
                co_await clock.stop();
                co_await send.stop(cfg.server.shutdown_grace);
                ioc.stop();
            },
            asio::detached);
    });

    std::vector<std::thread> threads;
    for (int i = 1; i < cfg.server.threads; ++i) {
        threads.emplace_back([&ioc] {
            pthread_setname_np(pthread_self(), "fg-io");
            ioc.run();
        });
    }
    ioc.run();
    for (auto& t : threads) {
        t.join();
    }
    write.stop();  // commits what is queued
    store.close();
    log::info("app", "stopped");
    return 0;
}

}  // namespace flowgate::gateway
