// agora-master: the master daemon.

#include <iostream>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "agora/main/master_runtime.hpp"
#include "agora/main/signals.hpp"
#include "agora/protocol/announce.hpp"
#include "agora/protocol/transport.hpp"

int main(int argc, char** argv) {
  using namespace agora;
  main::block_termination_signals();
  main::master_options opts;
  cli::flags f{"agora-master",
               "The Agora master: pools agents' resources and offers them to frameworks."};
  main::add_master_flags(f, opts);
  f.parse_or_exit(argc, argv);
  if (!f.positional().empty()) {
    std::cerr << "agora-master: error: unexpected argument '" << f.positional().front() << "'\n";
    return 2;
  }

  if (auto bad = main::check_master_flags(opts, !opts.zk.empty()); !bad.empty()) {
    std::cerr << "agora-master: error: " << bad << "\n";
    return 2;
  }

  caf::actor_system_config cfg;
  protocol::announce(cfg);
  protocol::load_transport(cfg, opts.tls);
  caf::actor_system sys{cfg};
  std::string error;
  auto rt = main::master_runtime::start(sys, opts, error);
  if (!rt) {
    std::cerr << "agora-master: error: " << error << "\n";
    return 1;
  }
  std::cout << "agora-master: http on " << opts.ip << ":" << rt->http_port() << std::endl;
  std::cout << "agora-master: actors on " << opts.ip << ":" << rt->actor_port() << std::endl;
  int sig = main::wait_for_termination_signal();
  std::cout << "agora-master: stopping on signal " << sig << std::endl;
  rt.reset();
  return 0;
}
