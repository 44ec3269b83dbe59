#include "gateway/cli.hpp"

#include <cstdint>
#include <exception>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "flows/calendar.hpp"
#include "gateway/api.hpp"
#include "gateway/api_routes.hpp"
#include "gateway/app.hpp"
#include "gateway/clock.hpp"
#include "gateway/ingest.hpp"
#include "gateway/log.hpp"
#include "gateway/open_store.hpp"
#include "gateway/simulate.hpp"
#include "gateway/sink.hpp"
#include "handlers/urn.hpp"

namespace flowgate::gateway::cli {

namespace {

// "1 flow", "2 flows".
std::string count(std::size_t n, const std::string& noun) {
    return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

constexpr const char* usage = R"(usage: flowgate COMMAND [OPTIONS]

commands:
  serve --config FILE     run the gateway until SIGINT/SIGTERM
  check --config FILE     validate the config and every flow; print each problem; exit 1 if any
  simulate --config FILE [--from URN] [--channel ID] [--json] [--now 2027-03-10T09:00]
                          chat as one contact: each stdin line is a message; "/wait 90m" moves
                          the virtual clock on; "/from URN" speaks as another contact; every
                          reply is printed (--json: one object a line); --now: the virtual
                          clock's start, local time in the config's timezone
  token create --config FILE --role admin|staff|viewer --name NAME
                          a token for the admin API, printed once (only its hash is stored)
  export messages --config FILE --format json
                          every stored message, both directions, as a JSON array on stdout:
                          uuid, direction, channel, provider id, state, contact UUID, times;
                          never a message's text or a phone number
  erase --config FILE --urn URN
                          erase the contact with this number or URN and everything about them
                          (as DELETE /api/v1/contacts/{uuid} does); prints the contact's UUID
  sink [--listen HOST:PORT]
                          a stand-in phone: print messages an external channel sends
                          (default 127.0.0.1:9000)
  version                 print the version
  help                    print this text
)";

struct args {
    std::string command;
    std::map<std::string, std::string> options;
};

std::optional<args> parse(int argc, char** argv, std::string& error) {
    args a;
    if (argc < 2) {
        error = "missing command";
        return std::nullopt;
    }
    a.command = argv[1];
    int first = 2;
    if ((a.command == "token" || a.command == "export") && argc > 2 &&
        std::string_view(argv[2]).rfind("--", 0) != 0) {
        a.command += std::string(" ") + argv[2];  // "token create", "export messages"
        first = 3;
    }
    for (int i = first; i < argc; ++i) {
        std::string opt = argv[i];
        if (opt.rfind("--", 0) != 0) {
            error = "unexpected argument " + opt;
            return std::nullopt;
        }
        std::string value;
        if (opt == "--json") {
            a.options["json"] = "1";  // a flag: takes no value
            continue;
        }
        if (const auto eq = opt.find('='); eq != std::string::npos) {
            value = opt.substr(eq + 1);
            opt = opt.substr(0, eq);
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            error = "option " + opt + " needs a value";
            return std::nullopt;
        }
        a.options[opt.substr(2)] = value;
    }
    return a;
}

// Loads and validates; prints every problem. Warnings never stop a start.
std::optional<config::config> load_config(const args& a, bool quiet_when_ok) {
    const auto it = a.options.find("config");
    if (it == a.options.end()) {
        std::cerr << "flowgate " << a.command << ": --config FILE is required\n";
        return std::nullopt;
    }
    auto outcome = config::load(it->second, config::process_environment());
    // `check` reports on stdout; other commands keep stdout for their own output.
    std::ostream& report = quiet_when_ok ? std::cerr : std::cout;
    for (const auto& d : outcome.errors) {
        report << d.to_string() << '\n';
    }
    for (const auto& d : outcome.warnings) {
        report << d.to_string() << '\n';
    }
    if (!outcome.loaded) {
        report << count(outcome.errors.size(), "problem") << " in " << it->second << '\n';
        return std::nullopt;
    }
    if (!quiet_when_ok) {
        std::cout << it->second << ": ok (" << count(outcome.loaded->channels.size(), "channel") << ", "
                  << count(outcome.loaded->flows->all().size(), "flow") << ", "
                  << count(outcome.loaded->triggers.size(), "trigger") << ")\n";
    }
    return std::move(outcome.loaded);
}

// `flowgate token create --config FILE --role admin|staff|viewer --name NAME`: the token is printed
// once; the store keeps only its hash.
int token_create(const args& a) {
    const auto cfg = load_config(a, true);
    if (!cfg) {
        return 1;
    }
    const auto role_it = a.options.find("role");
    const auto role = role_it == a.options.end() ? std::nullopt : api_role_from(role_it->second);
    const auto name_it = a.options.find("name");
    if (!role || name_it == a.options.end() || name_it->second.empty() || name_it->second.size() > 100) {
        std::cerr << "flowgate token create: needs --role admin|staff|viewer and --name NAME (up to 100 "
                     "characters)\n";
        return 2;
    }
    const api_role granted = *role;  // (a plain value: g++ 12 cannot follow the optional past the store)
    const auto opened = open_store(cfg->store, data_key::from_config(cfg->data_key));
    store& store = *opened;
    const std::string token = new_api_token();
    auto tx = store.begin_write();
    tx->create_token(name_it->second, granted, token_hash(token), gateway::now());
    tx->commit();
    store.close();
    std::cout << token << '\n';
    std::cerr << "a " << to_string(granted) << " token for \"" << name_it->second
              << "\"; it is shown only this once: keep it somewhere safe\n";
    return 0;
}

// The config's store for a command that reads what a server wrote: nullptr (said on stderr) when an
// SQLite file is not there, rather than creating an empty database.
std::unique_ptr<store> open_existing_store(const config::config& cfg, const char* command) {
    if (cfg.store.postgres.empty() && cfg.store.sqlite != ":memory:" &&
        !std::filesystem::exists(cfg.store.sqlite)) {
        std::cerr << "flowgate " << command << ": no database at " << cfg.store.sqlite << '\n';
        return nullptr;
    }
    return open_store(cfg.store, data_key::from_config(cfg.data_key));
}

// `flowgate export messages --config FILE --format json`: a JSON array on stdout, one message a
// line, written as the rows are read (a million messages never sit in memory).
int export_messages(const args& a) {
    const auto cfg = load_config(a, true);
    if (!cfg) {
        return 1;
    }
    const auto format = a.options.find("format");
    if (format == a.options.end() || format->second != "json") {
        std::cerr << "flowgate export messages: needs --format json\n";
        return 2;
    }
    const auto opened = open_existing_store(*cfg, "export messages");
    if (!opened) {
        return 1;
    }
    store& store = *opened;
    std::ostream& out = std::cout;
    bool first = true;
    out << '[';
    store.export_messages([&](const message_export_row& r) {
        const nlohmann::json row = {
            {"uuid", r.uuid},
            {"direction", r.direction},
            {"channel", r.channel_id},
            {"external_id", r.external_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.external_id)},
            {"state", r.state},
            {"contact", r.contact_uuid},
            {"reply_to", r.reply_to.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.reply_to)},
            {"attempts", r.attempts},
            {"created_at", api::iso_utc(r.created_at)},
            {"updated_at", api::iso_utc(r.updated_at)},
        };
        out << (first ? "\n" : ",\n") << row.dump();
        first = false;
    });
    out << (first ? "]\n" : "\n]\n");
    out.flush();
    store.close();
    return out ? 0 : 1;
}

