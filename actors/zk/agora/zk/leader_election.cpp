#include "agora/zk/leader_election.hpp"

#include <algorithm>
#include <utility>

#include "agora/zk/detail/group.hpp"
#include "agora/zk/detail/worker.hpp"
#include "agora/zk/path.hpp"

namespace agora::zk {

namespace {

// Returns true for errors after which the outcome of a create is unknown.
bool outcome_unknown(errc code) { return code == errc::connection_loss || code == errc::timeout; }

}  // namespace

result<std::unique_ptr<leader_election>> leader_election::start(session& s,
                                                                election_options options) {
  if (auto checked = check_path(options.root); !checked) return checked.err();
  if (options.root == "/")
    return make_error(errc::invalid_argument, "the election root must not be '/'");
  if (!options.on_change)
    return make_error(errc::invalid_argument, "leader_election needs an on_change callback");
  if (options.data.size() > max_data_bytes)
    return make_error(errc::too_large, "contender data of " + std::to_string(options.data.size()) +
                                           " bytes exceeds the limit of " +
                                           std::to_string(max_data_bytes) + " bytes per znode");
  return std::unique_ptr<leader_election>(new leader_election(s, std::move(options)));
}

leader_election::leader_election(session& s, election_options options)
    : session_(s), options_(std::move(options)), dir_(join_path(options_.root, "leader")) {
  // The worker starts last: its first step uses the members above.
  worker_ = std::make_shared<detail::worker>([this] { step(); });
  auto poke = detail::poker(worker_);
  subscription_ = session_.subscribe([poke](session_state) { poke(); });
  worker_->poke();  // A state change before the subscription is not missed.
}

leader_election::~leader_election() { withdraw(); }

election_view leader_election::view() const {
  std::lock_guard lock(mutex_);
  return last_;
}

void leader_election::report(const election_view& v) {
  {
    std::lock_guard lock(mutex_);
    if (reported_ && v == last_) return;
    last_ = v;
    reported_ = true;
  }
  options_.on_change(v);
}

void leader_election::finish(election_view v) {
  finished_ = true;
  v.leading = false;
  report(v);
}

result<void> leader_election::join() {
  if (auto ensured = session_.ensure_path(dir_); !ensured) return ensured;
  if (recover_) {
    // A create whose reply was lost may have succeeded: find our own node
    // (the session owns it) rather than joining twice.
    auto children = session_.get_children(dir_);
    if (!children) return children.err();
    int64_t id = session_.id();
    for (const auto& name : children.value()) {
      if (!detail::member_sequence(name)) continue;
      auto stat = session_.exists(join_path(dir_, name));
      if (!stat) return stat.err();
      if (stat.value() && stat.value()->ephemeral_owner == id) {
        self_ = name;
        recover_ = false;
        return {};
      }
    }
    recover_ = false;
  }
  auto created = session_.create(join_path(dir_, detail::member_prefix), options_.data,
                                 create_mode::ephemeral_sequential);
  if (!created) {
    if (outcome_unknown(created.code())) recover_ = true;
    return created.err();
  }
  self_ = std::string(base_name(created.value()));
  return {};
}

void leader_election::step() {
  if (finished_) return;
  session_state state = session_.state();
  if (is_terminal(state)) {
    election_view v = view();
    v.session = state;
    v.self.clear();
    v.leader.reset();
    v.members.clear();
    finish(std::move(v));
    return;
  }
  if (state != session_state::connected) {
    // Keep what we knew; the state change to come pokes us again.
    election_view v = view();
    v.session = state;
    report(v);
    return;
  }
  if (self_.empty()) {
    if (auto joined = join(); !joined) {
      worker_->poke_after(options_.retry_delay);
      return;
    }
  }
  auto snapshot = detail::read_group(session_, dir_, detail::poker(worker_));
  if (!snapshot) {
    worker_->poke_after(options_.retry_delay);
    return;
  }
  auto& group = snapshot.value();
  election_view v;
  v.session = session_.state();
  v.leader = group.leader;
  v.members = group.members;
  if (std::find(group.members.begin(), group.members.end(), self_) == group.members.end()) {
    // Our node is gone while the session lives: removed by someone else.
    self_.clear();
    finish(std::move(v));
    return;
  }
  if (group.leader && group.leader->member != self_ && group.leader_owner == session_.id()) {
    // A lower member of our own session: a create whose reply was lost
    // and then succeeded after all. Keep the lower one, drop the other.
    session_.remove(join_path(dir_, self_), any_version);
    self_ = group.leader->member;
    worker_->poke();
  }
  v.self = self_;
  v.leading =
      group.leader && group.leader->member == self_ && v.session == session_state::connected;
  report(v);
}

result<void> leader_election::withdraw() {
  if (worker_->on_worker_thread())
    return make_error(errc::wrong_thread, "leader_election::withdraw called from on_change");
  {
    std::lock_guard lock(mutex_);
    if (withdrawn_) return {};
    withdrawn_ = true;
  }
  session_.unsubscribe(subscription_);
  worker_->stop();
  result<void> removed;
  if (!finished_ && !self_.empty()) {
    removed = session_.remove(join_path(dir_, self_), any_version);
    if (!removed && removed.code() == errc::no_node) removed = {};
  }
  election_view v = view();
  v.session = session_.state();
  v.self.clear();
  if (v.leader && v.leader->member == self_) v.leader.reset();
  v.members.erase(std::remove(v.members.begin(), v.members.end(), self_), v.members.end());
  self_.clear();
  finish(std::move(v));
  return removed;
}

}  // namespace agora::zk
