// `flowgate_test_postgres start FILE` starts the throwaway PostgreSQL that the test binaries share
// (a ctest fixture) and writes "port N DIR" into FILE, or "unavailable REASON" when none can run
// here (the tests then skip, or fail as root); `flowgate_test_postgres stop FILE` stops it.

#include <fstream>
#include <iostream>
#include <string>

#include "tests/support/postgres.hpp"

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: flowgate_test_postgres start|stop FILE\n";
        return 2;
    }
    const std::string command = argv[1];
    const std::string file = argv[2];
    if (command == "start") {
        std::ofstream out(file, std::ios::trunc);
        try {
            auto server = flowgate::test::postgres_server::start();
            server->keep();
            out << "port " << server->port() << ' ' << server->dir() << '\n';
            std::cout << "PostgreSQL for the tests on 127.0.0.1:" << server->port() << '\n';
            return 0;
        } catch (const std::exception& e) {
            // Said once here; the tests that need it fail with the reason as root and skip
            // otherwise, and every other test still runs.
            out << "unavailable " << e.what() << '\n';
            std::cerr << "no PostgreSQL for the tests: " << e.what() << '\n';
            return 0;
        }
    }
    if (command == "stop") {
        std::ifstream in(file);
        std::string word;
        std::string dir;
        int port = 0;
        if (in >> word && word == "port" && in >> port >> dir) {
            flowgate::test::postgres_server::stop(dir);
        }
        std::remove(file.c_str());
        return 0;
    }
    std::cerr << "usage: flowgate_test_postgres start|stop FILE\n";
    return 2;
}
