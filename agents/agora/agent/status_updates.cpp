#include "agora/agent/status_updates.hpp"

#include <algorithm>

namespace agora::agent {

using protocol::task_state;
using protocol::task_status;

status_update_manager::status_update_manager() : status_update_manager(options{}) {}

status_update_manager::status_update_manager(options opts) : opts_(opts) {}

void status_update_manager::start_head(stream& s, clock::time_point now) {
  s.backoff = opts_.backoff_min;
  s.next_retry = now + s.backoff;
}

bool status_update_manager::add(const task_status& st, clock::time_point now) {
  auto& s = streams_[{st.framework_id, st.task_id}];
  s.updates.push_back({++seq_, st});
  by_uuid_[st.uuid] = {st.framework_id, st.task_id};
  ++size_;
  if (s.updates.size() > 1) return false;
  start_head(s, now);
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
    streams_.erase(it);
    return std::nullopt;
  }
  start_head(s, now);
  return s.updates.front().status;
}

std::vector<task_status> status_update_manager::due(clock::time_point now) {
  std::vector<std::pair<uint64_t, task_status>> out;
  for (auto& [k, s] : streams_) {
    if (s.updates.empty() || s.next_retry > now) continue;
    out.emplace_back(s.updates.front().seq, s.updates.front().status);
    s.backoff = std::min(s.backoff * 2, opts_.backoff_max);
    s.next_retry = now + s.backoff;
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<task_status> result;
  result.reserve(out.size());
  for (auto& [seq, st] : out) result.push_back(std::move(st));
  return result;
}

std::vector<task_status> status_update_manager::heads(clock::time_point now) {
  std::vector<std::pair<uint64_t, task_status>> out;
  for (auto& [k, s] : streams_) {
    if (s.updates.empty()) continue;
    out.emplace_back(s.updates.front().seq, s.updates.front().status);
    start_head(s, now);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<task_status> result;
  result.reserve(out.size());
  for (auto& [seq, st] : out) result.push_back(std::move(st));
  return result;
}

std::optional<status_update_manager::clock::time_point> status_update_manager::next_due() const {
  std::optional<clock::time_point> out;
  for (const auto& [k, s] : streams_)
    if (!s.updates.empty() && (!out || s.next_retry < *out)) out = s.next_retry;
  return out;
}

std::optional<task_state> status_update_manager::latest_state(const std::string& framework_id,
                                                              const std::string& task_id) const {
  auto it = streams_.find({framework_id, task_id});
  if (it == streams_.end() || it->second.updates.empty()) return std::nullopt;
  return it->second.updates.back().status.state;
}

bool status_update_manager::pending(const std::string& uuid) const {
  return by_uuid_.count(uuid) != 0;
}

}  // namespace agora::agent
