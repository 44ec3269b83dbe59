// flowgate_bench: the figures of issue 7 in one run (docs/performance.md). It starts the real
// `flowgate serve` on 127.0.0.1 with a generated config in a temporary directory (a real 256-bit
// data key, SQLite in WAL with synchronous=FULL), drives it with signed Twilio webhooks from many
// senders, and prints each figure beside its target, the median of --runs runs. With
// `--store postgres` the same, on a throwaway PostgreSQL cluster on 127.0.0.1 with PostgreSQL's
// durable defaults (fsync, synchronous_commit, full-page writes), whose CPU is counted apart.
//
//   flowgate_bench [--runs N] [--webhooks N] [--connections N] [--senders N] [--client-threads N]
//                  [--contacts N] [--sessions N] [--reply-rate N] [--only inbound|outbound]
//                  [--store sqlite|postgres] [--writers N] [--server-log FILE]

#include <utility>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

#include "bench/fake_provider.hpp"
#include "bench/loadgen.hpp"
#include "handlers/crypto.hpp"
#include "handlers/form.hpp"
#include "handlers/twilio.hpp"
#include "tests/support/http.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/process.hpp"
#include "tests/support/twilio_message.hpp"

namespace flowgate::bench {
namespace {

using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// Options

struct options {
    int runs = 3;
    std::size_t webhooks = 100000;  // per run, for the full-path figure
    std::size_t connections = 64;
    std::size_t senders = 10000;  // distinct phone numbers per run
    int client_threads = 1;
    std::size_t contacts = 100000;
    std::size_t sessions = 10000;
    // The inbound runs' channel rate (segments/s): replies go out at a provider's pace while the
    // webhooks are measured, as they would in production (Twilio's long codes take 1 a second).
    double reply_rate = 10;
    std::string only;              // "", "inbound" or "outbound"
    std::string store = "sqlite";  // or "postgres"
    int writers = 0;               // with postgres: /store/writers (0: the server's default)
    // With postgres: the inbound runs' servers on the one database. Each connection sends its
    // requests to them in turn, as a load balancer would, so one sender's messages are answered by
    // each instance in turn (the outbound runs always have one server).
    int instances = 1;
    std::string server_log;  // append each server's log here
};

options parse_options(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                throw std::runtime_error(a + " needs a value");
            }
            return argv[++i];
        };
        if (a == "--runs") {
            o.runs = std::max(1, std::stoi(value()));
        } else if (a == "--webhooks") {
            o.webhooks = std::stoul(value());
        } else if (a == "--connections") {
            o.connections = std::max<std::size_t>(1, std::stoul(value()));
        } else if (a == "--senders") {
            o.senders = std::max<std::size_t>(1, std::stoul(value()));
        } else if (a == "--client-threads") {
            o.client_threads = std::max(1, std::stoi(value()));
        } else if (a == "--contacts") {
            o.contacts = std::stoul(value());
        } else if (a == "--sessions") {
            o.sessions = std::stoul(value());
        } else if (a == "--reply-rate") {
            o.reply_rate = std::stod(value());
        } else if (a == "--only") {
            o.only = value();
        } else if (a == "--store") {
            o.store = value();
            if (o.store != "sqlite" && o.store != "postgres") {
                throw std::runtime_error("--store is sqlite or postgres");
            }
        } else if (a == "--writers") {
            o.writers = std::max(1, std::stoi(value()));
        } else if (a == "--instances") {
            o.instances = std::clamp(std::stoi(value()), 1, 8);
        } else if (a == "--server-log") {
            o.server_log = value();
        } else {
            throw std::runtime_error("unknown option " + a);
        }
    }
    o.sessions = std::min(o.sessions, o.contacts);
    if (o.writers > 0 && o.store != "postgres") {
        throw std::runtime_error("--writers is for --store postgres");
    }
    // Instances share a database only on PostgreSQL (DESIGN.md: SQLite is one machine's store).
    if (o.instances > 1 && o.store != "postgres") {
        throw std::runtime_error("--instances is for --store postgres");
    }
    return o;
}

// ---------------------------------------------------------------------------------------------
// The gateway under test: config, key, process

const std::string public_url = "https://sms.example.org";
const std::string account_sid = "AC0123456789abcdef0123456789abcdef";
const std::string auth_token = "bench-auth-token-0123456789abcdef";
const std::string twilio_address = "+962790000000";

// One question, then a thanks: every webhook pays for exactly one flow step and one outbound
// message. "JOIN" starts the run (the question goes out, the run waits); the answer saves a
// result, sends the thanks and ends the run.
constexpr const char* bench_flow = R"j({
  "id": "bench", "language": "en",
  "nodes": [
    {"id": "ask", "ask": {"en": "Which city? 1 Amman 2 Irbid 3 Zarqa", "ar": "أي مدينة؟ ١ عمّان ٢ إربد ٣ الزرقاء"},
     "result": "City",
     "cases": [{"test": "has_number_between", "args": [1, 3], "category": "Chosen", "next": "done"}],
     "other": "ask"},
    {"id": "done", "send": {"en": "Thanks, see you soon.", "ar": "شكراً، نراكم قريباً."}}
  ]
})j";

