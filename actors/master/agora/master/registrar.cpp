#include "agora/master/registrar.hpp"

#include <iostream>
#include <thread>

#include <caf/all.hpp>

#include "agora/zk/registry_store.hpp"
#include "agora/zk/session.hpp"

namespace agora::master {

namespace {

using flush_atom = caf::atom_constant<caf::atom("rflush")>;

struct registrar_state {
  registrar_config cfg;
  std::unique_ptr<zk::registry_store> store;
  bool flush_pending = false;
  bool failed = false;
  static inline const char* name = "agora.registrar";
};

using registrar_ptr = caf::stateful_actor<registrar_state, caf::event_based_actor>*;

void fail(registrar_ptr self, const std::string& why) {
  auto& st = self->state;
  if (st.failed) return;
  st.failed = true;
  std::cerr << "agora-master: registrar: " << why << "\n";
  if (st.cfg.on_fatal) st.cfg.on_fatal(why);
}

void changed(registrar_ptr self) {
  auto& st = self->state;
  if (st.flush_pending || st.failed) return;
  st.flush_pending = true;
  self->send(self, flush_atom::value);
}

/// Writes the document; on an unknown outcome (connection loss, timeout)
/// reads it back to learn whether the write happened.
void flush(registrar_ptr self) {
  auto& st = self->state;
  st.flush_pending = false;
  if (st.failed) return;
  auto json = st.cfg.doc.to_json();
  auto written = st.store->write(json, st.cfg.version);
  if (written) {
    st.cfg.version = written.value();
    return;
  }
  auto code = written.code();
  if (code == zk::errc::bad_version) {
    fail(self, "the registry was written by another master: no longer the leader");
    return;
  }
  if (code == zk::errc::connection_loss || code == zk::errc::timeout) {
    auto back = st.store->read();
    if (back && back.value() && back.value()->data == json) {
      st.cfg.version = back.value()->version;
      return;
    }
    if (back && back.value() && back.value()->version == st.cfg.version) {
      // Not written: try again shortly.
      st.flush_pending = true;
      self->delayed_send(self, std::chrono::milliseconds{200}, flush_atom::value);
      return;
    }
    if (back) {
      fail(self, "the registry was written by another master: no longer the leader");
      return;
    }
  }
  fail(self, "cannot write the registry: " + zk::to_string(written.err()));
}

}  // namespace

bool claim_registry(zk::session& s, const std::string& root, int64_t epoch, registry& doc,
                    int32_t& version, std::string& error) {
  zk::registry_store store{s, root};
  // Timeouts and connection losses leave the outcome unknown: read again
  // (our own claim may have landed) and retry, for as long as the session
  // lives (an ended session fails every call at once).
  for (int attempt = 0; attempt < 50; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds{100});  // retry pause
    auto current = store.read();
    if (!current) {
      error = "cannot read the registry: " + zk::to_string(current.err());
      if (current.code() == zk::errc::timeout || current.code() == zk::errc::connection_loss)
        continue;
      return false;
    }
    registry r;
    int32_t expected = zk::registry_store::absent;
    if (current.value()) {
      if (!registry::from_json(current.value()->data, r, error)) return false;
      expected = current.value()->version;
    }
    if (r.leader_epoch > epoch) {
      error = "the registry was claimed by a newer leader (epoch " +
              std::to_string(r.leader_epoch) + " > " + std::to_string(epoch) + ")";
      return false;
    }
    if (r.leader_epoch == epoch && current.value()) {  // an earlier attempt landed
      doc = std::move(r);
      version = expected;
      return true;
    }
    r.leader_epoch = epoch;
    auto written = store.write(r.to_json(), expected);
    if (written) {
      doc = std::move(r);
      version = written.value();
      return true;
    }
    error = "cannot claim the registry: " + zk::to_string(written.err());
    if (written.code() != zk::errc::timeout && written.code() != zk::errc::connection_loss &&
        written.code() != zk::errc::bad_version)
      return false;
  }
  return false;
}

caf::actor spawn_registrar(caf::actor_system& sys, registrar_config cfg) {
  return sys.spawn<caf::detached>(
      [cfg = std::move(cfg)](registrar_ptr self) mutable -> caf::behavior {
        auto& st = self->state;
        st.cfg = std::move(cfg);
        st.store = std::make_unique<zk::registry_store>(*st.cfg.session, st.cfg.root);
        return {
            [self](registry_admit_agent& m) {
              auto& a = self->state.cfg.doc.agents[m.agent_id];
              if (a.hostname == m.hostname && a.principal == m.principal &&
                  a.state == registry::agent_state::admitted)
                return;
              a.hostname = m.hostname;
              a.principal = m.principal;
              a.state = registry::agent_state::admitted;
              changed(self);
            },
            [self](registry_agent_unreachable& m) {
              auto it = self->state.cfg.doc.agents.find(m.agent_id);
              if (it == self->state.cfg.doc.agents.end() ||
                  it->second.state == registry::agent_state::unreachable)
                return;
              it->second.state = registry::agent_state::unreachable;
              changed(self);
            },
            [self](registry_remove_framework& m) {
              self->state.cfg.doc.remove_framework(m.framework_id);
              changed(self);
            },
            [self](registry_set_policy& m) {
              self->state.cfg.doc.policy = std::move(m.policy);
              changed(self);
            },
            [self](flush_atom) { flush(self); },
        };
      });
}

}  // namespace agora::master
