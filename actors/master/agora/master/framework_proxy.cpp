#include "agora/master/framework_proxy.hpp"

#include <caf/all.hpp>

#include "agora/master/internal_messages.hpp"

namespace agora::master {

namespace {

struct proxy_state {
  std::string framework_id;
  caf::actor scheduler;
  caf::actor master;
  std::chrono::milliseconds failover_timeout{0};
  /// Bumped on each (re)connection, so a stale failover timer is ignored.
  uint64_t epoch = 0;
  static inline const char* name = "agora.framework_proxy";
};

using proxy_ptr = caf::stateful_actor<proxy_state>*;

using failover_atom = caf::atom_constant<caf::atom("failover")>;

}  // namespace

caf::actor spawn_framework_proxy(caf::actor_system& sys, const std::string& framework_id,
                                 const caf::actor& scheduler, const caf::actor& master,
                                 std::chrono::milliseconds failover_timeout,
                                 std::chrono::milliseconds grace) {
  return sys.spawn([=](proxy_ptr self) -> caf::behavior {
    auto& st = self->state;
    st.framework_id = framework_id;
    st.scheduler = scheduler;
    st.master = master;
    st.failover_timeout = failover_timeout;
    if (scheduler)
      self->monitor(scheduler);
    else
      self->delayed_send(self, grace + failover_timeout, failover_atom::value, st.epoch);
    // The proxy lives no longer than its master.
    self->monitor(master);
    self->set_down_handler([self](const caf::down_msg& dm) {
      auto& st = self->state;
      if (dm.source == st.master.address()) {
        self->quit(dm.reason);
        return;
      }
      if (!st.scheduler || dm.source != st.scheduler.address()) return;
      auto gone = st.scheduler.address();
      st.scheduler = nullptr;
      ++st.epoch;
      self->send(st.master, framework_disconnected{st.framework_id, gone});
      self->delayed_send(self, st.failover_timeout, failover_atom::value, st.epoch);
    });
    // Everything that is not for the proxy itself is for the scheduler.
    self->set_default_handler(
        [self](caf::scheduled_actor*, caf::message_view& x) -> caf::result<caf::message> {
          if (self->state.scheduler) self->send(self->state.scheduler, x.move_content_to_message());
          return caf::message{};
        });
    return {
        [self](failover_atom, uint64_t epoch) {
          auto& st = self->state;
          if (st.scheduler || epoch != st.epoch) return;  // re-subscribed meanwhile
          self->send(st.master, framework_failover_expired{st.framework_id});
        },
        [self](framework_removed& m) {
          // From its master only: the last word to the scheduler, then the
          // proxy is done.
          if (self->current_sender() != self->state.master.address()) return;
          if (self->state.scheduler) self->send(self->state.scheduler, std::move(m.why));
          self->quit();
        },
        [self](framework_reconnected& m) {
          auto& st = self->state;
          if (st.scheduler) self->demonitor(st.scheduler);
          st.scheduler = std::move(m.scheduler);
          ++st.epoch;
          self->monitor(st.scheduler);
        },
    };
  });
}

}  // namespace agora::master