// `flowgate erase --config FILE --urn URN`: what DELETE /api/v1/contacts/{uuid} does, for an
// operator who has a number and no token: the contact and everything about them go, an opt-out
// stays as a keyed hash, a held place goes to the waiting list; on the audit log as the command
// line's. The number is never printed.
int erase(const args& a) {
    const auto cfg = load_config(a, true);
    if (!cfg) {
        return 1;
    }
    const auto given = a.options.find("urn");
    const auto urn = given == a.options.end() ? std::nullopt : api::urn_as_typed(given->second, *cfg);
    if (!urn) {
        std::cerr << "flowgate erase: needs --urn URN (a phone number or a URN such as tel:+962791234567)\n";
        return 2;
    }
    const auto opened = open_existing_store(*cfg, "erase");
    if (!opened) {
        return 1;
    }
    store& store = *opened;
    const flows::engine engine(*cfg->flows, cfg->triggers, cfg->engine_environment());
    const ingest in(*cfg, engine);
    auto tx = store.begin_write();
    auto contact = tx->find_contact(*urn);
    if (!contact) {
        if (const auto sibling = handlers::same_number_urn(*urn)) {
            contact = tx->find_contact(*sibling);
        }
    }
    if (!contact) {
        std::cerr << "flowgate erase: no contact has " << handlers::mask_urn(*urn) << '\n';
        return 1;
    }
    const auto now = gateway::now();
    in.erase_contact(*tx, contact->id, now);
    api::audit(*tx,
               api_token{0, "flowgate erase (command line)", api_role::admin},
               "contacts.erase",
               contact->uuid,
               1,
               now);
    tx->commit();
    store.close();  // a checkpoint: the erased rows leave the WAL too
    std::cout << contact->uuid << '\n';
    std::cerr << "erased contact " << contact->uuid << " and everything about them\n";
    return 0;
}

}  // namespace

