#pragma once
// The one config object (DESIGN.md §4): parsed and validated at start-up, then passed by reference.
// Every problem is reported as `FILE: /json/pointer: message`, all of them at once.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "flows/engine.hpp"
#include "flows/keywords.hpp"
#include "flows/model.hpp"
#include "handlers/handler.hpp"

namespace flowgate::config {

// An address range, IPv4 kept as IPv4-mapped IPv6 (::ffff:a.b.c.d) so one comparison serves both.
struct ip_network {
    std::array<unsigned char, 16> address{};
    int prefix = 128;  // bits of `address` that must match

    // `address` is 4 (IPv4) or 16 (IPv6) bytes in network order.
    bool contains(const unsigned char* address, std::size_t size) const;
};
// "10.0.0.0/8", "2001:db8::/32", or one address ("192.0.2.7" is /32, "::1" is /128).
std::optional<ip_network> parse_ip_network(std::string_view text);

struct tls_config {
    std::string certificate;  // PEM: the certificate, then any intermediates
    std::string key;          // PEM private key (a secret: never logged)
};

struct server_config {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;  // 0: any free port (tests); the bound port is logged
    std::string public_url;     // how providers reach us; signatures are checked against it
    int threads = 2;            // I/O threads
    std::size_t body_limit = 64 * 1024;
    std::size_t header_limit = 8 * 1024;
    std::chrono::seconds header_timeout{10};
    std::chrono::seconds body_timeout{30};
    std::chrono::seconds idle_timeout{60};
    std::chrono::seconds shutdown_grace{10};
    // Beyond these a new connection is closed at once (docs/security.md, "Hostile HTTP").
    std::size_t max_connections = 1024;
    std::size_t max_connections_per_ip = 64;  // 0: no per-address cap
    // Requests per second per client address, with a burst; webhooks (/c/...) are never limited.
    double rate_limit_per_second = 20;  // 0: no rate limit
    std::size_t rate_limit_burst = 100;
    // Addresses the per-address limits (max_connections_per_ip, rate_limit) do not apply to:
    // a reverse proxy in front of us, a provider's ranges. Loopback by default.
    std::vector<ip_network> per_ip_exempt = {*parse_ip_network("127.0.0.0/8"), *parse_ip_network("::1")};
    std::optional<tls_config> tls;  // set: HTTPS only

    std::string scheme() const { return tls ? "https" : "http"; }
};

struct store_config {
    // PostgreSQL's writers by default: with one, the writer waits for the server at each round trip
    // and the server for the writer between them, so neither keeps a core busy
    // (docs/performance.md).
    static constexpr std::size_t default_writers = 2;
    static constexpr std::size_t max_writers = 16;

    std::string sqlite;    // path of the SQLite database; or
    std::string postgres;  // a PostgreSQL connection string (resolved; may hold a password: never logged)
    std::size_t writers = default_writers;  // PostgreSQL: write connections (the writer's lanes)
};

struct channel_config {
    handlers::channel_settings settings;
    double max_per_second = 0;  // 0: no limit of ours
};

struct clock_time {
    int minutes = 0;  // since midnight
};

// A message (a flow) at a time relative to a workshop's start, for each contact with a place.
struct reminder_config {
    std::chrono::minutes offset{0};  // from the start; negative: before it
    std::optional<int> at;           // minutes after local midnight (whole-day offsets only)
    std::string flow_id;
};

struct config {
    std::string file;
    server_config server;
    store_config store;
    std::string data_key;  // resolved; "none" for throwaway use; "" when not given
    // Message texts and finished runs older than this are purged, daily (unset: kept until erased).
    std::optional<int> retention_days;
    std::string default_country = "JO";
    std::string timezone = "UTC";
    std::vector<std::string> languages{"en"};
    std::optional<std::pair<clock_time, clock_time>> quiet_hours;
    std::vector<channel_config> channels;
    std::vector<std::string> flow_files;
    // Shared so the engine's reference to it stays valid when the config is moved.
    std::shared_ptr<flows::flow_set> flows = std::make_shared<flows::flow_set>();
    std::vector<flows::keyword_trigger> triggers;
    // A trigger's "language": a contact with no language who uses one of its keywords gets it.
    // Keyed by the normalised keyword.
    std::map<std::string, std::string> trigger_languages;
    std::string programme = "flowgate";  // named in the HELP reply
    // STOP / START / HELP, with the built-in words and replies unless the config overrides them.
    flows::standing_keywords keywords;
    // Workshops the store is seeded with at start (titles and places filled in for every language).
    std::vector<flows::workshop> workshops;
    std::vector<reminder_config> reminders;
    std::string promotion_flow;     // started for a contact given a place from the waiting list
    std::string cancellation_flow;  // started for a contact whose place staff cancelled

    const channel_config* find_channel(std::string_view id) const;
    // When a message that answers nothing (a timeout's nudge, a reminder) may go out: `at` itself,
    // or the end of the quiet hours in the config's time zone when `at` falls inside them.
    timestamp outside_quiet_hours(timestamp at) const;
    // The same with the quiet hours read on the wall clock of `zone` (an IANA name; an unknown
    // one reads as UTC): a broadcast waits for each contact's own morning.
    timestamp outside_quiet_hours(timestamp at, std::string_view zone) const;
    // What the flow engine needs to know of the deployment.
    flows::environment engine_environment() const;
};

struct diagnostic {
    std::string file;
    std::string pointer;
    std::string message;
    bool warning = false;

    // `FILE: /pointer: message` (the root pointer is printed as "/").
    std::string to_string() const;
};

struct load_outcome {
    std::optional<config> loaded;  // set only when there are no errors
    std::vector<diagnostic> errors;
    std::vector<diagnostic> warnings;
};

// How the loader reads the outside world (environment and files): passed in, so tests can supply
// their own and nothing deep in the code calls getenv.
struct environment {
    std::function<std::optional<std::string>(const std::string&)> getenv;
    std::function<std::optional<std::string>(const std::string&)> read_file;
};
environment process_environment();

load_outcome load(const std::string& path, const environment& env);

// One workshop as the config's "workshops" entries are written (the admin API takes the same
// body): nullopt with every problem, each with its JSON pointer, when it is not valid.
std::optional<flows::workshop> parse_workshop(const nlohmann::json& doc,
                                              const config& cfg,
                                              flowgate::problems& out);
// The same, from a document already in memory (`file` names it in messages).
load_outcome load_text(const std::string& file, const std::string& text, const environment& env);

}  // namespace flowgate::config
