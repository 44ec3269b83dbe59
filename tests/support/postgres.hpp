#pragma once
// Test support: a throwaway PostgreSQL server (Debian's postgresql package) on 127.0.0.1 only, on a
// free port, its data and socket in a temporary directory, removed after. As root, initdb and the
// server run as the `postgres` user (runuser); otherwise as the user running the tests.
//
// One server serves a whole test binary: the one a ctest fixture started (FLOWGATE_TEST_POSTGRES
// names its state file; `flowgate_test_postgres start|stop FILE`), or else one started on first use
// and stopped when the tests end. Each test takes a fresh database of its own.

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "gateway/data_key.hpp"
#include "gateway/store.hpp"

namespace flowgate::test {

class postgres_server {
   public:
    // `throwaway` (the tests'): fsync and full-page writes off, since the tests kill flowgate, never
    // the server. `durable` (the bench's): PostgreSQL's defaults, each commit flushed to the disk.
    enum class durability { throwaway, durable };

    // initdb and pg_ctl start. Throws std::runtime_error with the reason when it cannot.
    static std::unique_ptr<postgres_server> start(durability d = durability::throwaway);
    // A server another process started (a ctest fixture): never stopped from here.
    postgres_server(std::string dir, std::uint16_t port);
    ~postgres_server();
    postgres_server(const postgres_server&) = delete;
    postgres_server& operator=(const postgres_server&) = delete;

    std::uint16_t port() const { return port_; }
    const std::string& dir() const { return dir_; }
    // The URL of a database on this server (as the superuser `postgres`, trusted on loopback).
    std::string url(const std::string& database) const;
    // A new, empty database; returns its URL. With `copy_of` (the URL of another database on this
    // server, which nothing may be connected to), a copy of that one instead.
    std::string create_database(const std::string& copy_of = "");
    // The server's own process (the postmaster), whose children are its backends; 0 when unknown.
    int postmaster_pid() const;
    // Leave the server running past this object (the fixture's start command).
    void keep() { owned_ = false; }
    // Stops the server whose directory this is and removes the directory.
    static void stop(const std::string& dir);

   private:
    std::string dir_;
    std::uint16_t port_ = 0;
    bool owned_ = false;
};

// This test binary's server, or nullptr with `why_not` set when none can run here (not root and
// no PostgreSQL installed): the test skips with that message. As root a server that cannot start
// is a failure (the test throws).
postgres_server* shared_postgres(std::string& why_not);

// The store backends a test runs on (TEST_P over both).
enum class backend { sqlite, postgres };
inline void PrintTo(backend b, std::ostream* os) { *os << (b == backend::sqlite ? "sqlite" : "postgres"); }
inline std::string backend_name(backend b) { return b == backend::sqlite ? "sqlite" : "postgres"; }

// A new, empty database: for SQLite the file `sqlite_path`; for PostgreSQL a database on the shared
// server (its URL). Empty, with `why_not` set, when no PostgreSQL can run here.
std::string new_database(backend b, const std::string& sqlite_path, std::string& why_not);
std::unique_ptr<gateway::store> open_store(backend b,
                                           const std::string& where,
                                           const gateway::data_key& key = gateway::data_key::throwaway());
// A fixture with a new PostgreSQL database of its own (`database`, its URL), or skipped with the
// reason when none can run here. A fixture built on it calls its SetUp first, then returns if
// IsSkipped().
class postgres_database_test : public ::testing::Test {
   protected:
    void SetUp() override;
    std::string database;
};

// The first row of a query on a database, each column as its bytes (numbers in decimal); empty
// when there is no row.
std::vector<std::string> first_row(backend b, const std::string& where, const std::string& sql);

}  // namespace flowgate::test