// A real 256-bit data key (so each URN and text pays for AES-256-GCM) in `dir`, readable by its
// owner only; its path.
std::string write_key(const test::temp_dir& dir) {
    dir.write("data.key", handlers::to_hex(handlers::random_bytes(32)) + "\n");
    std::filesystem::permissions(dir.file("data.key"),
                                 std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    return dir.file("data.key");
}

// The store of a run's server: a SQLite file in `dir`, or a new database on the bench's PostgreSQL
// (a copy of `copy_of`, a database of that server, when given) with --writers.
std::unique_ptr<test::postgres_server> postgres;  // with --store postgres, started once by run()

json store_config(const options& o, const test::temp_dir& dir, const std::string& copy_of = "") {
    if (postgres != nullptr) {
        json store{{"postgres", postgres->create_database(copy_of)}};
        if (o.writers > 0) {
            store["writers"] = o.writers;
        }
        return store;
    }
    return {{"sqlite", dir.file("flowgate.db")}};
}

// config.json in `dir` for `store`, the data key at `key`, and a Twilio channel whose API is
// `api_base`, paced at `max_per_second` (0: the default).
void write_config(const test::temp_dir& dir,
                  const std::string& key,
                  const std::string& api_base,
                  double max_per_second,
                  const json& store) {
    dir.write("auth_token", auth_token + "\n");
    dir.write("bench.json", bench_flow);
    json channel = {{"id", "sms"},
                    {"type", "twilio"},
                    {"address", twilio_address},
                    {"account_sid", account_sid},
                    {"auth_token", "file:" + dir.file("auth_token")},
                    {"api_base", api_base}};
    if (max_per_second > 0) {
        channel["max_per_second"] = max_per_second;
    }
    const json cfg = {
        {"server",
         {{"listen", "127.0.0.1:0"}, {"public_url", public_url}, {"threads", 2}, {"shutdown_grace", "30s"}}},
        {"store", store},
        {"data_key", "file:" + key},
        {"default_country", "JO"},
        {"timezone", "Asia/Amman"},
        {"languages", {"en", "ar"}},
        {"channels", {channel}},
        {"flows", {dir.file("bench.json")}},
        {"triggers", {{{"keywords", {"JOIN"}}, {"flow", "bench"}}}},
    };
    dir.write("config.json", cfg.dump(2));
}

// Stops the server gracefully (SIGTERM) and appends its log to --server-log, if given.
void stop_server(test::server_process& server, const options& o, const std::string& what) {
    server.stop();
    if (!o.server_log.empty()) {
        std::ofstream out(o.server_log, std::ios::app);
        out << "==== " << what << "\n" << server.log();
    }
}

// CPU seconds (user + system) a process has used so far: the server's from /proc, the bench's own
// (the load generator and the fake provider) from getrusage. On a shared machine these say what a
// request costs better than the rates do.
// The fields of /proc/.../stat from the third (state) to the seventeenth (cstime), as numbers
// (the state as 0); empty when the process is gone.
std::vector<double> stat_fields(const std::string& stat_path) {
    std::ifstream in(stat_path);
    const std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto name_end = stat.rfind(')');  // the command name, in parentheses, may hold spaces
    if (name_end == std::string::npos || name_end + 2 > stat.size()) {
        return {};
    }
    std::istringstream fields(stat.substr(name_end + 2));
    std::vector<double> out;
    std::string field;
    for (int i = 3; i <= 17 && fields >> field; ++i) {
        out.push_back(i == 3 ? 0 : std::strtod(field.c_str(), nullptr));
    }
    return out;
}

constexpr std::size_t ppid_field = 4 - 3, utime_field = 14 - 3, stime_field = 15 - 3;
constexpr std::size_t cutime_field = 16 - 3, cstime_field = 17 - 3;

double ticks_to_seconds(double ticks) { return ticks / static_cast<double>(sysconf(_SC_CLK_TCK)); }

double stat_cpu_seconds(const std::string& stat_path) {
    const auto f = stat_fields(stat_path);
    return f.size() > stime_field ? ticks_to_seconds(f[utime_field] + f[stime_field]) : 0;
}

// The PostgreSQL cluster's CPU so far, with --store postgres (else 0): the postmaster's own, what
// its children that have ended used (it waits for them), and its live children's (the backends
// serving flowgate, the WAL writer, the checkpointer, ...).
double database_cpu_seconds() {
    const int master = postgres != nullptr ? postgres->postmaster_pid() : 0;
    if (master <= 0) {
        return 0;
    }
    const auto own = stat_fields("/proc/" + std::to_string(master) + "/stat");
    if (own.size() <= cstime_field) {
        return 0;
    }
    double ticks = own[utime_field] + own[stime_field] + own[cutime_field] + own[cstime_field];
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
        const std::string pid = e.path().filename().string();
        if (pid.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        const auto f = stat_fields((e.path() / "stat").string());
        if (f.size() > stime_field && static_cast<int>(f[ppid_field]) == master) {
            ticks += f[utime_field] + f[stime_field];
        }
    }
    return ticks_to_seconds(ticks);
}

double cpu_seconds(pid_t pid) { return stat_cpu_seconds("/proc/" + std::to_string(pid) + "/stat"); }

// The same for the server's threads named `name`, or `name` and a suffix ("fg-writer": the writer,
// the serial part; "fg-writer-1" and on: its other lanes, on PostgreSQL).
double thread_cpu_seconds(pid_t pid, const std::string& name) {
    double total = 0;
    const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
        std::ifstream comm(task.path() / "comm");
        std::string line;
        if (std::getline(comm, line) && (line == name || line.starts_with(name + "-"))) {
            total += stat_cpu_seconds((task.path() / "stat").string());
        }
    }
    return total;
}

double own_cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// The whole machine's CPU time so far, from /proc/stat's first line, in clock ticks: what was
// busy, what waited for the disk with nothing else to run, what the hypervisor took.
struct machine_ticks {
    double busy = 0, iowait = 0, steal = 0, total = 0;
};

machine_ticks read_machine_ticks() {
    std::ifstream in("/proc/stat");
    std::string cpu;
    in >> cpu;
    // user nice system idle iowait irq softirq steal
    std::array<double, 8> v{};
    for (double& x : v) {
        in >> x;
    }
    machine_ticks t;
    for (const double x : v) {
        t.total += x;
    }
    t.iowait = v[4];
    t.steal = v[7];
    t.busy = t.total - v[3] - v[4] - v[7];
    return t;
}

// How busy the machine and the writer thread were over a phase, in percent: whether the phase was
// limited by the CPU (the machine near 100%) or by the single writer (the writer near 100%).
struct busy_shares {
    double machine = 0, iowait = 0, steal = 0, writer = 0;
};

// CPU used by the servers (one, or several instances) and by the bench since construction, per
// request, in microseconds.
struct cpu_meter {
    explicit cpu_meter(std::vector<pid_t> s)
        : servers(std::move(s)),
          server_start(servers_cpu()),
          writer_start(writers_cpu()),
          own_start(own_cpu_seconds()),
          database_start(database_cpu_seconds()),
          machine_start(read_machine_ticks()),
          wall_start(std::chrono::steady_clock::now()) {}

