// Renders the master's whole state as JSON for `/state`, from scratch.

#include "agora/master/master_actor.hpp"
#include "agora/master/state_view.hpp"

namespace agora::master {

std::string render_state_json(const master_state& st) {
  auto view = std::make_unique<state_view>();
  return render_snapshot(*view->rebuild(st));
}

}  // namespace agora::master