int run(int argc, char** argv) {
    std::string error;
    const auto a = parse(argc, argv, error);
    if (!a) {
        std::cerr << "flowgate: " << error << "\n\n" << usage;
        return 2;
    }
    try {
        if (a->command == "help" || a->command == "--help" || a->command == "-h") {
            std::cout << usage;
            return 0;
        }
        if (a->command == "version" || a->command == "--version") {
            std::cout << "flowgate 0.1.0\n";
            return 0;
        }
        if (a->command == "check") {
            return load_config(*a, false) ? 0 : 1;
        }
        if (a->command == "serve") {
            const auto cfg = load_config(*a, true);
            if (!cfg) {
                return 1;
            }
            return serve(*cfg);
        }
        if (a->command == "simulate") {
            const auto cfg = load_config(*a, true);
            if (!cfg) {
                return 1;
            }
            simulate_options opts;
            if (const auto it = a->options.find("from"); it != a->options.end()) {
                opts.from = it->second;
            }
            if (const auto it = a->options.find("channel"); it != a->options.end()) {
                opts.channel = it->second;
            }
            opts.json = a->options.count("json") != 0;
            if (const auto it = a->options.find("now"); it != a->options.end()) {
                opts.start = flows::parse_local(it->second, cfg->timezone);
                if (!opts.start) {
                    std::cerr << "flowgate simulate: --now must be a local time like 2027-03-10T09:00\n";
                    return 2;
                }
            }
            return simulate(*cfg, opts, std::cin, std::cout, std::cerr);
        }
        if (a->command == "token create") {
            return token_create(*a);
        }
        if (a->command == "erase") {
            return erase(*a);
        }
        if (a->command == "export messages") {
            return export_messages(*a);
        }
        if (a->command == "sink") {
            const auto it = a->options.find("listen");
            const std::string listen = it == a->options.end() ? "127.0.0.1:9000" : it->second;
            static const std::regex hostport(R"(^([A-Za-z0-9.\-]+):([0-9]{1,5})$)");
            std::smatch m;
            if (!std::regex_match(listen, m, hostport) || std::stoul(m[2].str()) > 65535) {
                std::cerr << "flowgate sink: --listen must be HOST:PORT\n";
                return 2;
            }
            return run_sink(m[1].str(), static_cast<std::uint16_t>(std::stoul(m[2].str())));
        }
    } catch (const std::exception& e) {
        log::error("app", e.what());
        return 1;
    }
    std::cerr << "flowgate: unknown command " << a->command << "\n\n" << usage;
    return 2;
}

}  // namespace flowgate::gateway::cli
