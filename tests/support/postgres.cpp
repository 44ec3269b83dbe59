#include "tests/support/postgres.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "gateway/postgres_store.hpp"
#include "gateway/pq.hpp"
#include "gateway/sqlite.hpp"
#include "gateway/sqlite_store.hpp"

namespace flowgate::test {

namespace fs = std::filesystem;

namespace {

// The newest installed server's programs (/usr/lib/postgresql/15/bin on Debian 12).
std::string bin_dir() {
    std::string best;
    int best_version = -1;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
        const std::string name = e.path().filename().string();
        const int version = std::atoi(name.c_str());
        if (version > best_version && fs::exists(e.path() / "bin" / "initdb")) {
            best_version = version;
            best = (e.path() / "bin").string();
        }
    }
    return best;
}

// Runs a shell command (as `postgres` when we are root); its output goes into `output`.
int run(const std::string& command, std::string& output) {
    const std::string line =
        (geteuid() == 0 ? "runuser -u postgres -- sh -c '" + command + "'" : command) + " 2>&1";
    FILE* p = popen(line.c_str(), "r");
    if (!p) {
        output = "cannot run a shell";
        return -1;
    }
    char buf[512];
    while (const std::size_t n = fread(buf, 1, sizeof buf, p)) {
        output.append(buf, n);
    }
    const int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::uint16_t free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        throw std::runtime_error("no free port on 127.0.0.1");
    }
    close(fd);
    return ntohs(a.sin_port);
}

}  // namespace

std::unique_ptr<postgres_server> postgres_server::start(durability d) {
    const std::string bin = bin_dir();
    if (bin.empty()) {
        throw std::runtime_error(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): apt-get install postgresql");
    }
    char pattern[] = "/tmp/flowgate-pg-XXXXXX";
    if (!mkdtemp(pattern)) {
        throw std::runtime_error("cannot make a temporary directory");
    }
    std::unique_ptr<postgres_server> server(new postgres_server(pattern, 0));
    server->owned_ = true;
    if (geteuid() == 0) {
        const passwd* pg = getpwnam("postgres");
        if (!pg || chown(pattern, pg->pw_uid, pg->pw_gid) != 0) {
            throw std::runtime_error("no `postgres` user to run the server as");
        }
    }
    std::string output;
    const std::string data = server->dir_ + "/data";
    if (run(bin + "/initdb -D " + data + " -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync",
            output) != 0) {
        throw std::runtime_error("initdb failed: " + output);
    }
    // Loopback only, no Unix socket outside our directory. Throwaway: no fsync, since the tests
    // kill flowgate, never the server, and such a cluster need not survive a power cut.
    const std::string durability_options =
        d == durability::throwaway ? " -c fsync=off -c full_page_writes=off" : "";
    for (int attempt = 0; attempt < 5; ++attempt) {
        const std::uint16_t port = free_port();
        output.clear();
        const std::string options = "-c listen_addresses=127.0.0.1 -p " + std::to_string(port) + " -k " +
                                    server->dir_ + durability_options + " -c max_connections=200";
        if (run(bin + "/pg_ctl -D " + data + " -l " + server->dir_ + "/server.log -w -t 60 -o \"" + options +
                    "\" start",
                output) == 0) {
            server->port_ = port;
            return server;
        }
    }
    std::string log;
    std::ifstream in(server->dir_ + "/server.log");
    std::getline(in, log, '\0');
    throw std::runtime_error("pg_ctl start failed: " + output + log);
}

postgres_server::postgres_server(std::string dir, std::uint16_t port) : dir_(std::move(dir)), port_(port) {}

postgres_server::~postgres_server() {
    if (owned_) {
        stop(dir_);
    }
}

