#pragma once

// The master's state as `/state` shows it, kept off the master actor.
//
// The master keeps a `state_view`: one small record per agent, framework,
// active task and offer, each with its JSON already rendered. After changes
// it re-renders only the records it marked changed (`state_changes`) and
// freezes the view into an immutable `state_snapshot`, which costs one
// pointer copy per shard, not per record. HTTP threads turn a snapshot into
// the `/state` document (`render_snapshot`): every pass over all agents or
// tasks, and every sum (resources used and offered per agent, framework and
// cluster) happens there, on the reader's thread, never on the master's.

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "agora/protocol/messages.hpp"
#include "agora/protocol/resources.hpp"

namespace agora::master {

struct master_state;

/// A map from keys to immutable records, split into shards that are
/// copied on write: `freeze` shares every shard with the returned frozen
/// copy, and the next change to a shared shard copies that shard only. The
/// owner (the master actor) changes it from one thread; frozen copies may
/// be read from any thread.
template <class K, class V, size_t Shards = 512>
class cow_map {
 public:
  /// A shard: records sorted by key (a flat vector: a copy is one
  /// allocation, and about ten records are searched faster than a tree).
  using shard = std::vector<std::pair<K, std::shared_ptr<const V>>>;
  using frozen = std::array<std::shared_ptr<const shard>, Shards>;

  void put(const K& key, std::shared_ptr<const V> value) {
    auto& s = writable(key);
    auto it = lower(s, key);
    if (it != s.end() && it->first == key)
      it->second = std::move(value);
    else
      s.emplace(it, key, std::move(value));
  }
  void erase(const K& key) {
    const auto& s = shards_[index(key)];
    if (!s) return;
    auto it = lower(*s, key);
    if (it == s->end() || !(it->first == key)) return;
    auto& w = writable(key);
    w.erase(lower(w, key));
  }
  const V* find(const K& key) const { return find_in(shards_[index(key)].get(), key); }
  frozen freeze() const {
    frozen out;
    for (size_t i = 0; i < Shards; ++i) out[i] = shards_[i];
    return out;
  }

  static size_t index(const K& key) { return std::hash<K>{}(key) % Shards; }

  /// Returns the record of `key` in a frozen copy, or null.
  static const V* find(const frozen& f, const K& key) { return find_in(f[index(key)].get(), key); }

 private:
  template <class Shard>
  static auto lower(Shard& s, const K& key) {
    return std::lower_bound(s.begin(), s.end(), key,
                            [](const auto& entry, const K& k) { return entry.first < k; });
  }
  static const V* find_in(const shard* s, const K& key) {
    if (s == nullptr) return nullptr;
    auto it = lower(*s, key);
    return it != s->end() && it->first == key ? it->second.get() : nullptr;
  }
  shard& writable(const K& key) {
    auto& s = shards_[index(key)];
    // Shared with a frozen copy (or never made): copy it first. A frozen
    // copy holds a reference for as long as anyone can read it, so a count
    // of one means no reader can reach this shard any more.
    if (!s)
      s = std::make_shared<shard>();
    else if (s.use_count() > 1)
      s = std::make_shared<shard>(*s);
    return *s;
  }

  std::array<std::shared_ptr<shard>, Shards> shards_;
};

/// A (framework id, task id) key with a hash.
struct task_key {
  std::string framework_id, task_id;
  friend bool operator<(const task_key& a, const task_key& b) {
    return std::tie(a.framework_id, a.task_id) < std::tie(b.framework_id, b.task_id);
  }
  friend bool operator==(const task_key& a, const task_key& b) {
    return a.framework_id == b.framework_id && a.task_id == b.task_id;
  }
};

}  // namespace agora::master

template <>
struct std::hash<agora::master::task_key> {
  size_t operator()(const agora::master::task_key& k) const noexcept {
    return std::hash<std::string>{}(k.framework_id) * 31 + std::hash<std::string>{}(k.task_id);
  }
};

