#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <unordered_set>

namespace agora::master {

/// Remembers the most recent `capacity` distinct ids (oldest forgotten
/// first), with O(1) lookup. The master keeps the ids of removed frameworks
/// in one, so that a torn-down framework cannot subscribe again and the list
/// does not grow without bound.
class bounded_id_set {
 public:
  explicit bounded_id_set(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  /// Adds `id` (no-op if present); forgets the oldest id when full.
  void add(const std::string& id) {
    if (!ids_.insert(id).second) return;
    order_.push_back(id);
    while (order_.size() > capacity_) {
      ids_.erase(order_.front());
      order_.pop_front();
    }
  }

  /// Returns true if `id` is remembered.
  bool contains(const std::string& id) const { return ids_.count(id) != 0; }

  /// Returns how many ids are remembered.
  size_t size() const { return order_.size(); }

  /// Returns the remembered ids, oldest first.
  const std::deque<std::string>& ordered() const { return order_; }

 private:
  size_t capacity_;
  std::unordered_set<std::string> ids_;
  std::deque<std::string> order_;
};

}  // namespace agora::master
