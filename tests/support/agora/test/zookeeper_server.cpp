#include "agora/test/zookeeper_server.hpp"

#include <fcntl.h>
#include <glob.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "agora/test/ports.hpp"
#include "agora/test/wait.hpp"

namespace agora::test {

namespace {

bool on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) dir = ".";
    if (access((dir + "/" + name).c_str(), X_OK) == 0) return true;
  }
  return false;
}

// Returns the JVM class path: Debian's configuration and jars, with
// slf4j-simple first so that ZooKeeper's log goes to stderr (the first of
// the many SLF4J bindings in /usr/share/java wins; slf4j-nop is silent).
std::string class_path() {
  std::string simple = "/usr/share/java/slf4j-simple.jar";
  return "/etc/zookeeper/conf:" +
         (access(simple.c_str(), R_OK) == 0 ? simple + ":" : std::string()) + "/usr/share/java/*";
}

}  // namespace

bool zookeeper_server::available() {
  if (!on_path("java")) return false;
  glob_t found{};
  bool jar = glob("/usr/share/java/zookeeper*.jar", 0, nullptr, &found) == 0 && found.gl_pathc > 0;
  globfree(&found);
  return jar;
}

zookeeper_server::zookeeper_server() : dir_("agora-zookeeper") {}

zookeeper_server::~zookeeper_server() { stop(); }

std::string zookeeper_server::connect_string() const {
  return "127.0.0.1:" + std::to_string(port_);
}

std::string zookeeper_server::four_letter(const std::string& cmd,
                                          std::chrono::milliseconds timeout) const {
  if (port_ == 0) return {};
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return {};
  // Loopback connects complete or fail at once; reads are bounded below.
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port_);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string reply;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      send(fd, cmd.data(), cmd.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(cmd.size())) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[4096];
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd, POLLIN, 0};
      int rc = poll(&p, 1, static_cast<int>(left.count()));
      if (rc < 0 && errno == EINTR) continue;
      if (rc <= 0) break;
      auto n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;  // The server closes after answering.
      reply.append(buf, static_cast<std::size_t>(n));
    }
  }
  close(fd);
  return reply;
}

bool zookeeper_server::serving() const {
  // `ruok` answers `imok` as soon as the port is open, before the server
  // serves requests; `srvr` then still says "not currently serving".
  return four_letter("ruok", std::chrono::milliseconds(500)) == "imok" &&
         four_letter("srvr", std::chrono::milliseconds(500)).find("Mode: ") != std::string::npos;
}

bool zookeeper_server::healthy() const {
  return process_ && process_->pid() > 0 && !process_->exit_status() && serving();
}

bool zookeeper_server::start(std::chrono::milliseconds timeout, std::string* error) {
  auto fail = [&](const std::string& message) {
    if (error != nullptr) *error = message;
    return false;
  };
  if (process_ && process_->running()) return fail("ZooKeeper is already running");
  if (!available())
    return fail("ZooKeeper is not available (needs java and /usr/share/java/zookeeper*.jar)");
  if (port_ == 0) port_ = free_port();
  std::error_code ec;
  std::filesystem::create_directories(dir_.file("data"), ec);
  std::filesystem::create_directories(dir_.file("logs"), ec);
  std::ostringstream cfg;
  cfg << "tickTime=500\n"
      << "initLimit=10\n"
      << "syncLimit=5\n"
      << "dataDir=" << dir_.file("data") << "\n"
      << "clientPort=" << port_ << "\n"
      << "clientPortAddress=127.0.0.1\n"
      << "maxClientCnxns=0\n"
      << "admin.enableServer=false\n"
      << "4lw.commands.whitelist=ruok,srvr\n";
  dir_.write("zoo.cfg", cfg.str());

  process_ = std::make_unique<child_process>();
  std::string start_error;
  bool started = process_->start(
      "java",
      {"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
       "-Dzookeeper.log.dir=" + dir_.file("logs"), "-Dzookeeper.jmx.log4j.disable=true", "-cp",
       class_path(), "org.apache.zookeeper.server.quorum.QuorumPeerMain", dir_.file("zoo.cfg")},
      {}, &start_error);
  if (!started) return fail("cannot start ZooKeeper: " + start_error);
  bool up = wait_until([&] { return !process_->running() || serving(); }, timeout,
                       std::chrono::milliseconds(50));
  if (!up || !process_->running()) {
    std::string what = process_->describe();
    process_->terminate(std::chrono::seconds(2));
    return fail("ZooKeeper on " + connect_string() + " did not answer ruok within " +
                std::to_string(timeout.count()) + " ms: " + what);
  }
  return true;
}

void zookeeper_server::stop() {
  if (process_) process_->terminate(std::chrono::seconds(10));
}

}  // namespace agora::test
