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
#include <utility>

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

zookeeper_server::zookeeper_server(zookeeper_server_options options)
    : options_(std::move(options)), dir_("agora-zookeeper"), port_(options_.client_port) {}

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
  return four_letter("ruok", std::chrono::milliseconds(500)) == "imok" && !mode().empty();
}

std::string zookeeper_server::mode() const {
  std::string srvr = four_letter("srvr", std::chrono::milliseconds(500));
  auto at = srvr.find("Mode: ");
  if (at == std::string::npos) return {};
  at += 6;
  auto end = srvr.find_first_of("\r\n", at);
  return srvr.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

bool zookeeper_server::healthy() const {
  return process_ && process_->pid() > 0 && !process_->exit_status() && serving();
}

bool zookeeper_server::start(std::chrono::milliseconds timeout, std::string* error) {
  if (!launch(error)) return false;
  if (wait_serving(timeout, error)) return true;
  process_->terminate(std::chrono::seconds(2));
  return false;
}

bool zookeeper_server::launch(std::string* error) {
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
  if (options_.server_id > 0) {
    dir_.write("data/myid", std::to_string(options_.server_id) + "\n");
    for (const auto& line : options_.ensemble) cfg << line << "\n";
  }
  for (const auto& line : options_.extra_config) cfg << line << "\n";
  dir_.write("zoo.cfg", cfg.str());

  std::vector<std::string> args = {"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                                   "-Dzookeeper.log.dir=" + dir_.file("logs"),
                                   "-Dzookeeper.jmx.log4j.disable=true"};
  args.insert(args.end(), options_.jvm_options.begin(), options_.jvm_options.end());
  args.insert(args.end(), {"-cp", class_path(), "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                           dir_.file("zoo.cfg")});
  process_ = std::make_unique<child_process>();
  std::string start_error;
  if (!process_->start("java", args, {}, &start_error))
    return fail("cannot start ZooKeeper: " + start_error);
  return true;
}

bool zookeeper_server::wait_serving(std::chrono::milliseconds timeout, std::string* error) {
  if (!process_) {
    if (error != nullptr) *error = "ZooKeeper was not launched";
    return false;
  }
  bool up = wait_until([&] { return !process_->running() || serving(); }, timeout,
                       std::chrono::milliseconds(50));
  if (up && process_->running()) return true;
  if (error != nullptr)
    *error = "ZooKeeper on " + connect_string() + " did not serve within " +
             std::to_string(timeout.count()) + " ms: " + process_->describe();
  return false;
}

void zookeeper_server::stop() {
  if (process_) process_->terminate(std::chrono::seconds(10));
}

}  // namespace agora::test
