#include "agora/master/allocator_actor.hpp"

#include <caf/all.hpp>

#include "agora/master/internal_messages.hpp"

namespace agora::master {

namespace {

using protocol::allocate_atom;
using protocol::tick_atom;

struct allocator_state {
  allocator alloc;
  caf::actor master;
  bool cycle_pending = false;
  std::chrono::milliseconds interval{1000};
  static inline const char* name = "agora.allocator";
};

using allocator_actor_ptr = caf::stateful_actor<allocator_state>*;

/// Schedules a cycle right away unless one is already pending (coalescing).
void request_cycle(allocator_actor_ptr self) {
  if (self->state.cycle_pending) return;
  self->state.cycle_pending = true;
  self->send(self, allocate_atom::value);
}

void run_cycle(allocator_actor_ptr self) {
  auto& st = self->state;
  st.cycle_pending = false;
  // Filters expire on the actor system's clock, which is virtual under the
  // deterministic test coordinator; the cycle's own duration is real time.
  auto start = clock_type::now();
  alloc_offers out;
  out.decisions = st.alloc.allocate(self->clock().now());
  auto end = clock_type::now();
  out.cycle_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count();
  for (const auto& role : st.alloc.roles()) {
    out.roles.push_back(
        {role, st.alloc.weight(role), st.alloc.role_share(role), st.alloc.role_allocation(role)});
  }
  self->send(st.master, std::move(out));
}

caf::behavior allocator_behavior(allocator_actor_ptr self, allocator_config cfg,
                                 caf::actor master) {
  self->state.master = std::move(master);
  self->state.interval = cfg.interval;
  if (cfg.policy) self->state.alloc.set_policy(*cfg.policy);
  for (const auto& [role, w] : cfg.weights) self->state.alloc.set_weight(role, w);
  self->delayed_send(self, cfg.interval, tick_atom::value);
  return {
      [=](alloc_add_agent& m) {
        self->state.alloc.add_agent(m.agent_id, m.total, m.used_by, m.hostname, m.attributes);
        request_cycle(self);
      },
      [=](const alloc_remove_agent& m) { self->state.alloc.remove_agent(m.agent_id); },
      [=](const alloc_agent_active& m) {
        self->state.alloc.set_agent_active(m.agent_id, m.active);
        if (m.active) request_cycle(self);
      },
      [=](const alloc_add_framework& m) {
        self->state.alloc.add_framework(m.framework_id, m.roles,
                                        {m.user, m.labels, m.min_request, m.demand});
        request_cycle(self);
      },
      [=](const alloc_remove_framework& m) { self->state.alloc.remove_framework(m.framework_id); },
      [=](const alloc_framework_active& m) {
        self->state.alloc.set_framework_active(m.framework_id, m.active);
        if (m.active) request_cycle(self);
      },
      [=](const alloc_recover& m) {
        self->state.alloc.recover(m.framework_id, m.role, m.agent_id, m.res,
                                  std::chrono::milliseconds{m.refuse_ms}, self->clock().now());
        request_cycle(self);
      },
      [=](const protocol::revive& m) {
        self->state.alloc.revive(m.framework_id, m.roles);
        request_cycle(self);
      },
      [=](const protocol::suppress& m) { self->state.alloc.suppress(m.framework_id, m.roles); },
      [=](allocate_atom) { run_cycle(self); },
      [=](tick_atom) {
        // The periodic cycle: declines' filters expire, so offers can appear
        // without any event.
        request_cycle(self);
        self->delayed_send(self, self->state.interval, tick_atom::value);
      },
  };
}

}  // namespace

caf::actor spawn_allocator(caf::actor_system& sys, const allocator_config& cfg,
                           const caf::actor& master) {
  return sys.spawn(
      [cfg, master](allocator_actor_ptr self) { return allocator_behavior(self, cfg, master); });
}

}  // namespace agora::master