    busy_shares busy() const {
        const machine_ticks now = read_machine_ticks();
        const double total = std::max(now.total - machine_start.total, 1.0);
        const double wall =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
        return {100 * (now.busy - machine_start.busy) / total,
                100 * (now.iowait - machine_start.iowait) / total,
                100 * (now.steal - machine_start.steal) / total,
                wall > 0 ? 100 * (writers_cpu() - writer_start) / wall : 0};
    }

    std::pair<double, double> per(std::size_t requests) const {
        const double n = static_cast<double>(std::max<std::size_t>(requests, 1));
        return {1e6 * (servers_cpu() - server_start) / n, 1e6 * (own_cpu_seconds() - own_start) / n};
    }

    // The writer threads' share of the servers', per request.
    double writer_per(std::size_t requests) const {
        const double n = static_cast<double>(std::max<std::size_t>(requests, 1));
        return 1e6 * (writers_cpu() - writer_start) / n;
    }

    // PostgreSQL's, per request (0 with SQLite, which runs inside the server).
    double database_per(std::size_t requests) const {
        const double n = static_cast<double>(std::max<std::size_t>(requests, 1));
        return 1e6 * (database_cpu_seconds() - database_start) / n;
    }

    // CPU seconds so far, summed over the servers: all of each, or its writer threads.
    template <class Of>
    double summed(Of of) const {
        double total = 0;
        for (const pid_t pid : servers) {
            total += of(pid);
        }
        return total;
    }
    double servers_cpu() const { return summed(cpu_seconds); }
    double writers_cpu() const {
        return summed([](pid_t pid) { return thread_cpu_seconds(pid, "fg-writer"); });
    }

    std::vector<pid_t> servers;
    double server_start;
    double writer_start;
    double own_start;
    double database_start;
    machine_ticks machine_start;
    std::chrono::steady_clock::time_point wall_start;
};

std::string describe_busy(const busy_shares& b) {
    char buf[160];
    std::snprintf(buf,
                  sizeof buf,
                  "machine %.0f%% busy (iowait %.0f%%, steal %.0f%%), writer %.0f%% busy",
                  b.machine,
                  b.iowait,
                  b.steal,
                  b.writer);
    return buf;
}

struct memory {
    double peak_mb = 0;     // VmHWM: the resident set's high-water mark
    double current_mb = 0;  // VmRSS
};

memory read_memory(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    memory m;
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::string key;
        double kb = 0;
        words >> key >> kb;
        if (key == "VmHWM:") {
            m.peak_mb = kb / 1024;
        } else if (key == "VmRSS:") {
            m.current_mb = kb / 1024;
        }
    }
    return m;
}

// ---------------------------------------------------------------------------------------------
// Requests

std::string phone_of(std::size_t n) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "+96279%07zu", 1000000 + n % 9000000);
    return buf;
}

// A fresh MessageSid: "SM" and 32 hex digits, never repeated within a bench process.
std::string next_sid() {
    static std::uint64_t counter = 0;
    static const std::string prefix = handlers::to_hex(handlers::random_bytes(8));
    char buf[40];
    std::snprintf(buf, sizeof buf, "SM%s%016llx", prefix.c_str(), static_cast<unsigned long long>(++counter));
    return buf;
}

