// The sigtrain program in a child process, for the end-to-end tests (test_cli.cpp, test_cli_checks.cpp):
// the built binary (SIGTRAIN_BINARY), argv without a shell, stdout and stderr captured separately, the
// exit status or the signal that ended it, a deadline, and optionally text fed to its standard input.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace sigtrain::testing {

struct RunResult {
  int code = -1;   // the exit status; 128 + the signal number when a signal ended the program
  int signal = 0;  // the signal that ended it, 0 when it exited normally
  bool timed_out = false;
  std::string out, err;
};

inline std::string command_line(const std::vector<std::string>& args) {
  std::string s = "sigtrain";
  for (const std::string& a : args) s += " '" + a + "'";
  return s;
}

// sigtrain in a child process: arguments passed as an argv array (no shell), stdin from /dev/null or,
// given `input`, from a pipe that is fed `input` and then closed, stdout and stderr on two pipes. The
// three pipes are served together (poll) so that none can fill up and block the child.
class Child {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Child(const std::vector<std::string>& args, std::optional<std::string> input = std::nullopt)
      : input_(input.value_or("")) {
    int out_pipe[2], err_pipe[2], in_pipe[2] = {-1, -1};
    if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0 ||
        (input && pipe2(in_pipe, O_CLOEXEC) != 0)) {
      ADD_FAILURE() << "pipe2 failed: " << std::strerror(errno);
      return;
    }
    // A child that exits before reading all its input must fail the write (EPIPE), not kill the tests.
    if (input) signal(SIGPIPE, SIG_IGN);
    // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
    std::vector<std::string> storage;
    storage.push_back(SIGTRAIN_BINARY);
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& s : storage) argv.push_back(s.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      const int in = input ? in_pipe[0] : open("/dev/null", O_RDONLY);
      if (in < 0 || dup2(in, 0) < 0 || dup2(out_pipe[1], 1) < 0 || dup2(err_pipe[1], 2) < 0) _exit(126);
      // A test runner started in the background may ignore or block SIGINT; the program must see it.
      signal(SIGINT, SIG_DFL);
      signal(SIGPIPE, SIG_DFL);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out_pipe[1]);
    close(err_pipe[1]);
    if (input) close(in_pipe[0]);
    if (pid_ < 0) {
      ADD_FAILURE() << "fork failed: " << std::strerror(errno);
      close(out_pipe[0]);
      close(err_pipe[0]);
      if (input) close(in_pipe[1]);
      return;
    }
    out_fd_ = out_pipe[0];
    err_fd_ = err_pipe[0];
    if (input) {
      in_fd_ = in_pipe[1];
      fcntl(in_fd_, F_SETFL, O_NONBLOCK);  // written a pipe-full at a time between reads
      if (input_.empty()) close_input();
    }
  }

  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    for (const int fd : {in_fd_, out_fd_, err_fd_})
      if (fd >= 0) close(fd);
  }

  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& out() const { return out_; }

  // Reads until stdout contains `needle` or the time is up; true when it appeared.
  bool read_until(const std::string& needle, double timeout_s) {
    const Clock::time_point deadline = deadline_in(timeout_s);
    while (out_.find(needle) == std::string::npos) {
      if (Clock::now() >= deadline || !pump(deadline)) return out_.find(needle) != std::string::npos;
    }
    return true;
  }

  // Reads both pipes to the end and reaps the child; kills it if it runs past `timeout_s`.
  RunResult finish(double timeout_s) {
    RunResult r;
    const Clock::time_point deadline = deadline_in(timeout_s);
    while (pump(deadline)) {
    }
    if (pid_ <= 0) return r;
    if (out_fd_ >= 0 || err_fd_ >= 0 || Clock::now() >= deadline) {
      // Either the time is up with pipes still open, or the pipes closed and the child may still be
      // running: give it until the deadline to exit.
      while (Clock::now() < deadline) {
        int status = 0;
        const pid_t done = waitpid(pid_, &status, WNOHANG);
        if (done == pid_) return collect(status);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      r.timed_out = true;
      kill(pid_, SIGKILL);
    }
    int status = 0;
    waitpid(pid_, &status, 0);
    RunResult done = collect(status);
    done.timed_out = r.timed_out;
    return done;
  }

 private:
  static Clock::time_point deadline_in(double seconds) {
    return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  }

  RunResult collect(int status) {
    pid_ = -1;
    RunResult r;
    if (WIFEXITED(status)) {
      r.code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      r.signal = WTERMSIG(status);
      r.code = 128 + r.signal;
    }
    r.out = out_;
    r.err = err_;
    return r;
  }

  void close_input() {
    close(in_fd_);
    in_fd_ = -1;
  }

  // Writes what the pipe takes of the input left; closes it when all is written or the child stopped
  // reading (EPIPE), so that the child sees the end of its input.
  void feed_input() {
    const ssize_t wrote = write(in_fd_, input_.data() + input_written_, input_.size() - input_written_);
    if (wrote > 0) input_written_ += size_t(wrote);
    if (input_written_ == input_.size() || (wrote < 0 && errno != EAGAIN && errno != EINTR)) close_input();
  }

  // One round of poll, read and write; false when all pipes are closed or the deadline has passed.
  bool pump(Clock::time_point deadline) {
    pollfd fds[3];
    int n = 0;
    if (out_fd_ >= 0) fds[n++] = {out_fd_, POLLIN, 0};
    if (err_fd_ >= 0) fds[n++] = {err_fd_, POLLIN, 0};
    if (in_fd_ >= 0) fds[n++] = {in_fd_, POLLOUT, 0};
    if (n == 0) return false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    const int ready = poll(fds, nfds_t(n), int(std::min<long long>(left, 100)));
    if (ready < 0 && errno != EINTR) return false;
    for (int k = 0; k < n; ++k) {
      if (!(fds[k].revents & (POLLIN | POLLOUT | POLLHUP | POLLERR))) continue;
      if (fds[k].fd == in_fd_) {
        feed_input();
        continue;
      }
      char buf[65536];
      const ssize_t got = read(fds[k].fd, buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      std::string& into = fds[k].fd == out_fd_ ? out_ : err_;
      if (got > 0) {
        into.append(buf, size_t(got));
      } else {
        int& fd = fds[k].fd == out_fd_ ? out_fd_ : err_fd_;
        close(fd);
        fd = -1;
      }
    }
    return true;
  }

  pid_t pid_ = -1;
  int in_fd_ = -1, out_fd_ = -1, err_fd_ = -1;
  std::string input_;
  size_t input_written_ = 0;
  std::string out_, err_;
};

// Runs sigtrain with `args` to the end (at most `timeout_s`), with `input` on its standard input
// (/dev/null without it).
inline RunResult run(const std::vector<std::string>& args, double timeout_s = 60,
                     std::optional<std::string> input = std::nullopt) {
  Child child(args, std::move(input));
  RunResult r = child.finish(timeout_s);
  EXPECT_FALSE(r.timed_out) << command_line(args) << " ran past " << timeout_s << " s";
  return r;
}

inline std::string describe(const RunResult& r) {
  std::ostringstream s;
  s << "exit code " << r.code;
  if (r.signal) s << " (signal " << r.signal << ")";
  s << "\n--- stdout ---\n" << r.out << "--- stderr ---\n" << r.err << "--------------";
  return s.str();
}

// Runs and requires exit code 0 with nothing on stderr.
inline RunResult run_ok(const std::vector<std::string>& args, double timeout_s = 60,
                        std::optional<std::string> input = std::nullopt) {
  RunResult r = run(args, timeout_s, std::move(input));
  EXPECT_EQ(r.code, 0) << command_line(args) << "\n" << describe(r);
  EXPECT_EQ(r.err, "") << command_line(args);
  return r;
}

}  // namespace sigtrain::testing
