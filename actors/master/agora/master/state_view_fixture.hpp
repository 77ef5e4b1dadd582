#pragma once

// A synthetic master state for the tests and benchmarks of the `/state`
// view (state_view.test.cpp, state_view.bench.cpp).

#include <string>

#include "agora/master/master_state.hpp"

namespace agora::master {

/// Builds a master state of `agents` agents with `tasks_per_agent` tasks
/// each, spread over `frameworks` frameworks, and some offers.
inline master_state make_test_state(int agents, int tasks_per_agent, int frameworks) {
  master_state st;
  st.master_id = "m";
  for (int f = 0; f < frameworks; ++f) {
    auto id = "F" + std::to_string(f);
    auto& fw = st.frameworks[id];
    fw.info.id = id;
    fw.info.name = "framework " + std::to_string(f);
    fw.info.roles = {"role" + std::to_string(f % 3)};
  }
  for (int a = 0; a < agents; ++a) {
    auto id = "S" + std::to_string(a);
    auto& ag = st.agents[id];
    ag.info.id = id;
    ag.info.hostname = "host" + std::to_string(a);
    ag.info.total = protocol::resources::make(8, int64_t{32} << 30);
    ag.info.attributes = {{"rack", "r" + std::to_string(a % 10)}};
    for (int t = 0; t < tasks_per_agent; ++t) {
      auto fid = "F" + std::to_string((a + t) % frameworks);
      auto tid = "t" + std::to_string(a) + "-" + std::to_string(t);
      auto& rec = st.tasks[{fid, tid}];
      rec.info.id = tid;
      rec.info.command = "sleep 100";
      rec.info.res = protocol::resources::make(0.1, 64 << 20);
      rec.framework_id = fid;
      rec.agent_id = id;
      rec.role = "role" + std::to_string(((a + t) % frameworks) % 3);
      protocol::task_status s;
      s.task_id = tid;
      s.framework_id = fid;
      s.agent_id = id;
      s.state = protocol::task_state::running;
      rec.set_status(s);
      ag.tasks.insert({fid, tid});
      st.frameworks[fid].tasks.insert(tid);
    }
    if (a % 7 == 0) {
      auto oid = "O" + std::to_string(a);
      auto& o = st.offers[oid];
      o.offer.id = oid;
      o.offer.framework_id = "F" + std::to_string(a % frameworks);
      o.offer.agent_id = id;
      o.offer.role = "role0";
      o.offer.res = protocol::resources::make(1, 1 << 30);
      ag.offers.insert(oid);
      st.frameworks[o.offer.framework_id].offers.insert(oid);
    }
  }
  return st;
}

}  // namespace agora::master
