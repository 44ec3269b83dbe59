#pragma once
// Test support: child processes with their output captured (the real flowgate binary, or any
// other program a test runs), and temporary directories.

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <functional>
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

// A program with its stdout and stderr captured, read on a thread as they come. It dies with the
// test: killed by PID in the destructor, and by the kernel if the thread that started it ends first
// (PR_SET_PDEATHSIG), so nothing is left running after a failure or a crash — start it from the
// test's own thread.
class child_process {
   public:
    // Runs argv (argv[0] the program's path), in `cwd` when given; `name` is for diagnostics.
    child_process(std::string name, std::vector<std::string> argv, const std::string& cwd = "");
    ~child_process();
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    // Waits until `done(output)` holds (woken by each read of the output), the output ends, or the
    // timeout passes; returns whether it holds.
    bool wait_for(const std::function<bool(const std::string&)>& done,
                  std::chrono::milliseconds timeout = std::chrono::seconds(30));
    std::string output();
    bool running();
    const std::string& name() const { return name_; }
    pid_t pid() const { return pid_; }

    // Signals the process, waits for it and the end of its output, and returns how it ended: its
    // exit code, or -1 when a signal killed it. Once stopped, returns the same again.
    int stop(int sig = SIGTERM);

   private:
    std::string name_;
    pid_t pid_ = -1;
    int fd_ = -1;
    std::thread reader_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::string output_;
    bool eof_ = false;
    int exit_code_ = -1;
};

class server_process {
   public:
    // Starts `flowgate serve --config FILE` and waits until it logs the port it listens on.
    explicit server_process(const std::string& config_file);

    std::uint16_t port() const { return port_; }
    bool running() const { return process_.pid() > 0; }
    pid_t pid() const { return process_.pid(); }
    // SIGTERM and wait: the graceful path. Returns the exit code.
    int stop() { return process_.stop(SIGTERM); }
    // SIGKILL: a crash.
    void kill() { process_.stop(SIGKILL); }
    std::string log() { return process_.output(); }
    // Waits until the log holds `text` (woken by each read of the server's output); false on timeout.
    bool wait_for_log(const std::string& text, std::chrono::milliseconds timeout = std::chrono::seconds(30));

   private:
    child_process process_;
    std::uint16_t port_ = 0;
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
