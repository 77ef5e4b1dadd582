#include "agora/agent/status_updates.hpp"

#include <algorithm>

namespace agora::agent {

int64_t status_update_manager::oldest_timestamp_ns() const {
  int64_t oldest = 0;
  for (const auto& [k, s] : streams_) {
    if (s.updates.empty()) continue;
    auto t = s.updates.front().status.timestamp_ns;
    if (oldest == 0 || t < oldest) oldest = t;
  }
  return oldest;
}

using protocol::task_state;
using protocol::task_status;

status_update_manager::status_update_manager() : status_update_manager(options{}) {}

status_update_manager::status_update_manager(options opts) : opts_(opts) {}

void status_update_manager::retry_at(const key& k, stream& s, clock::time_point t) {
  timeline_.erase({s.next_retry, k});
  s.next_retry = t;
  timeline_.insert({t, k});
}

void status_update_manager::start_head(const key& k, stream& s, clock::time_point now) {
  s.backoff = opts_.backoff_min;
  retry_at(k, s, now + s.backoff);
}

std::vector<task_status> status_update_manager::in_order(const std::vector<key>& keys) const {
  std::vector<const queued*> heads;
  heads.reserve(keys.size());
  for (const auto& k : keys) heads.push_back(&streams_.at(k).updates.front());
  std::sort(heads.begin(), heads.end(), [](auto a, auto b) { return a->seq < b->seq; });
  std::vector<task_status> out;
  out.reserve(heads.size());
  for (auto h : heads) out.push_back(h->status);
  return out;
}

bool status_update_manager::add(const task_status& st, clock::time_point now) {
  key k{st.framework_id, st.task_id};
  auto& s = streams_[k];
  s.updates.push_back({++seq_, st});
  by_uuid_[st.uuid] = k;
  ++size_;
  if (s.updates.size() > 1) return false;
  start_head(k, s, now);
  return true;
}

std::optional<task_status> status_update_manager::acknowledge(const std::string& framework_id,
                                                              const std::string& task_id,
                                                              const std::string& uuid,
                                                              clock::time_point now,
                                                              bool* matched) {
  if (matched) *matched = false;
  auto it = streams_.find({framework_id, task_id});
  if (it == streams_.end() || it->second.updates.empty() ||
      it->second.updates.front().status.uuid != uuid)
    return std::nullopt;
  if (matched) *matched = true;
  auto& s = it->second;
  by_uuid_.erase(uuid);
  s.updates.pop_front();
  --size_;
  if (s.updates.empty()) {
    timeline_.erase({s.next_retry, it->first});
    streams_.erase(it);
    return std::nullopt;
  }
  start_head(it->first, s, now);
  return s.updates.front().status;
}

std::vector<task_status> status_update_manager::due(clock::time_point now) {
  std::vector<key> keys;
  for (auto it = timeline_.begin(); it != timeline_.end() && it->first <= now; ++it)
    keys.push_back(it->second);
  auto out = in_order(keys);
  for (const auto& k : keys) {
    auto& s = streams_.at(k);
    s.backoff = std::min(s.backoff * 2, opts_.backoff_max);
    retry_at(k, s, now + s.backoff);
  }
  return out;
}

std::vector<task_status> status_update_manager::heads(clock::time_point now) {
  std::vector<key> keys;
  for (const auto& [k, s] : streams_) keys.push_back(k);
  auto out = in_order(keys);
  for (const auto& k : keys) start_head(k, streams_.at(k), now);
  return out;
}

std::optional<status_update_manager::clock::time_point> status_update_manager::next_due() const {
  if (timeline_.empty()) return std::nullopt;
  return timeline_.begin()->first;
}

std::optional<task_state> status_update_manager::latest_state(const std::string& framework_id,
                                                              const std::string& task_id) const {
  auto it = streams_.find({framework_id, task_id});
  if (it == streams_.end() || it->second.updates.empty()) return std::nullopt;
  return it->second.updates.back().status.state;
}

std::vector<task_status> status_update_manager::queued_updates(const std::string& framework_id,
                                                               const std::string& task_id) const {
  std::vector<task_status> out;
  auto it = streams_.find({framework_id, task_id});
  if (it != streams_.end())
    for (const auto& q : it->second.updates) out.push_back(q.status);
  return out;
}

std::vector<std::pair<std::string, std::string>> status_update_manager::keys() const {
  std::vector<key> out;
  for (const auto& [k, s] : streams_)
    if (!s.updates.empty()) out.push_back(k);
  return out;
}

bool status_update_manager::pending(const std::string& uuid) const {
  return by_uuid_.count(uuid) != 0;
}

}  // namespace agora::agent
