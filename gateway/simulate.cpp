#include "gateway/simulate.hpp"

#include <chrono>
#include <istream>
#include <nlohmann/json.hpp>
#include <ostream>

#include "flows/duration.hpp"
#include "flows/engine.hpp"
#include "flows/segments.hpp"
#include "gateway/clock.hpp"
#include "gateway/ingest.hpp"
#include "gateway/open_store.hpp"
#include "handlers/urn.hpp"

namespace flowgate::gateway {

namespace {

// Prints and settles everything queued, in the order the sender would send it.
void drain(store& s, timestamp now, const simulate_options& opts, std::ostream& out) {
    auto tx = s.begin_write();
    for (;;) {
        const auto claimed = tx->claim_outbound(now, 1000);
        if (claimed.empty()) {
            break;
        }
        for (const auto& m : claimed) {
            const auto seg = flows::count_segments(m.text);
            if (opts.json) {
                out << nlohmann::ordered_json{{"to", m.urn},
                                              {"text", m.text},
                                              {"segments", seg.segments},
                                              {"encoding", flows::to_string(seg.encoding)}}
                           .dump()
                    << '\n';
            } else {
                out << "> " << m.text << "  [" << flows::to_string(seg.encoding) << ", " << seg.segments
                    << (seg.segments == 1 ? " segment]" : " segments]") << '\n';
            }
            tx->mark_sent(m.id, "", now);
        }
    }
    tx->commit();
    out.flush();
}

}  // namespace

int simulate(const config::config& cfg,
             const simulate_options& opts,
             std::istream& in,
             std::ostream& out,
             std::ostream& err) {
    const auto urn = handlers::parse_urn(opts.from, cfg.default_country);
    if (!urn) {
        err << "flowgate simulate: --from must be a URN such as tel:+962790000000\n";
        return 2;
    }
    std::string channel = opts.channel;
    if (channel.empty()) {
        channel = cfg.channels.empty() ? "simulator" : cfg.channels.front().settings.id;
    } else if (cfg.find_channel(channel) == nullptr) {
        err << "flowgate simulate: no channel has the id \"" << channel << "\"\n";
        return 2;
    }

    // The simulator's own database, sealed under the config's key like the server's.
    config::store_config where;
    where.sqlite = opts.database;
    const auto opened =
        open_store(where, data_key::from_config(cfg.data_key.empty() ? "none" : cfg.data_key));
    store& store = *opened;
    const flows::engine engine(*cfg.flows, cfg.triggers, cfg.engine_environment());
    const ingest in_(cfg, engine);
    auto now = opts.start.value_or(gateway::now());
    {
        auto tx = store.begin_write();
        in_.seed_workshops(*tx, now);
        tx->commit();
    }
    std::string from = *urn;

    std::string line;
    std::size_t number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        if (line.rfind("/from", 0) == 0) {
            const auto arg = line.substr(5);
            const auto start = arg.find_first_not_of(' ');
            const auto other = start == std::string::npos
                                   ? std::nullopt
                                   : handlers::parse_urn(arg.substr(start), cfg.default_country);
            if (!other) {
                err << "flowgate simulate: line " << number
                    << ": /from needs a URN such as tel:+962790000001\n";
                continue;
            }
            from = *other;
            continue;
        }
        if (line.rfind("/wait", 0) == 0) {
            const auto arg = line.substr(5);
            const auto start = arg.find_first_not_of(' ');
            const auto d =
                start == std::string::npos ? std::nullopt : flows::parse_duration(arg.substr(start));
            if (!d) {
                err << "flowgate simulate: line " << number
                    << ": /wait needs a duration such as 90m, 25h or 3d\n";
                continue;
            }
            // The clock jumps from one thing falling due to the next, so each fires at its own time
            // and in order.
            const auto until = now + std::chrono::duration_cast<std::chrono::milliseconds>(*d);
            while (now < until) {
                std::optional<timestamp> next;
                {
                    auto tx = store.begin_write();
                    next = tx->next_due(now);
                    tx->commit();
                }
                now = next ? std::min(until, *next) : until;
                auto tx = store.begin_write();
                in_.fire_due(*tx, now, 1000);
                tx->commit();
                drain(store, now, opts, out);
            }
            continue;
        }
        now += std::chrono::seconds(1);  // each message a moment after the last
        {
            auto tx = store.begin_write();
            in_.apply(*tx,
                      channel,
                      handlers::incoming_message{"sim-" + std::to_string(number), from, line, ""},
                      now);
            tx->commit();
        }
        drain(store, now, opts, out);
        {
            // What the message made due at once (a freed place offered to the waiting list).
            auto tx = store.begin_write();
            in_.fire_due(*tx, now, 1000);
            tx->commit();
        }
        drain(store, now, opts, out);
    }
    return 0;
}

}  // namespace flowgate::gateway