void postgres_server::stop(const std::string& dir) {
    const std::string bin = bin_dir();
    if (!bin.empty() && fs::exists(dir + "/data/postmaster.pid")) {
        std::string output;
        run(bin + "/pg_ctl -D " + dir + "/data -m immediate -w stop", output);
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
}

std::string postgres_server::url(const std::string& database) const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

std::string postgres_server::create_database(const std::string& copy_of) {
    static std::atomic<int> counter{0};
    const std::string name = "t_" + std::to_string(getpid()) + "_" + std::to_string(++counter);
    gateway::pq::connection db(url("postgres"));
    if (copy_of.empty()) {
        db.exec("CREATE DATABASE " + name);  // a name we made: no value from outside
    } else {
        const std::string prefix = url("");
        const std::string from = copy_of.substr(std::min(copy_of.size(), prefix.size()));
        if (copy_of.rfind(prefix, 0) != 0 || from.rfind("t_", 0) != 0 ||
            from.find_first_not_of("t_0123456789") != std::string::npos) {
            throw std::runtime_error("not a database this server made: " + copy_of);
        }
        db.exec("CREATE DATABASE " + name + " TEMPLATE " + from);
    }
    return url(name);
}

void postgres_database_test::SetUp() {
    std::string why_not;
    database = new_database(backend::postgres, "", why_not);
    if (database.empty()) {
        GTEST_SKIP() << why_not;
    }
}

int postgres_server::postmaster_pid() const {
    std::ifstream in(dir_ + "/data/postmaster.pid");  // its first line
    int pid = 0;
    return in >> pid ? pid : 0;
}

namespace {

std::mutex shared_mutex;
std::unique_ptr<postgres_server> shared;
std::string shared_failure;
bool shared_tried = false;

// Stops the server this binary started itself when its tests end.
class stop_shared final : public ::testing::Environment {
   public:
    void TearDown() override {
        std::lock_guard lock(shared_mutex);
        shared.reset();
    }
};
[[maybe_unused]] const auto* const registered = ::testing::AddGlobalTestEnvironment(new stop_shared);

}  // namespace

postgres_server* shared_postgres(std::string& why_not) {
    std::lock_guard lock(shared_mutex);
    if (!shared_tried) {
        shared_tried = true;
        if (const char* state = std::getenv("FLOWGATE_TEST_POSTGRES"); state && *state) {
            // The ctest fixture's server: "port DIR", or "unavailable REASON".
            std::ifstream in(state);
            std::string word;
            in >> word;
            if (word == "port") {
                int port = 0;
                std::string dir;
                in >> port >> dir;
                shared = std::make_unique<postgres_server>(dir, static_cast<std::uint16_t>(port));
            } else {
                std::getline(in >> std::ws, shared_failure, '\0');
                while (!shared_failure.empty() &&
                       std::isspace(static_cast<unsigned char>(shared_failure.back()))) {
                    shared_failure.pop_back();
                }
                if (shared_failure.empty()) {
                    shared_failure = "the postgres fixture left no state in " + std::string(state);
                }
            }
        } else {
            try {
                shared = postgres_server::start();
            } catch (const std::exception& e) {
                shared_failure = e.what();
            }
        }
    }
    if (!shared) {
        if (geteuid() == 0) {
            throw std::runtime_error("no PostgreSQL for the tests: " + shared_failure);
        }
        why_not = "skipped: no PostgreSQL server can run here (" + shared_failure +
                  "); as root with the postgresql package these tests run";
        return nullptr;
    }
    return shared.get();
}

std::string new_database(backend b, const std::string& sqlite_path, std::string& why_not) {
    if (b == backend::sqlite) {
        return sqlite_path;
    }
    auto* server = shared_postgres(why_not);
    return server ? server->create_database() : std::string{};
}

std::unique_ptr<gateway::store> open_store(backend b,
                                           const std::string& where,
                                           const gateway::data_key& key) {
    if (b == backend::postgres) {
        return std::make_unique<gateway::postgres_store>(where, key);
    }
    return std::make_unique<gateway::sqlite_store>(where, key);
}

std::vector<std::string> first_row(backend b, const std::string& where, const std::string& sql) {
    std::vector<std::string> out;
    if (b == backend::postgres) {
        gateway::pq::connection db(where);
        const auto r = db.q(sql);
        for (int i = 0; !r.empty() && i < r.columns(); ++i) {
            out.push_back(r.as_string(0, i));
        }
        return out;
    }
    gateway::sqlite::connection db(where);
    sqlite3_stmt* q = nullptr;
    sqlite3_prepare_v2(db.handle(), sql.c_str(), -1, &q, nullptr);
    if (q && sqlite3_step(q) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(q); ++i) {
            const auto* bytes = static_cast<const char*>(sqlite3_column_blob(q, i));
            out.emplace_back(bytes ? bytes : "", static_cast<std::size_t>(sqlite3_column_bytes(q, i)));
        }
    }
    sqlite3_finalize(q);
    return out;
}

}  // namespace flowgate::test
