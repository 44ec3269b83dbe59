#pragma once
// Test support: the real flowgate binary as a child process, its log captured.

#include <sys/types.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace flowgate::test {

struct run_result {
    int exit_code = -1;
    std::string output;  // stdout and stderr
};

// Runs the binary to completion with these arguments (in `cwd` when given).
run_result run_flowgate(const std::vector<std::string>& args, const std::string& cwd = "");

class server_process {
   public:
    // Starts `flowgate serve --config FILE` and waits until it logs the port it listens on.
    explicit server_process(const std::string& config_file);
    ~server_process();

    std::uint16_t port() const { return port_; }
    bool running() const { return pid_ > 0; }
    pid_t pid() const { return pid_; }
    // SIGTERM and wait: the graceful path. Returns the exit code.
    int stop();
    // SIGKILL: a crash.
    void kill();
    std::string log();

   private:
    void reap(int sig);

    pid_t pid_ = -1;
    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::thread reader_;
    std::mutex mutex_;
    std::string log_;
    int exit_code_ = -1;
};

// A fresh temporary directory, removed with its contents on destruction.
class temp_dir {
   public:
    temp_dir();
    ~temp_dir();
    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }
    void write(const std::string& name, const std::string& content) const;

   private:
    std::string path_;
};

}  // namespace flowgate::test
