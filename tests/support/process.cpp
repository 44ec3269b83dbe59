#include "tests/support/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <stdexcept>

namespace flowgate::test {

namespace {

pid_t spawn(const std::vector<std::string>& args, int& out_fd, const std::string& cwd = "") {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        throw std::runtime_error("pipe failed");
    }
    const pid_t pid = fork();
    if (pid < 0) {
        throw std::runtime_error("fork failed");
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        if (!cwd.empty() && chdir(cwd.c_str()) != 0) {
            _exit(126);
        }
        std::vector<char*> argv;
        std::string bin = FLOWGATE_BIN;
        argv.push_back(bin.data());
        std::vector<std::string> copy = args;
        for (auto& a : copy) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        execv(bin.c_str(), argv.data());
        _exit(127);
    }
    close(fds[1]);
    out_fd = fds[0];
    return pid;
}

}  // namespace

run_result run_flowgate(const std::vector<std::string>& args, const std::string& cwd) {
    int fd = -1;
    const pid_t pid = spawn(args, fd, cwd);
    run_result r;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        r.output.append(buf, static_cast<std::size_t>(n));
    }
    close(fd);
    int status = 0;
    waitpid(pid, &status, 0);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

server_process::server_process(const std::string& config_file) {
    pid_ = spawn({"serve", "--config", config_file}, fd_);
    // Read the log line by line until the port is announced (an event, not a sleep).
    static const std::regex listening(R"(listening on https?://[^:]+:([0-9]+))");
    std::string pending;
    char buf[1024];
    for (;;) {
        const ssize_t n = read(fd_, buf, sizeof buf);
        if (n <= 0) {
            break;
        }
        pending.append(buf, static_cast<std::size_t>(n));
        std::smatch m;
        if (std::regex_search(pending, m, listening)) {
            port_ = static_cast<std::uint16_t>(std::stoi(m[1].str()));
            break;
        }
    }
    log_ = pending;
    if (port_ == 0) {
        reap(SIGKILL);
        throw std::runtime_error("flowgate did not start:\n" + log_);
    }
    reader_ = std::thread([this] {
        char b[4096];
        ssize_t n;
        while ((n = read(fd_, b, sizeof b)) > 0) {
            {
                std::lock_guard lock(mutex_);
                log_.append(b, static_cast<std::size_t>(n));
            }
            logged_.notify_all();
        }
    });
}

server_process::~server_process() {
    if (pid_ > 0) {
        reap(SIGKILL);
    }
    if (reader_.joinable()) {
        reader_.join();
    }
    if (fd_ >= 0) {
        close(fd_);
    }
}

void server_process::reap(int sig) {
    if (pid_ <= 0) {
        return;
    }
    ::kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    pid_ = -1;
}

int server_process::stop() {
    reap(SIGTERM);
    if (reader_.joinable()) {
        reader_.join();
    }
    return exit_code_;
}

void server_process::kill() {
    reap(SIGKILL);
    if (reader_.joinable()) {
        reader_.join();
    }
}

std::string server_process::log() {
    std::lock_guard lock(mutex_);
    return log_;
}

bool server_process::wait_for_log(const std::string& text, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return logged_.wait_for(lock, timeout, [&] { return log_.find(text) != std::string::npos; });
}

temp_dir::temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "flowgate-test-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
        throw std::runtime_error("mkdtemp failed");
    }
    path_ = tmpl;
}

temp_dir::~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

void temp_dir::write(const std::string& name, const std::string& content) const {
    std::ofstream out(file(name), std::ios::binary);
    out << content;
}

}  // namespace flowgate::test
