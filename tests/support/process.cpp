#include "tests/support/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <stdexcept>

namespace flowgate::test {

namespace {

// Forks and runs argv (argv[0] the program's path) with stdout and stderr on a pipe whose read end
// is `out_fd`. The child gets SIGKILL when the thread that started it ends (PR_SET_PDEATHSIG).
pid_t spawn(std::vector<std::string> argv, const std::string& cwd, int& out_fd) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        throw std::runtime_error("pipe failed");
    }
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) {
        throw std::runtime_error("fork failed");
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) {
            _exit(125);
        }
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        if (!cwd.empty() && chdir(cwd.c_str()) != 0) {
            _exit(126);
        }
        std::vector<char*> args;
        for (auto& a : argv) {
            args.push_back(a.data());
        }
        args.push_back(nullptr);
        execv(args[0], args.data());
        _exit(127);
    }
    close(fds[1]);
    out_fd = fds[0];
    return pid;
}

std::vector<std::string> flowgate_argv(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {FLOWGATE_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

}  // namespace

run_result run_flowgate(const std::vector<std::string>& args, const std::string& cwd) {
    int fd = -1;
    const pid_t pid = spawn(flowgate_argv(args), cwd, fd);
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

child_process::child_process(std::string name, std::vector<std::string> argv, const std::string& cwd)
    : name_(std::move(name)) {
    pid_ = spawn(std::move(argv), cwd, fd_);
    reader_ = std::thread([this] {
        char buf[4096];
        ssize_t n;
        while ((n = read(fd_, buf, sizeof buf)) > 0) {
            std::lock_guard lock(mutex_);
            output_.append(buf, static_cast<std::size_t>(n));
            changed_.notify_all();
        }
        std::lock_guard lock(mutex_);
        eof_ = true;
        changed_.notify_all();
    });
}

child_process::~child_process() { stop(SIGKILL); }

bool child_process::wait_for(const std::function<bool(const std::string&)>& done,
                             std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return done(output_) || eof_; }) && done(output_);
}

std::string child_process::output() {
    std::lock_guard lock(mutex_);
    return output_;
}

bool child_process::running() {
    std::lock_guard lock(mutex_);
    return pid_ > 0 && !eof_;
}

int child_process::stop(int sig) {
    if (pid_ > 0) {
        ::kill(pid_, sig);
        int status = 0;
        waitpid(pid_, &status, 0);
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        pid_ = -1;
    }
    if (reader_.joinable()) {
        reader_.join();
    }
    if (fd_ >= 0) {
        close(fd_);
        fd_ = -1;
    }
    return exit_code_;
}

server_process::server_process(const std::string& config_file)
    : process_("flowgate", flowgate_argv({"serve", "--config", config_file})) {
    // Until the port is announced (an event, not a sleep).
    static const std::regex listening(R"j(listening on https?://[^:]+:([0-9]+))j");
    std::smatch m;
    if (process_.wait_for([](const std::string& log) { return std::regex_search(log, listening); },
                          std::chrono::seconds(60))) {
        const std::string log = process_.output();
        std::regex_search(log, m, listening);
        port_ = static_cast<std::uint16_t>(std::stoi(m[1].str()));
    }
    if (port_ == 0) {
        process_.stop(SIGKILL);
        throw std::runtime_error("flowgate did not start:\n" + process_.output());
    }
}

bool server_process::wait_for_log(const std::string& text, std::chrono::milliseconds timeout) {
    return process_.wait_for([&](const std::string& log) { return log.find(text) != std::string::npos; },
                             timeout);
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
    std::ofstream out(file(name), std::ios::binary | std::ios::trunc);
    out << content;
    if (!out) {
        throw std::runtime_error("cannot write " + file(name));
    }
}

}  // namespace flowgate::test