// An inbound SMS exactly as Twilio posts it (its parameters, in its order), signed.
std::string twilio_webhook(const std::string& from, const std::string& text) {
    const std::string sid = next_sid();
    const handlers::form_fields fields = test::twilio_message(sid, account_sid, from, twilio_address, text);
    const std::string target = "/c/sms/receive";
    const std::string body = handlers::encode_form(fields);
    const std::string signature =
        handlers::twilio_handler::signature(auth_token, public_url + target, fields);
    return "POST " + target +
           " HTTP/1.1\r\nHost: sms.example.org\r\nUser-Agent: TwilioProxy/1.1\r\n"
           "Content-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: " +
           signature + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Each connection speaks for its own senders (sender s on connection s % connections), so one
// sender's messages arrive in order: "JOIN", the answer, "JOIN" again, ... Every message is new
// (a fresh MessageSid) and takes a flow step that queues one reply.
std::vector<std::vector<std::string>> webhook_lists(std::size_t total,
                                                    std::size_t connections,
                                                    std::size_t first_sender,
                                                    std::size_t senders) {
    senders = std::max(senders, connections);
    std::vector<std::vector<std::string>> lists(connections);
    const std::size_t per_connection = (total + connections - 1) / connections;
    for (std::size_t c = 0; c < connections; ++c) {
        const std::size_t own = senders / connections + (c < senders % connections ? 1 : 0);
        lists[c].reserve(per_connection);
        for (std::size_t k = 0; k < per_connection; ++k) {
            const std::size_t sender = first_sender + c + connections * (k % own);
            const bool answer = (k / own) % 2 == 1;
            // Answers alternate between ASCII and Arabic-Indic digits, as people send them.
            const char* text = !answer ? "JOIN" : (k % 2 == 0 ? "2" : "\xd9\xa2");
            lists[c].push_back(twilio_webhook(phone_of(sender), text));
        }
    }
    return lists;
}

std::vector<std::vector<std::string>> healthz_lists(std::size_t connections) {
    return std::vector<std::vector<std::string>>(
        connections, {"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: flowgate-bench\r\n\r\n"});
}

// ---------------------------------------------------------------------------------------------
// Figures

struct inbound_figures {
    double webhooks_per_s = 0, p50 = 0, p99 = 0, p999 = 0;
    double healthz_per_s = 0;
    double half_rate = 0, half_achieved = 0, half_p50 = 0, half_p99 = 0, half_p999 = 0;
    // The half load's p99 for its senders' first messages (each a new contact) and for the rest.
    double half_first_p99 = 0, half_later_p99 = 0;
    std::size_t bad = 0;  // non-2xx answers and connection errors, over every phase
    // Webhooks answered 2xx over the run (warm-up included), and the messages the database then
    // holds: each webhook stored once, with the one reply its flow step queues.
    std::size_t acknowledged = 0, stored_inbound = 0, stored_replies = 0;
    // CPU per full-path webhook, in µs: the server's and the bench's (client, fake provider).
    double server_cpu_us = 0, client_cpu_us = 0;
    double writer_cpu_us = 0;    // of server_cpu_us, the writer thread's
    double database_cpu_us = 0;  // PostgreSQL's, beside the server's (--store postgres)
    busy_shares full_busy;       // over the full-path phase
    busy_shares healthz_busy;    // over the /healthz phase
};

struct outbound_figures {
    double plan_s = 0;            // the preview: the whole plan, nothing stored
    double healthz_worst_ms = 0;  // the slowest /healthz answer while the preview ran
    double create_s = 0;          // the send: the same plan, and 100,000 messages committed
    double messages_per_s = 0;
    std::size_t recipients = 0;
    double rss_before_mb = 0;    // resident after start with the data
    double peak_rss_mb = 0;      // high-water mark over the run
    double server_cpu_us = 0;    // server CPU per message sent, µs
    double database_cpu_us = 0;  // PostgreSQL's per message sent (--store postgres)
};

std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

std::size_t bad_answers(const load_result& r) {
    std::size_t bad = r.errors;
    for (const auto& [status, n] : r.statuses) {
        if (status < 200 || status >= 300) {
            bad += n;
        }
    }
    return bad;
}

// The writer's group commits so far, from /metrics: how many, their total time, the jobs in them.
struct commit_stats {
    double commits = 0, seconds = 0, jobs = 0;
    double waits = 0, waits_within_10ms = 0;  // flowgate_store_job_wait_seconds
    double housekeeping = 0, housekeeping_seconds = 0, housekeeping_within_5ms = 0;
    double retries = 0;  // flowgate_store_group_retries_total
};

// Each figure of commit_stats, and its line in /metrics.
const std::pair<std::string_view, double commit_stats::*> commit_fields[] = {
    {"flowgate_store_commit_seconds_count", &commit_stats::commits},
    {"flowgate_store_commit_seconds_sum", &commit_stats::seconds},
    {"flowgate_store_committed_events_total", &commit_stats::jobs},
    {"flowgate_store_job_wait_seconds_count", &commit_stats::waits},
    {"flowgate_store_job_wait_seconds_bucket{le=\"0.01\"}", &commit_stats::waits_within_10ms},
    {"flowgate_store_housekeeping_seconds_count", &commit_stats::housekeeping},
    {"flowgate_store_housekeeping_seconds_sum", &commit_stats::housekeeping_seconds},
    {"flowgate_store_housekeeping_seconds_bucket{le=\"0.005\"}", &commit_stats::housekeeping_within_5ms},
    {"flowgate_store_group_retries_total", &commit_stats::retries},
};

commit_stats read_commits(std::uint16_t port) {
    const auto r = test::request(port, "GET", "/metrics");
    commit_stats c;
    std::istringstream lines(r.body);
    std::string line;
    while (std::getline(lines, line)) {
        std::istringstream words(line);
        std::string name;
        double value = 0;
        if (!(words >> name >> value)) {
            continue;
        }
        for (const auto& [metric, field] : commit_fields) {
            if (name == metric) {
                c.*field = value;
            }
        }
    }
    return c;
}

// The sum over several instances' /metrics.
commit_stats read_commits(const std::vector<std::uint16_t>& ports) {
    commit_stats sum;
    for (const auto port : ports) {
        const commit_stats c = read_commits(port);
        for (const auto& [metric, field] : commit_fields) {
            sum.*field += c.*field;
        }
    }
    return sum;
}

// ", N groups run again with savepoints" between two readings, when there were any.
std::string describe_retries(const commit_stats& before, const commit_stats& after) {
    const double retries = after.retries - before.retries;
    return retries > 0 ? ", " + fixed(retries, 0) + " groups run again with savepoints" : "";
}

// The share of the writer's jobs between two readings that waited over 10 ms for their answer.
std::string describe_slow_jobs(const commit_stats& before, const commit_stats& after) {
    const double n = after.waits - before.waits;
    if (n <= 0) {
        return "no jobs";
    }
    const double slow = n - (after.waits_within_10ms - before.waits_within_10ms);
    return fixed(100 * slow / n, 2) + "% of its jobs waited over 10 ms" + describe_retries(before, after);
}

// The writer's checkpoints between two readings: how many a second, how long on average, and how
// many took over 5 ms (the jobs that arrive meanwhile wait for them).
std::string describe_checkpoints(const commit_stats& before, const commit_stats& after, double seconds) {
    const double n = after.housekeeping - before.housekeeping;
    if (n <= 0) {
        return "no checkpoints";
    }
    const double slow = n - (after.housekeeping_within_5ms - before.housekeeping_within_5ms);
    return fixed(n / seconds, 0) + " checkpoints/s of " +
           fixed(1000 * (after.housekeeping_seconds - before.housekeeping_seconds) / n, 2) + " ms, " +
           fixed(100 * slow / n, 1) + "% over 5 ms";
}

std::string describe_commits(const commit_stats& before, const commit_stats& after, double seconds) {
    const double n = after.commits - before.commits;
    if (n <= 0) {
        return "no commits";
    }
    return fixed(n / seconds, 0) + " commits/s of " + fixed((after.jobs - before.jobs) / n, 1) + " jobs, " +
           fixed(1000 * (after.seconds - before.seconds) / n, 2) + " ms each" +
           describe_retries(before, after);
}

void note(const std::string& line) { std::cerr << "  " << line << std::endl; }

inbound_figures run_inbound(const options& o, int run) {
    test::temp_dir dir;
    fake_provider provider;
    const std::string key = write_key(dir);
    const json store = store_config(o, dir);
    write_config(dir, key, provider.url(), o.reply_rate, store);
    // One server, or --instances of them on the one database, each started once the one before
    // it has migrated the schema and listens.
    std::vector<std::unique_ptr<test::server_process>> servers;
    std::vector<pid_t> pids;
    std::vector<std::uint16_t> ports;
    for (int i = 0; i < o.instances; ++i) {
        servers.push_back(std::make_unique<test::server_process>(dir.file("config.json")));
        pids.push_back(servers.back()->pid());
        ports.push_back(servers.back()->port());
    }
    inbound_figures f;
    load_options lo;
    lo.ports = ports;
    lo.threads = o.client_threads;

    // Full path, closed loop at `connections`.
    {
        auto lists = webhook_lists(o.webhooks, o.connections, 0, o.senders);
        lo.warmup = std::chrono::seconds(1);
        const auto before = read_commits(ports);
        const auto started = clock_type::now();
        const cpu_meter cpu(pids);
        const auto r = run_load(lo, lists);
        std::size_t sent = 0;
        for (const auto& l : lists) {
            sent += l.size();
        }
        std::tie(f.server_cpu_us, f.client_cpu_us) = cpu.per(sent);
        f.writer_cpu_us = cpu.writer_per(sent);
        f.database_cpu_us = cpu.database_per(sent);
        f.full_busy = cpu.busy();
        const double elapsed = std::chrono::duration<double>(clock_type::now() - started).count();
        note("run " + std::to_string(run) +
             ": writer: " + describe_commits(before, read_commits(ports), elapsed));
        f.webhooks_per_s = r.rate();
        f.acknowledged += r.answered_2xx;
        f.p50 = r.percentile_ms(0.50);
        f.p99 = r.percentile_ms(0.99);
        f.p999 = r.percentile_ms(0.999);
        f.bad += bad_answers(r);
        note("run " + std::to_string(run) + ": webhooks " + fixed(f.webhooks_per_s, 0) + "/s over " +
             fixed(r.seconds, 1) + " s, p50 " + fixed(f.p50, 2) + " ms, p99 " + fixed(f.p99, 2) +
             " ms, p999 " + fixed(f.p999, 2) + " ms, not 2xx " + std::to_string(bad_answers(r)) +
             "; CPU a webhook: server " + fixed(f.server_cpu_us, 0) + " us (writer " +
             fixed(f.writer_cpu_us, 0) + " us), " +
             (postgres != nullptr ? "PostgreSQL " + fixed(f.database_cpu_us, 0) + " us, " : std::string()) +
             "load generator " + fixed(f.client_cpu_us, 0) + " us; " + describe_busy(f.full_busy));
    }
    // The HTTP floor: /healthz on the same server, same connections.
    {
        lo.warmup = std::chrono::milliseconds(500);
        lo.duration = std::chrono::seconds(5);
        const cpu_meter cpu(pids);
        const auto r = run_load(lo, healthz_lists(o.connections), true);
        f.healthz_busy = cpu.busy();
        f.healthz_per_s = r.rate();
        f.bad += bad_answers(r);
        note("run " + std::to_string(run) + ": /healthz " + fixed(f.healthz_per_s, 0) + "/s, p99 " +
             fixed(r.percentile_ms(0.99), 2) + " ms; " + describe_busy(f.healthz_busy));
    }
    // Latency at half the measured rate, on a schedule (open loop).
    {
        f.half_rate = f.webhooks_per_s / 2;
        lo.rate = f.half_rate;
        lo.warmup = std::chrono::seconds(1);
        lo.duration = std::chrono::seconds(6);
        const auto per_run = static_cast<std::size_t>(f.half_rate * 6.5) + o.connections;
        auto lists = webhook_lists(per_run, o.connections, o.senders + o.connections, o.senders);
        // Its senders are new: each connection's first messages, one a sender, create contacts.
        lo.first_of_each = std::max(o.senders, o.connections) / o.connections;
        const auto before = read_commits(ports);
        const auto started = clock_type::now();
        const auto r = run_load(lo, lists);
        const auto after = read_commits(ports);
        const double elapsed = std::chrono::duration<double>(clock_type::now() - started).count();
        f.half_achieved = r.rate();
        f.acknowledged += r.answered_2xx;
        f.half_p50 = r.percentile_ms(0.50);
        f.half_p99 = r.percentile_ms(0.99);
        f.half_p999 = r.percentile_ms(0.999);
        f.half_first_p99 = load_result::percentile_ms(r.first_latencies_us, 0.99);
        f.half_later_p99 = load_result::percentile_ms(r.later_latencies_us, 0.99);
        f.bad += bad_answers(r);
        note("run " + std::to_string(run) + ": at " + fixed(f.half_rate, 0) + "/s scheduled (" +
             fixed(f.half_achieved, 0) + "/s answered): p50 " + fixed(f.half_p50, 2) + " ms, p99 " +
             fixed(f.half_p99, 2) + " ms, p999 " + fixed(f.half_p999, 2) + " ms; writer: " +
             describe_slow_jobs(before, after) + ", " + describe_checkpoints(before, after, elapsed));
        note("run " + std::to_string(run) + ": at half load, p99 of senders' first messages (new contacts) " +
             fixed(f.half_first_p99, 2) + " ms (" + std::to_string(r.first_latencies_us.size()) +
             "), of the rest " + fixed(f.half_later_p99, 2) + " ms (" +
             std::to_string(r.later_latencies_us.size()) + ")");
    }
    for (std::size_t i = 0; i < servers.size(); ++i) {
        stop_server(*servers[i],
                    o,
                    "inbound run " + std::to_string(run) +
                        (servers.size() > 1 ? ", instance " + std::to_string(i + 1) : std::string()));
    }
    // Nothing acknowledged lost, nothing stored twice: what the database holds once the servers
    // have stopped.
    const bool on_postgres = store.contains("postgres");
    const auto counts = test::first_row(on_postgres ? test::backend::postgres : test::backend::sqlite,
                                        store.at(on_postgres ? "postgres" : "sqlite").get<std::string>(),
                                        "SELECT count(*) FILTER (WHERE direction = 'in'), count(*) FILTER "
                                        "(WHERE direction = 'out') FROM messages");
    f.stored_inbound = std::stoul(counts.at(0));
    f.stored_replies = std::stoul(counts.at(1));
    note("run " + std::to_string(run) + ": stored: " + std::to_string(f.stored_inbound) + " webhooks and " +
         std::to_string(f.stored_replies) + " replies, for " + std::to_string(f.acknowledged) +
         " webhooks answered 2xx");
    return f;
}

// The population for the outbound figures, made once: `contacts` contacts imported through the
// admin API (a third of them Arabic speakers), `sessions` of them in a flow that waits for their
// answer. The database is then copied for each run.
struct population {
    test::temp_dir dir;
    std::string key;
    std::string token;
    json store;  // its store, which each run copies
};

std::string api_token(const std::string& config) {
    const auto r =
        test::run_flowgate({"token", "create", "--config", config, "--role", "staff", "--name", "bench"});
    if (r.exit_code != 0) {
        throw std::runtime_error("flowgate token create failed:\n" + r.output);
    }
    // stdout (the token) and stderr (a note) arrive on one pipe: pick the token out.
    static const std::regex token(R"(fg_[0-9a-f]+)");
    std::smatch m;
    if (!std::regex_search(r.output, m, token)) {
        throw std::runtime_error("flowgate token create printed no token");
    }
    return m.str();
}

std::map<std::string, std::string> bearer(const std::string& token, const std::string& type) {
    return {{"Authorization", "Bearer " + token}, {"Content-Type", type}};
}

void make_population(const options& o, population& p) {
    fake_provider provider;
    p.key = write_key(p.dir);
    p.store = store_config(o, p.dir);
    write_config(p.dir, p.key, provider.url(), 0, p.store);
    p.token = api_token(p.dir.file("config.json"));
    test::server_process server(p.dir.file("config.json"));
    const auto started = clock_type::now();
    constexpr std::size_t per_import = 50000;  // the API's limit
    for (std::size_t first = 0; first < o.contacts; first += per_import) {
        std::string csv = "phone,name,language\n";
        for (std::size_t i = first; i < std::min(o.contacts, first + per_import); ++i) {
            csv +=
                phone_of(i) + ",Participant " + std::to_string(i) + "," + (i % 3 == 0 ? "ar" : "en") + "\n";
        }
        const auto r =
            test::request(server.port(), "POST", "/api/v1/contacts/import", csv, bearer(p.token, "text/csv"));
        if (r.status != 200) {
            throw std::runtime_error(
                "contacts import: HTTP " + std::to_string(r.status) + " " + r.body + "; the log:\n" +
                server.log().substr(server.log().size() - std::min<std::size_t>(server.log().size(), 4000)));
        }
    }
    const double import_s = std::chrono::duration<double>(clock_type::now() - started).count();
    note("population: " + std::to_string(o.contacts) + " contacts imported in " + fixed(import_s, 1) +
         " s (" + fixed(static_cast<double>(o.contacts) / import_s, 0) + "/s)");
    // Open sessions: "JOIN" from the first `sessions` contacts; each run then waits for an answer.
    load_options lo;
    lo.ports = {server.port()};
    lo.threads = o.client_threads;
    lo.stop_when_first_done = false;
    const auto conns = std::min(o.connections, std::max<std::size_t>(1, o.sessions));
    std::vector<std::vector<std::string>> lists(conns);
    for (std::size_t i = 0; i < o.sessions; ++i) {
        lists[i % conns].push_back(twilio_webhook(phone_of(i), "JOIN"));
    }
    const auto r = run_load(lo, lists);
    if (bad_answers(r) > 0) {
        throw std::runtime_error("sessions: " + std::to_string(bad_answers(r)) +
                                 " webhooks not answered 2xx");
    }
    // Their questions go out before the population is saved, so the runs start with an empty outbox.
    if (!provider.wait_for(o.sessions, std::chrono::seconds(60))) {
        throw std::runtime_error(
            "sessions: " + std::to_string(provider.received()) + " of " + std::to_string(o.sessions) +
            " questions reached the fake provider; the log:\n" +
            server.log().substr(server.log().size() - std::min<std::size_t>(server.log().size(), 4000)));
    }
    stop_server(server, o, "population");
    note("population: " + std::to_string(o.sessions) + " contacts in a waiting flow session");
}

outbound_figures run_outbound(const options& o, const population& p, int run) {
    test::temp_dir dir;
    fake_provider provider;
    json store;
    if (p.store.contains("postgres")) {
        store = store_config(o, dir, p.store["postgres"].get<std::string>());
    } else {
        for (const char* suffix : {"", "-wal", "-shm"}) {
            const std::string from = p.dir.file(std::string("flowgate.db") + suffix);
            if (std::filesystem::exists(from)) {
                std::filesystem::copy_file(from, dir.file(std::string("flowgate.db") + suffix));
            }
        }
        store = store_config(o, dir);
    }
    write_config(dir, p.key, provider.url(), 0, store);
    test::server_process server(dir.file("config.json"));
    outbound_figures f;
    f.rss_before_mb = read_memory(server.pid()).current_mb;
    json body = {{"text",
                  {{"en", "Reminder: the workshop starts at 10:00 tomorrow. Reply STOP to opt out."},
                   {"ar", "تذكير: تبدأ الورشة غداً الساعة ١٠:٠٠. أرسلوا STOP لإيقاف الرسائل."}}},
                 {"audience", {{"all", true}}},
                 {"channel", "sms"}};
    body["preview"] = true;
    // While the plan reads 100,000 contacts, /healthz is asked every 10 ms, as a load balancer
    // would: its slowest answer says whether an I/O thread waited for the store meanwhile.
    std::atomic<bool> planned{false};
    std::thread prober([&] {
        while (!planned) {
            const auto asked = clock_type::now();
            test::request(server.port(), "GET", "/healthz");
            f.healthz_worst_ms =
                std::max(f.healthz_worst_ms,
                         std::chrono::duration<double, std::milli>(clock_type::now() - asked).count());
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    });
    auto t0 = clock_type::now();
    auto r = test::request(
        server.port(), "POST", "/api/v1/broadcasts", body.dump(), bearer(p.token, "application/json"));
    f.plan_s = std::chrono::duration<double>(clock_type::now() - t0).count();
    planned = true;
    prober.join();
    if (r.status != 200) {
        throw std::runtime_error("broadcast preview: HTTP " + std::to_string(r.status) + " " + r.body);
    }
    body.erase("preview");
    provider.reset();
    t0 = clock_type::now();
    r = test::request(
        server.port(), "POST", "/api/v1/broadcasts", body.dump(), bearer(p.token, "application/json"));
    f.create_s = std::chrono::duration<double>(clock_type::now() - t0).count();
    if (r.status != 201) {
        throw std::runtime_error("broadcast: HTTP " + std::to_string(r.status) + " " + r.body);
    }
    f.recipients = json::parse(r.body).value("recipients", std::size_t{0});
    const auto before = read_commits(server.port());
    const auto sending = clock_type::now();
    const cpu_meter cpu({server.pid()});
    if (!provider.wait_for(f.recipients, std::chrono::minutes(10))) {
        throw std::runtime_error("broadcast: only " + std::to_string(provider.received()) + " of " +
                                 std::to_string(f.recipients) +
                                 " messages reached the fake provider in 10 minutes");
    }
    const double span = std::chrono::duration<double>(provider.last() - provider.first()).count();
    f.messages_per_s = span > 0 ? static_cast<double>(f.recipients - 1) / span : 0;
    f.server_cpu_us = cpu.per(f.recipients).first;
    f.database_cpu_us = cpu.database_per(f.recipients);
    note("run " + std::to_string(run) + ": writer: " +
         describe_commits(before,
                          read_commits(server.port()),
                          std::chrono::duration<double>(clock_type::now() - sending).count()));
    f.peak_rss_mb = read_memory(server.pid()).peak_mb;
    stop_server(server, o, "outbound run " + std::to_string(run));
    note("run " + std::to_string(run) + ": broadcast to " + std::to_string(f.recipients) + ": planned in " +
         fixed(f.plan_s, 2) + " s (/healthz meanwhile at worst " + fixed(f.healthz_worst_ms, 1) +
         " ms), created in " + fixed(f.create_s, 2) + " s, sent at " + fixed(f.messages_per_s, 0) +
         "/s (server CPU " + fixed(f.server_cpu_us, 0) + " us a message" +
         (postgres != nullptr ? ", PostgreSQL " + fixed(f.database_cpu_us, 0) + " us" : std::string()) +
         "); RSS " + fixed(f.rss_before_mb, 1) + " MB after start, peak " + fixed(f.peak_rss_mb, 1) + " MB");
    return f;
}

// ---------------------------------------------------------------------------------------------
// Report

double median(std::vector<double> v) {
    if (v.empty()) {
        return 0;
    }
    std::sort(v.begin(), v.end());
    const auto n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

template <class T>
double median_of(const std::vector<T>& runs, const auto& field) {  // a member or a function of a run
    std::vector<double> v;
    for (const auto& r : runs) {
        v.push_back(std::invoke(field, r));
    }
    return median(v);
}

std::string load_average() {
    std::ifstream in("/proc/loadavg");
    std::string a, b, c;
    in >> a >> b >> c;
    return a + " " + b + " " + c;
}

void row(const std::string& name,
         const std::string& value,
         const std::string& target,
         std::optional<bool> met) {
    std::printf("  %-52s %14s   %-12s %s\n",
                name.c_str(),
                value.c_str(),
                target.c_str(),
                !met   ? ""
                : *met ? "met"
                       : "NOT MET");
}

int run(int argc, char** argv) {
    const options o = parse_options(argc, argv);
    if (o.store == "postgres") {
        postgres = test::postgres_server::start(test::postgres_server::durability::durable);
    }
    const auto wall = std::time(nullptr);
    char date[32];
    std::strftime(date, sizeof date, "%Y-%m-%d %H:%M", std::localtime(&wall));
    std::cerr << "flowgate bench: " << o.runs << " runs, " << std::thread::hardware_concurrency()
              << " cores, load average " << load_average() << std::endl;

    std::vector<inbound_figures> in;
    std::vector<outbound_figures> out;
    if (o.only.empty() || o.only == "inbound") {
        std::cerr << "inbound: " << o.webhooks << " signed Twilio webhooks a run from " << o.senders
                  << " senders on " << o.connections << " connections"
                  << (o.instances > 1
                          ? ", each sending to " + std::to_string(o.instances) + " instances in turn"
                          : "")
                  << "; replies paced at " << o.reply_rate << "/s" << std::endl;
        for (int i = 1; i <= o.runs; ++i) {
            in.push_back(run_inbound(o, i));
        }
    }
    if (o.only.empty() || o.only == "outbound") {
        std::cerr << "outbound: " << o.contacts << " contacts, " << o.sessions << " open sessions"
                  << std::endl;
        population p;
        make_population(o, p);
        for (int i = 1; i <= o.runs; ++i) {
            out.push_back(run_outbound(o, p, i));
        }
    }

    const std::string store_name =
        postgres != nullptr
            ? "PostgreSQL on 127.0.0.1 (fsync, synchronous_commit and full-page writes on), " +
                  (o.writers > 0 ? std::to_string(o.writers) : std::string("the default number of")) +
                  " writers" +
                  (o.instances > 1 ? ", " + std::to_string(o.instances) + " instances for the webhooks"
                                   : std::string())
            : std::string("SQLite (WAL, synchronous=FULL)");
    std::printf(
        "\nflowgate bench, %s: medians of %d runs; %u cores shared by the server%s and the load\n"
        "generator; load average at the end %s\nstore: %s\n\n",
        date,
        o.runs,
        std::thread::hardware_concurrency(),
        postgres != nullptr ? ", PostgreSQL" : "",
        load_average().c_str(),
        store_name.c_str());
    std::printf("  %-52s %14s   %-12s\n", "figure", "measured", "target");
    if (!in.empty()) {
        const double rate = median_of(in, &inbound_figures::webhooks_per_s);
        const double healthz = median_of(in, &inbound_figures::healthz_per_s);
        const double ratio = healthz > 0 ? rate / healthz : 0;
        const double half_p99 = median_of(in, &inbound_figures::half_p99);
        row("webhooks/s, full path, " + std::to_string(o.connections) + " connections",
            fixed(rate, 0),
            ">= 20000",
            rate >= 20000);
        row("  latency p50 / p99 / p999 (ms)",
            fixed(median_of(in, &inbound_figures::p50), 2) + " / " +
                fixed(median_of(in, &inbound_figures::p99), 2) + " / " +
                fixed(median_of(in, &inbound_figures::p999), 2),
            "",
            std::nullopt);
        row("  CPU a webhook: server / load generator (us)",
            fixed(median_of(in, &inbound_figures::server_cpu_us), 0) + " / " +
                fixed(median_of(in, &inbound_figures::client_cpu_us), 0),
            "",
            std::nullopt);
        if (postgres != nullptr) {
            row("  and PostgreSQL's (us)",
                fixed(median_of(in, &inbound_figures::database_cpu_us), 0),
                "",
                std::nullopt);
        }
        row("  of which the writer thread (us)",
            fixed(median_of(in, &inbound_figures::writer_cpu_us), 0),
            "",
            std::nullopt);
        row("  machine / writer thread busy meanwhile (%)",
            fixed(median_of(in, [](const inbound_figures& f) { return f.full_busy.machine; }), 0) + " / " +
                fixed(median_of(in, [](const inbound_figures& f) { return f.full_busy.writer; }), 0),
            "",
            std::nullopt);
        // What the CPU a webhook allows at most: every core busy with webhooks and the load
        // generator and nothing else, and (SQLite) the one writer thread busy all the time.
        const double cores = std::thread::hardware_concurrency();
        const double machine_ceiling = median_of(in, [cores](const inbound_figures& f) {
            const double us = f.server_cpu_us + f.client_cpu_us + f.database_cpu_us;
            return us > 0 ? cores * 1e6 / us : 0;
        });
        if (postgres == nullptr) {
            const double writer_ceiling = median_of(
                in, [](const inbound_figures& f) { return f.writer_cpu_us > 0 ? 1e6 / f.writer_cpu_us : 0; });
            row("  ceilings: every core / the writer always busy (/s)",
                fixed(machine_ceiling, 0) + " / " + fixed(writer_ceiling, 0),
                "",
                std::nullopt);
        } else {
            row("  ceiling: every core always busy (/s)", fixed(machine_ceiling, 0), "", std::nullopt);
        }
        row("/healthz requests/s, same server", fixed(healthz, 0), "", std::nullopt);
        row("  machine busy meanwhile (%)",
            fixed(median_of(in, [](const inbound_figures& f) { return f.healthz_busy.machine; }), 0),
            "",
            std::nullopt);
        row("webhooks/s as a share of /healthz", fixed(100 * ratio, 1) + "%", ">= 25%", ratio >= 0.25);
        row("p99 at half that load, " + fixed(median_of(in, &inbound_figures::half_rate), 0) +
                "/s scheduled (ms)",
            fixed(half_p99, 2),
            "<= 10 ms",
            half_p99 <= 10);
        row("  p50 / p999 at half load (ms)",
            fixed(median_of(in, &inbound_figures::half_p50), 2) + " / " +
                fixed(median_of(in, &inbound_figures::half_p999), 2),
            "",
            std::nullopt);
        row("  p99 of senders' first messages / the rest (ms)",
            fixed(median_of(in, &inbound_figures::half_first_p99), 2) + " / " +
                fixed(median_of(in, &inbound_figures::half_later_p99), 2),
            "",
            std::nullopt);
        std::size_t bad = 0, acknowledged = 0, stored = 0, replies = 0;
        for (const auto& f : in) {
            bad += f.bad;
            acknowledged += f.acknowledged;
            stored += f.stored_inbound;
            replies += f.stored_replies;
        }
        row("  answers not 2xx, connection errors (all runs)", std::to_string(bad), "0", bad == 0);
        // Each webhook answered 2xx is in the database once, with its one reply (exact when no
        // connection failed: a request whose answer was lost may have been stored).
        row("  webhooks answered 2xx: stored / replies queued",
            std::to_string(stored) + " / " + std::to_string(replies),
            "= " + std::to_string(acknowledged),
            stored == acknowledged && replies == acknowledged);
    }
    if (!out.empty()) {
        const double rate = median_of(out, &outbound_figures::messages_per_s);
        const double plan = median_of(out, &outbound_figures::plan_s);
        const double peak = median_of(out, &outbound_figures::peak_rss_mb);
        row("outbound messages/s, keep-alive, no rate limit", fixed(rate, 0), ">= 10000", rate >= 10000);
        row("  server CPU a message (us)",
            fixed(median_of(out, &outbound_figures::server_cpu_us), 0),
            "",
            std::nullopt);
        if (postgres != nullptr) {
            row("  and PostgreSQL's (us)",
                fixed(median_of(out, &outbound_figures::database_cpu_us), 0),
                "",
                std::nullopt);
        }
        row("broadcast plan, " + std::to_string(out.front().recipients) + " recipients (s)",
            fixed(plan, 2),
            "<= 2 s",
            plan <= 2);
        row("  slowest /healthz while it was planned (ms)",
            fixed(median_of(out, &outbound_figures::healthz_worst_ms), 1),
            "",
            std::nullopt);
        row("  broadcast created: plan + messages committed (s)",
            fixed(median_of(out, &outbound_figures::create_s), 2),
            "",
            std::nullopt);
        row("peak RSS, " + std::to_string(o.contacts) + " contacts, " + std::to_string(o.sessions) +
                " sessions (MB)",
            fixed(peak, 1),
            "<= 150 MB",
            peak <= 150);
        row("  RSS after start with that data (MB)",
            fixed(median_of(out, &outbound_figures::rss_before_mb), 1),
            "",
            std::nullopt);
    }
    std::printf("\n");
    postgres.reset();  // the cluster stopped and removed
    return 0;
}

}  // namespace
}  // namespace flowgate::bench

int main(int argc, char** argv) {
    try {
        return flowgate::bench::run(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "flowgate_bench: " << e.what() << std::endl;
        return 1;
    }
}
