#include "agora/test/zookeeper_ensemble.hpp"

#include <sstream>

#include "agora/test/ports.hpp"
#include "agora/test/wait.hpp"

namespace agora::test {

zookeeper_ensemble::zookeeper_ensemble(std::size_t size) {
  struct ports {
    uint16_t client, quorum, election;
  };
  std::vector<ports> all;
  std::vector<std::string> lines;
  for (std::size_t i = 0; i < size; ++i) {
    all.push_back({free_port(), free_port(), free_port()});
    lines.push_back("server." + std::to_string(i + 1) + "=127.0.0.1:" +
                    std::to_string(all.back().quorum) + ":" + std::to_string(all.back().election));
  }
  for (std::size_t i = 0; i < size; ++i) {
    zookeeper_server_options options;
    options.client_port = all[i].client;
    options.server_id = static_cast<int>(i + 1);
    options.ensemble = lines;
    // Sessions that outlive a restart of the quorum; no dynamic
    // reconfiguration (zoo.cfg stays as written).
    options.extra_config = {"maxSessionTimeout=60000", "reconfigEnabled=false"};
    // Leader election backs off up to 60 s between notification rounds by
    // default while peers are down; keep rounds short so that restarted
    // members rejoin quickly.
    options.jvm_options = {"-Dzookeeper.fastleader.maxNotificationInterval=1000",
                           "-Dzookeeper.cnxTimeout=1000"};
    servers_.push_back(std::make_unique<zookeeper_server>(std::move(options)));
  }
}

zookeeper_ensemble::~zookeeper_ensemble() {
  for (auto& server : servers_) server->stop();
}

bool zookeeper_ensemble::start(std::chrono::milliseconds timeout, std::string* error) {
  std::vector<std::size_t> all;
  for (std::size_t i = 0; i < servers_.size(); ++i) all.push_back(i);
  return start(all, timeout, error);
}

bool zookeeper_ensemble::start(const std::vector<std::size_t>& indices,
                               std::chrono::milliseconds timeout, std::string* error) {
  for (auto i : indices) {
    std::string launch_error;
    if (!servers_.at(i)->launch(&launch_error)) {
      if (error != nullptr)
        *error = "server." + std::to_string(i + 1) + ": " + launch_error + "\n" + describe();
      return false;
    }
  }
  bool up = wait_until(
      [&] {
        for (auto i : indices)
          if (!servers_[i]->running() || !servers_[i]->serving()) return false;
        return true;
      },
      timeout, std::chrono::milliseconds(100));
  if (up) return true;
  if (error != nullptr) {
    std::ostringstream out;
    out << "the ZooKeeper ensemble did not serve within " << timeout.count() << " ms:\n"
        << describe();
    for (auto i : indices) out << "server." << i + 1 << ": " << servers_[i]->process().describe();
    *error = out.str();
  }
  return false;
}

void zookeeper_ensemble::stop(std::size_t index) { servers_.at(index)->stop(); }

bool zookeeper_ensemble::quorum_serving() const {
  std::size_t serving = 0;
  bool leader = false;
  for (const auto& server : servers_) {
    std::string mode = server->mode();
    if (mode == "leader") leader = true;
    if (mode == "leader" || mode == "follower") ++serving;
  }
  return leader && serving * 2 > servers_.size();
}

int zookeeper_ensemble::leader_index() const {
  for (std::size_t i = 0; i < servers_.size(); ++i)
    if (servers_[i]->mode() == "leader") return static_cast<int>(i);
  return -1;
}

std::string zookeeper_ensemble::connect_string() const {
  std::string out;
  for (const auto& server : servers_) {
    if (!out.empty()) out += ',';
    out += server->connect_string();
  }
  return out;
}

std::string zookeeper_ensemble::describe() const {
  std::ostringstream out;
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    std::string mode = servers_[i]->mode();
    out << "server." << i + 1 << " " << servers_[i]->connect_string() << ": "
        << (mode.empty() ? "not serving" : mode) << "\n";
  }
  return out.str();
}

}  // namespace agora::test
