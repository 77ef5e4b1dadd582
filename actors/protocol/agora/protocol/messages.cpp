#include "agora/protocol/messages.hpp"

#include <algorithm>

#include <caf/actor_system_config.hpp>
#include <caf/message.hpp>

#include <cctype>
#include <iterator>

#include "agora/protocol/announce.hpp"
#include "agora/protocol/errors.hpp"

namespace agora::protocol {

namespace {

constexpr const char* state_names[] = {
    "TASK_STAGING",     "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING",
    "TASK_FINISHED",    "TASK_FAILED",   "TASK_KILLED",  "TASK_LOST",
    "TASK_UNREACHABLE", "TASK_DROPPED",  "TASK_ERROR",
};

}  // namespace

std::string to_string(task_state x) {
  auto i = static_cast<size_t>(x);
  return i < std::size(state_names) ? state_names[i] : "TASK_UNKNOWN";
}

bool from_string(const std::string& text, task_state& out) {
  for (size_t i = 0; i < std::size(state_names); ++i) {
    std::string name = state_names[i];
    std::string lower;
    for (char c : name.substr(5)) lower += static_cast<char>(std::tolower(c));
    if (text == name || text == lower) {
      out = static_cast<task_state>(i);
      return true;
    }
  }
  return false;
}

bool is_terminal(task_state x) {
  switch (x) {
    case task_state::staging:
    case task_state::starting:
    case task_state::running:
    case task_state::killing:
    case task_state::unreachable:  // the agent may come back (partition-aware frameworks)
      return false;
    default:
      return true;
  }
}

namespace {

int progress(task_state x) {
  switch (x) {
    case task_state::staging:
      return 0;
    case task_state::starting:
      return 1;
    case task_state::running:
      return 2;
    case task_state::killing:
      return 3;
    default:
      return 4;
  }
}

}  // namespace

bool is_valid_transition(task_state from, task_state to) {
  if (is_terminal(from)) return false;
  // Any live task can become unreachable with its agent; an unreachable task
  // returns (running, killing) with its agent or ends.
  if (to == task_state::unreachable) return from != task_state::unreachable;
  if (from == task_state::unreachable)
    return to != task_state::staging && to != task_state::starting;
  return progress(to) > progress(from) || from == to;
}

bool partition_aware(const framework_info& x) {
  return std::find(x.capabilities.begin(), x.capabilities.end(), "PARTITION_AWARE") !=
         x.capabilities.end();
}

bool task_killing_state(const framework_info& x) {
  return std::find(x.capabilities.begin(), x.capabilities.end(), "TASK_KILLING_STATE") !=
         x.capabilities.end();
}

bool parse_attributes(const std::string& text, attribute_map& out, std::string& error) {
  out.clear();
  size_t pos = 0;
  while (pos <= text.size()) {
    auto end = text.find(';', pos);
    if (end == std::string::npos) end = text.size();
    auto item = text.substr(pos, end - pos);
    pos = end + 1;
    if (item.empty()) continue;
    auto colon = item.find(':');
    if (colon == std::string::npos || colon == 0) {
      error = "'" + item + "' is not NAME:VALUE";
      return false;
    }
    out[item.substr(0, colon)] = item.substr(colon + 1);
  }
  return true;
}

void announce(caf::actor_system_config& cfg) {
  cfg.add_message_type<resources>("agora.resources");
  cfg.add_message_type<port_range>("agora.port_range");
  cfg.add_message_type<std::vector<port_range>>("agora.port_ranges");
  cfg.add_message_type<agent_info>("agora.agent_info");
  cfg.add_message_type<framework_info>("agora.framework_info");
  cfg.add_message_type<task_info>("agora.task_info");
  cfg.add_message_type<std::vector<task_info>>("agora.task_infos");
  cfg.add_message_type<task_status>("agora.task_status");
  cfg.add_message_type<std::vector<task_status>>("agora.task_statuses");
  cfg.add_message_type<offer>("agora.offer");
  cfg.add_message_type<std::vector<offer>>("agora.offers");
  cfg.add_message_type<filters>("agora.filters");
  cfg.add_message_type<register_agent>("agora.register_agent");
  cfg.add_message_type<reregister_agent>("agora.reregister_agent");
  cfg.add_message_type<agent_registered>("agora.agent_registered");
  cfg.add_message_type<run_task>("agora.run_task");
  cfg.add_message_type<running_task>("agora.running_task");
  cfg.add_message_type<std::vector<running_task>>("agora.running_tasks");
  cfg.add_message_type<shutdown_framework>("agora.shutdown_framework");
  cfg.add_message_type<status_update>("agora.status_update");
  cfg.add_message_type<subscribe>("agora.subscribe");
  cfg.add_message_type<subscribed>("agora.subscribed");
  cfg.add_message_type<offers_msg>("agora.offers_msg");
  cfg.add_message_type<rescind_offer>("agora.rescind_offer");
  cfg.add_message_type<accept>("agora.accept");
  cfg.add_message_type<decline>("agora.decline");
  cfg.add_message_type<revive>("agora.revive");
  cfg.add_message_type<suppress>("agora.suppress");
  cfg.add_message_type<kill_task>("agora.kill_task");
  cfg.add_message_type<acknowledge>("agora.acknowledge");
  cfg.add_message_type<reconcile>("agora.reconcile");
  cfg.add_message_type<teardown>("agora.teardown");
  cfg.add_message_type<heartbeat>("agora.heartbeat");
  cfg.add_message_type<framework_error>("agora.framework_error");
  cfg.add_message_type<auth_start>("agora.auth_start");
  cfg.add_message_type<auth_challenge>("agora.auth_challenge");
  cfg.add_message_type<auth_proof>("agora.auth_proof");
  cfg.add_message_type<auth_done>("agora.auth_done");
  cfg.add_error_category(errc_category, [](uint8_t code, caf::atom_value, const caf::message& ctx) {
    std::string s = "agora." + to_string(static_cast<errc>(code));
    if (!ctx.empty()) s += ": " + caf::to_string(ctx);
    return s;
  });
}

}  // namespace agora::protocol
