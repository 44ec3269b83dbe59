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
#include "gateway/sqlite_store.hpp"
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

    sqlite_store store(opts.database);
    const flows::engine engine(*cfg.flows, cfg.triggers, cfg.engine_environment());
    const ingest in_(cfg, engine);
    auto now = gateway::now();

    std::string line;
    std::size_t number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
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
            // Fire in the order things fall due: step through the wait a minute at a time at most
            // once something is due, so a timeout inside the wait fires at its own time.
            const auto until = now + std::chrono::duration_cast<std::chrono::milliseconds>(*d);
            while (now < until) {
                now = std::min(until, now + std::chrono::minutes(1));
                auto tx = store.begin_write();
                const auto fired = in_.fire_due(*tx, now, 1000);
                tx->commit();
                if (fired.fired > 0) {
                    drain(store, now, opts, out);
                }
            }
            continue;
        }
        now += std::chrono::seconds(1);  // each message a moment after the last
        {
            auto tx = store.begin_write();
            in_.apply(*tx,
                      channel,
                      handlers::incoming_message{"sim-" + std::to_string(number), *urn, line, ""},
                      now);
            tx->commit();
        }
        drain(store, now, opts, out);
    }
    return 0;
}

}  // namespace flowgate::gateway