namespace agora::master {

/// What `/state` shows of an agent, rendered but for the sums that depend
/// on its tasks and offers.
struct agent_view {
  /// `"id":...,...,"attributes":{...}`: the object's fields before
  /// `used_resources`, without braces.
  std::string json;
  protocol::resources total;
  /// Counted in the cluster's totals (not unreachable).
  bool counted = true;
  /// `active`, `disconnected` or `unreachable`.
  const char* health = "active";
  std::string http_address;
};

/// What `/state` shows of a framework, but for its tasks, offers and sums.
struct framework_view {
  /// The object's fields before `tasks`, without braces.
  std::string json;
  bool connected = true;
  /// Its principal, for authorization on HTTP threads (sandbox reads).
  std::string principal;
};

/// An active task (one in the master's `tasks`).
struct task_view {
  std::string agent_id;
  /// The whole object.
  std::string json;
  protocol::resources res;
  /// Its resources count as used (not ended, not released).
  bool uses = true;
  protocol::task_state state = protocol::task_state::staging;
  std::string role;
};

/// An outstanding offer.
struct offer_view {
  std::string framework_id, agent_id, role;
  /// The whole object (as listed under its framework).
  std::string json;
  protocol::resources res;
};

/// What an agent's or a framework's tasks and offers hold, kept by the
/// master as they change (ports only for agents: across agents the same
/// port numbers are different ports).
struct usage {
  protocol::resources used, offered;
  uint64_t tasks = 0;
};

// Shards of about ten records at 40,000 agents and 200,000 tasks: a change
// copies one small shard, a publish copies the shard pointers.
using agent_map = cow_map<std::string, agent_view, 4096>;
using framework_map = cow_map<std::string, framework_view, 64>;
using task_map = cow_map<task_key, task_view, 16384>;
using offer_map = cow_map<std::string, offer_view, 1024>;
using usage_map = cow_map<std::string, usage, 4096>;

/// The frozen state that readers render; immutable once published.
struct state_snapshot {
  agent_map::frozen agents;
  framework_map::frozen frameworks;
  task_map::frozen tasks;
  offer_map::frozen offers;
  /// By agent id and by framework id.
  usage_map::frozen agent_usage, framework_usage;
  /// The document's opening fields (`"id":...` to `leader_info`), without
  /// the opening brace.
  std::string head;
  /// `completed_tasks`, `completed_frameworks`, `roles` and `policy`
  /// members, each `"key":value`, in that order.
  std::string completed_tasks, completed_frameworks, roles, policy;
  /// The `counters` object.
  std::string counters;
  /// Changes with every publish (for caches of the rendering).
  uint64_t version = 0;
};

/// Which parts of `/state` to render: `?only=agents,frameworks,...`.
struct state_filter {
  bool agents = true, frameworks = true, tasks = false, completed = true, roles = true,
       policy = true, cluster = true, counters = true;
  /// Parses a comma-separated `only` value (`agents`, `frameworks`,
  /// `tasks` (a flat list of active tasks), `completed`, `roles`, `policy`,
  /// `cluster`, `counters`); "" means the full document. False with
  /// `error` set for an unknown part.
  static bool parse(const std::string& only, state_filter& out, std::string& error);
};

/// Renders `s` as the `/state` document (or the parts `f` selects).
std::string render_snapshot(const state_snapshot& s, const state_filter& f = {});

/// What changed since the master last published.
struct state_changes {
  std::set<std::string> agents, frameworks, offers;
  std::set<task_key> tasks;
  bool empty() const {
    return agents.empty() && frameworks.empty() && offers.empty() && tasks.empty();
  }
};

/// The master's side: records kept up to date from its state.
class state_view {
 public:
  /// Re-renders the records named in `changed` from `st` (removing those
  /// that are gone), renders the bounded parts, and returns a frozen copy.
  std::shared_ptr<const state_snapshot> update(const master_state& st,
                                               const state_changes& changed);
  /// Renders every record of `st` afresh (as if everything had changed).
  std::shared_ptr<const state_snapshot> rebuild(const master_state& st);

 private:
  std::shared_ptr<const state_snapshot> freeze(const master_state& st);
  /// Adds (`sign` 1) or removes (-1) what a task or an offer holds.
  void account(const std::string& framework_id, const task_view& t, int sign);
  void account(const offer_view& o, int sign);
  void put_task(const task_key& key, std::shared_ptr<const task_view> t);
  void erase_task(const task_key& key);
  void put_offer(const std::string& id, std::shared_ptr<const offer_view> o);
  void erase_offer(const std::string& id);

  agent_map agents_;
  framework_map frameworks_;
  task_map tasks_;
  offer_map offers_;
  usage_map agent_usage_, framework_usage_;
  uint64_t version_ = 0;
};

}  // namespace agora::master
