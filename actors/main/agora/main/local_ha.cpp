#include "agora/main/local_ha.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <glob.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

namespace agora::main {

namespace {

/// Starts `argv` in its own process group with stdout and stderr appended to
/// `log`; returns its pid, 0 on failure.
pid_t spawn(const std::vector<std::string>& argv, const std::string& log) {
  pid_t pid = ::fork();
  if (pid < 0) return 0;
  if (pid == 0) {
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::fprintf(stderr, "cannot run %s\n", args[0]);
    ::_exit(127);
  }
  return pid;
}

/// Sends ZooKeeper's `ruok`; true if it answers `imok`.
bool zookeeper_ok(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::send(fd, "ruok", 4, MSG_NOSIGNAL) == 4) {
    char buf[8] = {0};
    ok = ::recv(fd, buf, 4, MSG_WAITALL) == 4 && std::string(buf, 4) == "imok";
  }
  ::close(fd);
  return ok;
}

void stop_process(pid_t pid) {
  if (pid <= 0) return;
  ::kill(-pid, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds{50});  // bounded shutdown poll
  }
  ::kill(-pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

std::string self_dir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string{"."} : exe.parent_path().string();
}

}  // namespace

bool local_ha::start(const options& opts, std::string& error) {
  opts_ = opts;
  glob_t jars{};
  bool have_jar = ::glob("/usr/share/java/zookeeper*.jar", 0, nullptr, &jars) == 0;
  ::globfree(&jars);
  if (!have_jar) {
    error = "--masters: needs ZooKeeper (Debian package `zookeeper`; scripts/install-deps.sh)";
    return false;
  }
  std::string dir = opts.work_dir + "/zookeeper";
  std::filesystem::create_directories(dir + "/data");
  {
    std::ofstream cfg{dir + "/zoo.cfg"};
    cfg << "dataDir=" << dir << "/data\n"
        << "clientPort=" << opts.zk_port << "\n"
        << "clientPortAddress=127.0.0.1\n"
        << "tickTime=500\n"
        << "admin.enableServer=false\n"
        << "4lw.commands.whitelist=ruok,srvr\n";
  }
  zookeeper_ = spawn({"java", "-cp", "/etc/zookeeper/conf:/usr/share/java/*",
                      "org.apache.zookeeper.server.quorum.QuorumPeerMain", dir + "/zoo.cfg"},
                     dir + "/zookeeper.log");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{60};
  while (!zookeeper_ok(opts.zk_port)) {
    if (std::chrono::steady_clock::now() > deadline || ::waitpid(zookeeper_, nullptr, WNOHANG)) {
      error = "ZooKeeper did not start on 127.0.0.1:" + std::to_string(opts.zk_port) + " (see " +
              dir + "/zookeeper.log)";
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{100});  // start-up poll
  }
  url_ = "zk://127.0.0.1:" + std::to_string(opts.zk_port) + "/agora/local";
  for (size_t i = 0; i < static_cast<size_t>(opts.masters); ++i) {
    masters_.push_back(spawn_master(i));
    // One after the other, so master 0 leads.
    std::this_thread::sleep_for(std::chrono::milliseconds{300});  // stagger start-up
  }
  supervisor_ = std::thread([this] { supervise(); });
  return true;
}

pid_t local_ha::spawn_master(size_t i) {
  std::vector<std::string> argv = {self_dir() + "/agora-master", "--zk=" + url_, "--ip=" + opts_.ip,
                                   "--port=" + std::to_string(opts_.http_port + i),
                                   "--actor-port=" + std::to_string(opts_.actor_port + i)};
  argv.insert(argv.end(), opts_.master_flags.begin(), opts_.master_flags.end());
  return spawn(argv, opts_.work_dir + "/master-" + std::to_string(i) + ".log");
}

void local_ha::supervise() {
  while (!stop_) {
    for (size_t i = 0; i < masters_.size(); ++i) {
      pid_t pid;
      {
        std::lock_guard<std::mutex> guard{mtx_};
        pid = masters_[i];
      }
      int status = 0;
      if (pid > 0 && ::waitpid(pid, &status, WNOHANG) == pid && !stop_) {
        std::cerr << "agora local: master " << i << " (pid " << pid << ") exited; restarting it"
                  << std::endl;
        pid_t again = spawn_master(i);
        std::lock_guard<std::mutex> guard{mtx_};
        masters_[i] = again;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{200});  // supervisor poll
  }
}

std::vector<pid_t> local_ha::master_pids() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return masters_;
}

local_ha::~local_ha() {
  stop_ = true;
  if (supervisor_.joinable()) supervisor_.join();
  for (auto pid : masters_) stop_process(pid);
  stop_process(zookeeper_);
}

}  // namespace agora::main
