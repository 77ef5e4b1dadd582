#include "agora/policy/vm.hpp"

#include <array>

#include <cmath>
#include <cstring>

#include "agora/policy/detail/vm_ops.hpp"

namespace agora::policy {

using detail::flag;

namespace {

constexpr uint8_t ok = static_cast<uint8_t>(flag::value);
constexpr uint8_t absent = static_cast<uint8_t>(flag::absent);
constexpr uint8_t err = static_cast<uint8_t>(flag::error);

inline double as_f(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}
inline uint64_t of_f(double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  return bits;
}

}  // namespace

vm::vm(std::shared_ptr<const program> prog) : prog_(std::move(prog)) {
  s_.assign(prog_->sreg[chunk_count], 0);
  sf_.assign(prog_->sreg[chunk_count], err);
  v_.assign(prog_->vreg[chunk_count], res_vec{});
  vf_.assign(prog_->vreg[chunk_count], err);
  errors_.assign(prog_->rules.size(), 0);
  for (size_t c = 0; c < chunk_count; ++c)
    for (auto& ins : prog_->chunks[c]) chunk_cost_[c] += cost_of(ins.op);
  for (auto& s : prog_->symbols) intern(s);
  for (size_t r = 0; r < prog_->rules.size(); ++r) {
    auto& rule = prog_->rules[r];
    if (rule.what != rule_info::kind::filter && rule.what != rule_info::kind::score)
      counted_[static_cast<size_t>(rule.stage)].push_back(r);
  }
  run(chunk_id::constant, true);
  count_errors(chunk_id::constant);
}

uint64_t vm::intern(const std::string& s) {
  auto it = symbol_ids_.find(s);
  if (it != symbol_ids_.end()) return it->second;
  symbols_.push_back(s);
  symbol_ids_.emplace(s, symbols_.size() - 1);
  return symbols_.size() - 1;
}

void vm::count_errors(chunk_id c) {
  for (size_t r : counted_[static_cast<size_t>(c)])
    if (sf_[prog_->rules[r].reg] == err) ++errors_[r];
}

void vm::prepare_cycle(const eval_input& in) {
  in_ = &in;
  rack_zones_ready_ = false;
  run(chunk_id::cycle, true);
  count_errors(chunk_id::cycle);
}

namespace {

/// What operands A, B and C of `op` are: 'r' a scalar register, 'v' a
/// vector register, '-' something else (a constant, an index, unused).
std::array<char, 3> operand_kinds(opcode op) {
  switch (op) {
    case opcode::LOADK:
    case opcode::LOADSYM:
    case opcode::LOADB:
    case opcode::FIELD:
    case opcode::AGG_INIT:
    case opcode::AGG_END:
      return {'r', '-', '-'};
    case opcode::LOADV:
    case opcode::FIELDV:
      return {'v', '-', '-'};
    case opcode::MOVEV:
      return {'v', 'v', '-'};
    case opcode::COALESCEV:
    case opcode::RES_ADD:
    case opcode::RES_SUB:
    case opcode::RES_DIV:
      return {'v', 'v', 'v'};
    case opcode::HASV:
    case opcode::RMAX:
    case opcode::RMIN:
    case opcode::RMEAN:
    case opcode::SIZE_L:
      return {'r', 'v', '-'};
    case opcode::RES_MULK:
    case opcode::RES_DIVK:
      return {'v', 'v', 'r'};
    case opcode::RES_GET:
      return {'r', 'v', '-'};
    case opcode::PROJ:
    case opcode::PROJ_R:
      return {'v', 'v', '-'};
    case opcode::FITS:
      return {'r', 'v', 'v'};
    case opcode::SELECTV:
      return {'v', 'r', 'v'};
    case opcode::SPLIT:
      return {'v', 'r', 'r'};
    case opcode::ZONES:
      return {'v', 'v', '-'};
    case opcode::IN_SET:
      return {'r', 'r', 'v'};
    case opcode::JMP_IF_FALSE:
      return {'r', '-', '-'};
    case opcode::JMP:
    case opcode::ITER:
    case opcode::NEXT:
    case opcode::RET:
      return {'-', '-', '-'};
    case opcode::FILTER:
    case opcode::SCORE:
      return {'r', '-', '-'};
    case opcode::NEG_F:
    case opcode::ABS_F:
    case opcode::NOT:
    case opcode::MOVE:
    case opcode::HAS:
      return {'r', 'r', '-'};
    default:
      return {'r', 'r', 'r'};  // Binary scalar operations, SELECT, COALESCE, ACC_*.
  }
}

}  // namespace

bool vm::framework_reads_role() const {
  auto role = static_cast<size_t>(chunk_id::role), fw = static_cast<size_t>(chunk_id::framework);
  auto in_role = [&](char kind, uint8_t x) {
    if (kind == 'r') return x >= prog_->sreg[role] && x < prog_->sreg[fw];
    if (kind == 'v') return x >= prog_->vreg[role] && x < prog_->vreg[fw];
    return false;
  };
  for (auto& ins : prog_->chunks[fw]) {
    if (ins.op == opcode::FIELD || ins.op == opcode::FIELDV) {
      auto o = prog_->fields[ins.bx()].obj;
      if (o == field_ref::object::role || o == field_ref::object::each_role) return true;
    }
    auto kinds = operand_kinds(ins.op);
    if (in_role(kinds[0], ins.a) || in_role(kinds[1], ins.b) || in_role(kinds[2], ins.c))
      return true;
  }
  return false;
}

bool vm::has_loop(chunk_id c) const {
  for (auto& ins : prog_->chunks[static_cast<size_t>(c)])
    if (ins.op == opcode::ITER) return true;
  return false;
}

stage_regs vm::save(chunk_id from, chunk_id to) const {
  stage_regs r;
  auto lo = static_cast<size_t>(from), hi = static_cast<size_t>(to) + 1;
  r.s_lo = prog_->sreg[lo];
  r.v_lo = prog_->vreg[lo];
  r.s.assign(s_.begin() + prog_->sreg[lo], s_.begin() + prog_->sreg[hi]);
  r.sf.assign(sf_.begin() + prog_->sreg[lo], sf_.begin() + prog_->sreg[hi]);
  r.v.assign(v_.begin() + prog_->vreg[lo], v_.begin() + prog_->vreg[hi]);
  r.vf.assign(vf_.begin() + prog_->vreg[lo], vf_.begin() + prog_->vreg[hi]);
  return r;
}

void vm::load(const stage_regs& r) {
  if (!r.s.empty()) {
    std::memcpy(&s_[r.s_lo], r.s.data(), r.s.size() * sizeof(uint64_t));
    std::memcpy(&sf_[r.s_lo], r.sf.data(), r.sf.size());
  }
  if (!r.v.empty()) {
    std::memcpy(&v_[r.v_lo], r.v.data(), r.v.size() * sizeof(res_vec));
    std::memcpy(&vf_[r.v_lo], r.vf.data(), r.vf.size());
  }
}

stage_regs vm::prepare_role(size_t role) {
  role_ = role;
  run(chunk_id::role, true);
  count_errors(chunk_id::role);
  return save(chunk_id::role, chunk_id::role);
}

stage_regs vm::prepare_framework(size_t framework, const stage_regs& role) {
  framework_ = framework;
  role_ = in_->frameworks[framework].role;
  load(role);
  run(chunk_id::framework, true);
  count_errors(chunk_id::framework);
  return save(chunk_id::role, chunk_id::framework);
}

void vm::eval_event(const offer_view& offer) {
  offer_ = &offer;
  run(chunk_id::event, true);
  count_errors(chunk_id::event);
  offer_ = nullptr;
}

stage_regs vm::prepare_agent(size_t agent) {
  agent_ = agent;
  run(chunk_id::agent, true);
  count_errors(chunk_id::agent);
  return save(chunk_id::agent, chunk_id::agent);
}

pair_result vm::eval_pair(const stage_regs& framework, const stage_regs& agent, bool all) {
  load(framework);
  load(agent);
  run(chunk_id::pair, all);
  if (result_.accepted || all) count_errors(chunk_id::pair);
  return result_;
}

rule_value vm::read(size_t rule) const {
  auto& r = prog_->rules[rule];
  rule_value out;
  out.kind = r.kind;
  out.st = static_cast<rule_value::state>(sf_[r.reg]);
  if (out.st != rule_value::state::value) return out;
  switch (r.kind) {
    case value_kind::number:
      out.number = as_f(s_[r.reg]);
      break;
    case value_kind::boolean:
      out.number = s_[r.reg] != 0 ? 1 : 0;
      break;
    case value_kind::symbol:
      out.text = symbols_[s_[r.reg]];
      break;
    case value_kind::vector:
      break;
  }
  return out;
}

void vm::load_field(uint8_t a, uint16_t index) {
  auto& f = prog_->fields[index];
  auto& in = *in_;
  uint64_t bits = 0;
  uint8_t st = ok;
  auto num = [&](double d) { bits = of_f(d); };
  auto boolean = [&](bool b) { bits = b ? 1 : 0; };
  auto sym = [&](const std::string& s) { bits = intern(s); };
  auto lookup = [&](const std::map<std::string, std::string>& m) {
    auto it = m.find(f.key);
    if (it == m.end()) {
      st = absent;
    } else if (f.kind == value_kind::boolean) {
      boolean(it->second == "true");
    } else {
      sym(it->second);
    }
  };
  size_t role_index = f.obj == field_ref::object::each_role ? each_ : role_;
  size_t framework_index = f.obj == field_ref::object::each_framework ? each_ : framework_;
  size_t agent_index = f.obj == field_ref::object::each_agent ? each_ : agent_;
  switch (f.obj) {
    case field_ref::object::cluster:
      if (f.name == "agents")
        num(in.cluster.agents);
      else if (f.name == "cycle.time")
        num(in.cluster.cycle_time);
      else
        st = err;
      break;
    case field_ref::object::role:
    case field_ref::object::each_role: {
      auto& r = in.roles[role_index];
      if (f.name == "name")
        sym(r.name);
      else if (f.name == "path")
        sym(r.path);
      else if (f.name == "weight")
        num(r.weight);
      else if (f.name == "fair_share")
        num(r.fair_share);
      else if (f.name == "active")
        boolean(r.active);
      else if (f.name == "below_guarantee")
        boolean(r.below_guarantee);
      else if (f.name == "preemptible")
        boolean(r.preemptible);
      else
        st = err;
      break;
    }
    case field_ref::object::framework:
    case field_ref::object::each_framework: {
      auto& fw = in.frameworks[framework_index];
      if (f.name == "id")
        sym(fw.id);
      else if (f.name == "user")
        sym(fw.user);
      else if (f.name == "locality_level")
        sym(fw.locality_level);
      else if (f.name == "waiting")
        num(fw.waiting);
      else if (f.name == "labels")
        lookup(fw.labels);
      else
        st = err;
      break;
    }
    case field_ref::object::agent:
    case field_ref::object::each_agent: {
      auto& ag = in.agents[agent_index];
      if (f.name == "id")
        sym(ag.id);
      else if (f.name == "hostname")
        sym(ag.hostname);
      else if (f.name == "attributes")
        lookup(ag.attributes);
      else if (f.name == "metrics") {
        auto it = ag.metrics.find(f.key);
        if (it == ag.metrics.end())
          st = absent;
        else
          num(it->second);
      } else
        st = err;
      break;
    }
    case field_ref::object::offer:
      if (offer_ && f.name == "locality")
        sym(offer_->locality);
      else
        st = err;
      break;
    case field_ref::object::task:
      if (offer_ && f.name == "runtime")
        num(offer_->runtime);
      else
        st = err;
      break;
  }
  s_[a] = bits;
  sf_[a] = st;
}

void vm::load_field_v(uint8_t a, uint16_t index) {
  auto& f = prog_->fields[index];
  auto& in = *in_;
  const res_vec* src = nullptr;
  uint8_t st = ok;
  size_t role_index = f.obj == field_ref::object::each_role ? each_ : role_;
  size_t framework_index = f.obj == field_ref::object::each_framework ? each_ : framework_;
  size_t agent_index = f.obj == field_ref::object::each_agent ? each_ : agent_;
  switch (f.obj) {
    case field_ref::object::cluster:
      src = f.name == "total" ? &in.cluster.total : f.name == "free" ? &in.cluster.free : nullptr;
      break;
    case field_ref::object::role:
    case field_ref::object::each_role: {
      auto& r = in.roles[role_index];
      if (f.name == "allocated")
        src = &r.allocated;
      else if (f.name == "demand")
        src = &r.demand;
      else if (f.name == "guarantee" || f.name == "limit") {
        auto& o = f.name == "guarantee" ? r.guarantee : r.limit;
        if (o)
          src = &*o;
        else
          st = absent;
      }
      break;
    }
    case field_ref::object::framework:
    case field_ref::object::each_framework: {
      auto& fw = in.frameworks[framework_index];
      src = f.name == "allocated"     ? &fw.allocated
            : f.name == "min_request" ? &fw.min_request
            : f.name == "max_request" ? &fw.max_request
                                      : nullptr;
      break;
    }
    case field_ref::object::agent:
    case field_ref::object::each_agent: {
      auto& ag = in.agents[agent_index];
      src = f.name == "total"  ? &ag.total
            : f.name == "free" ? &ag.free
            : f.name == "used" ? &ag.used
                               : nullptr;
      break;
    }
    case field_ref::object::offer:
    case field_ref::object::task:
      src = offer_ && f.name == "res" ? &offer_->res : nullptr;
      break;
  }
  if (src)
    v_[a] = *src;
  else if (st == ok)
    st = err;
  vf_[a] = st;
}

bool vm::to_list(const std::vector<uint64_t>& items, res_vec& out) {
  if (items.size() >= max_resources) return false;
  out = res_vec{};
  out[0] = static_cast<double>(items.size());
  for (size_t k = 0; k < items.size(); ++k) out[k + 1] = static_cast<double>(items[k]);
  return true;
}

void vm::split_symbols(uint64_t text, uint64_t sep, std::vector<uint64_t>& out) {
  // Copies: interning may grow `symbols_`.
  std::string s = symbols_[text], d = symbols_[sep];
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = d.empty() ? std::string::npos : s.find(d, start);
    if (end == std::string::npos) end = s.size();
    if (end > start) out.push_back(intern(s.substr(start, end - start)));
    start = end + (d.empty() ? 1 : d.size());
  }
}

void vm::zones_of_racks(const res_vec& racks, std::vector<uint64_t>& out) {
  // The distinct (rack, zone) pairs of the agents, in the order of the first
  // agent with each, are indexed once per cycle: a framework's lookup then
  // costs the number of racks, not of agents.
  if (!rack_zones_ready_) {
    rack_zones_.clear();
    for (auto& agent : in_->agents) {
      auto rack = agent.attributes.find("rack");
      auto zone = agent.attributes.find("zone");
      if (rack == agent.attributes.end() || zone == agent.attributes.end()) continue;
      std::pair<uint64_t, uint64_t> p{intern(rack->second), intern(zone->second)};
      if (rack_zone_seen_.insert(p).second) rack_zones_.push_back(p);
    }
    rack_zone_seen_.clear();
    rack_zones_ready_ = true;
  }
  auto n = static_cast<size_t>(racks[0]);
  for (auto [r, z] : rack_zones_) {
    bool wanted = false;
    for (size_t k = 1; k <= n; ++k) wanted |= static_cast<uint64_t>(racks[k]) == r;
    if (!wanted) continue;
    bool seen = false;
    for (auto x : out) seen |= x == z;
    if (!seen) out.push_back(z);
  }
}

void vm::run(chunk_id chunk, bool all) {
  ++runs_[static_cast<size_t>(chunk)];
  const auto& code = prog_->chunks[static_cast<size_t>(chunk)];
  const instruction* pc = code.data();
  uint64_t* R = s_.data();
  uint8_t* RF = sf_.data();
  res_vec* V = v_.data();
  uint8_t* VF = vf_.data();
  const double* K = prog_->numbers.data();
  result_ = pair_result{};
  uint64_t spent = 0;  // Loop work in this run (instructions of loop bodies).
  // Flag of a result from two operands: any non-value operand is an error.
  auto f2 = [&](uint8_t b, uint8_t c) -> uint8_t { return (RF[b] | RF[c]) ? err : ok; };
#define AGORA_F(x) as_f(R[x])
  for (;;) {
    const instruction i = *pc++;
    const uint8_t a = i.a, b = i.b, c = i.c;
    switch (i.op) {
      case opcode::LOADK:
        R[a] = of_f(K[i.bx()]);
        RF[a] = ok;
        break;
      case opcode::LOADSYM:
        R[a] = i.bx();
        RF[a] = ok;
        break;
      case opcode::LOADB:
        R[a] = b ? 1 : 0;
        RF[a] = ok;
        break;
      case opcode::LOADV:
        V[a] = prog_->vectors[i.bx()].value;
        VF[a] = ok;
        break;
      case opcode::FIELD:
        load_field(a, i.bx());
        break;
      case opcode::FIELDV:
        load_field_v(a, i.bx());
        break;
      case opcode::MOVE:
        R[a] = R[b];
        RF[a] = RF[b];
        break;
      case opcode::MOVEV:
        V[a] = V[b];
        VF[a] = VF[b];
        break;
      case opcode::ADD_F:
        R[a] = of_f(AGORA_F(b) + AGORA_F(c));
        RF[a] = f2(b, c);
        break;
      case opcode::SUB_F:
        R[a] = of_f(AGORA_F(b) - AGORA_F(c));
        RF[a] = f2(b, c);
        break;
      case opcode::MUL_F:
        R[a] = of_f(AGORA_F(b) * AGORA_F(c));
        RF[a] = f2(b, c);
        break;
      case opcode::DIV_F: {
        double d = AGORA_F(c);
        RF[a] = (f2(b, c) != ok || d == 0) ? err : ok;
        R[a] = of_f(d == 0 ? 0.0 : AGORA_F(b) / d);
        break;
      }
      case opcode::MOD_F: {
        double d = AGORA_F(c);
        RF[a] = (f2(b, c) != ok || d == 0) ? err : ok;
        R[a] = of_f(d == 0 ? 0.0 : std::fmod(AGORA_F(b), d));
        break;
      }
      case opcode::NEG_F:
        R[a] = of_f(-AGORA_F(b));
        RF[a] = RF[b] ? err : ok;
        break;
      case opcode::ABS_F:
        R[a] = of_f(std::fabs(AGORA_F(b)));
        RF[a] = RF[b] ? err : ok;
        break;
      case opcode::MIN_F:
        R[a] = of_f(detail::op_min(AGORA_F(b), AGORA_F(c)));
        RF[a] = f2(b, c);
        break;
      case opcode::MAX_F:
        R[a] = of_f(detail::op_max(AGORA_F(b), AGORA_F(c)));
        RF[a] = f2(b, c);
        break;
      case opcode::LT_F:
        R[a] = AGORA_F(b) < AGORA_F(c);
        RF[a] = f2(b, c);
        break;
      case opcode::LE_F:
        R[a] = AGORA_F(b) <= AGORA_F(c);
        RF[a] = f2(b, c);
        break;
      case opcode::EQ_F:
      case opcode::NE_F:
      case opcode::EQ_B:
      case opcode::NE_B:
      case opcode::EQ_SYM:
      case opcode::NE_SYM: {
        if (RF[b] == err || RF[c] == err) {
          RF[a] = err;
        } else if (RF[b] == absent || RF[c] == absent) {
          R[a] = 0;
          RF[a] = ok;
        } else {
          bool eq = (i.op == opcode::EQ_F || i.op == opcode::NE_F) ? AGORA_F(b) == AGORA_F(c)
                                                                   : R[b] == R[c];
          bool want_eq = i.op == opcode::EQ_F || i.op == opcode::EQ_B || i.op == opcode::EQ_SYM;
          R[a] = eq == want_eq;
          RF[a] = ok;
        }
        break;
      }
      case opcode::NOT:
        R[a] = R[b] == 0;
        RF[a] = RF[b] ? err : ok;
        break;
      case opcode::AND:
      case opcode::OR: {
        bool out = false;
        auto fb = RF[b] == ok ? flag::value : flag::error;
        auto fc = RF[c] == ok ? flag::value : flag::error;
        auto st = i.op == opcode::AND ? detail::logic_and(fb, R[b] != 0, fc, R[c] != 0, out)
                                      : detail::logic_or(fb, R[b] != 0, fc, R[c] != 0, out);
        R[a] = out;
        RF[a] = static_cast<uint8_t>(st);
        break;
      }
      case opcode::SELECT:
        if (RF[b] != ok)
          RF[a] = err;
        else if (R[b] == 0) {
          R[a] = R[c];
          RF[a] = RF[c];
        }
        break;
      case opcode::SELECTV:
        if (RF[b] != ok)
          VF[a] = err;
        else if (R[b] == 0) {
          V[a] = V[c];
          VF[a] = VF[c];
        }
        break;
      case opcode::COALESCE:
        if (RF[b] == absent) {
          R[a] = R[c];
          RF[a] = RF[c];
        } else {
          R[a] = R[b];
          RF[a] = RF[b];
        }
        break;
      case opcode::COALESCEV:
        if (VF[b] == absent) {
          V[a] = V[c];
          VF[a] = VF[c];
        } else {
          V[a] = V[b];
          VF[a] = VF[b];
        }
        break;
      case opcode::HAS:
        R[a] = RF[b] == ok;
        RF[a] = RF[b] == err ? err : ok;
        break;
      case opcode::HASV:
        R[a] = VF[b] == ok;
        RF[a] = VF[b] == err ? err : ok;
        break;
      case opcode::RES_ADD:
        for (size_t k = 0; k < max_resources; ++k) V[a][k] = V[b][k] + V[c][k];
        VF[a] = (VF[b] | VF[c]) ? err : ok;
        break;
      case opcode::RES_SUB:
        for (size_t k = 0; k < max_resources; ++k) V[a][k] = V[b][k] - V[c][k];
        VF[a] = (VF[b] | VF[c]) ? err : ok;
        break;
      case opcode::RES_DIV:
        detail::res_div(V[b], V[c], V[a]);
        VF[a] = (VF[b] | VF[c]) ? err : ok;
        break;
      case opcode::RES_MULK: {
        double k = AGORA_F(c);
        for (size_t x = 0; x < max_resources; ++x) V[a][x] = V[b][x] * k;
        VF[a] = (VF[b] | RF[c]) ? err : ok;
        break;
      }
      case opcode::RES_DIVK: {
        double k = AGORA_F(c);
        for (size_t x = 0; x < max_resources; ++x) V[a][x] = k == 0 ? 0.0 : V[b][x] / k;
        VF[a] = ((VF[b] | RF[c]) || k == 0) ? err : ok;
        break;
      }
      case opcode::RES_GET: {
        double x = V[b][c];
        R[a] = of_f(detail::absent_component(x) ? 0.0 : x);
        RF[a] = (VF[b] || detail::absent_component(x)) ? err : ok;
        break;
      }
      case opcode::PROJ:
      case opcode::PROJ_R: {
        double fill = i.op == opcode::PROJ ? 0.0 : std::nan("");
        for (size_t x = 0; x < max_resources; ++x) V[a][x] = (c >> x) & 1 ? V[b][x] : fill;
        VF[a] = VF[b] ? err : ok;
        break;
      }
      case opcode::RMAX:
      case opcode::RMIN:
      case opcode::RMEAN: {
        double out = 0;
        int how = i.op == opcode::RMAX ? 0 : i.op == opcode::RMIN ? 1 : 2;
        bool any = detail::res_reduce(V[b], how, out);
        R[a] = of_f(any ? out : 0.0);
        RF[a] = (VF[b] || !any) ? err : ok;
        break;
      }
      case opcode::FITS:
        R[a] = detail::res_fits(V[b], V[c]);
        RF[a] = (VF[b] | VF[c]) ? err : ok;
        break;
      case opcode::JMP_IF_FALSE:
        if (RF[a] != ok || R[a] == 0) pc += i.bx();
        break;
      case opcode::JMP:
        pc += i.bx();
        break;
      case opcode::ITER:
        each_ = 0;
        each_size_ = b == 0   ? in_->roles.size()
                     : b == 1 ? in_->frameworks.size()
                              : in_->agents.size();
        if (each_size_ == 0) pc += c;
        break;
      case opcode::NEXT:
        // Runtime metering: a loop whose work overruns the budget stops, and
        // its aggregate (the ACC instruction just before NEXT) errs.
        if ((spent += i.bx()) > loop_budget_) {
          RF[(pc - 2)->a] = err;
          ++cost_overruns_;
          break;
        }
        if (++each_ < each_size_) pc -= i.bx();
        break;
      case opcode::AGG_INIT:
        // 0 sum, 1 count, 2 min, 3 max, 4 any, 5 all.
        R[a] = b == 5 ? 1 : b == 4 ? 0 : of_f(0.0);
        RF[a] = (b == 2 || b == 3) ? absent : ok;
        break;
      case opcode::ACC_SUM:
      case opcode::ACC_COUNT:
      case opcode::ACC_MIN:
      case opcode::ACC_MAX: {
        if (RF[a] == err) break;
        if (RF[c] != ok) {
          RF[a] = err;
          break;
        }
        if (R[c] == 0) break;
        if (i.op == opcode::ACC_COUNT) {
          R[a] = of_f(AGORA_F(a) + 1);
          break;
        }
        if (RF[b] != ok) {
          RF[a] = err;
          break;
        }
        double x = AGORA_F(b);
        if (RF[a] == absent) {
          R[a] = of_f(x);
          RF[a] = ok;
        } else {
          double acc = AGORA_F(a);
          R[a] = of_f(i.op == opcode::ACC_SUM   ? acc + x
                      : i.op == opcode::ACC_MIN ? detail::op_min(acc, x)
                                                : detail::op_max(acc, x));
        }
        break;
      }
      case opcode::ACC_ANY:
      case opcode::ACC_ALL: {
        bool any = i.op == opcode::ACC_ANY;
        if (RF[a] == ok && (R[a] != 0) == any) break;  // Decided.
        if (RF[c] == ok && R[c] == 0) break;           // Filtered out.
        bool elem_ok = RF[c] == ok && RF[b] == ok;
        if (elem_ok && (R[b] != 0) == any) {
          R[a] = any ? 1 : 0;
          RF[a] = ok;
        } else if (!elem_ok) {
          RF[a] = err;
        }
        break;
      }
      case opcode::AGG_END:
        if (RF[a] == absent) RF[a] = err;
        break;
      case opcode::SPLIT: {
        VF[a] = (RF[b] | RF[c]) ? err : ok;
        if (VF[a] != ok) break;
        std::vector<uint64_t> parts;
        split_symbols(R[b], R[c], parts);
        VF[a] = to_list(parts, V[a]) ? ok : err;
        break;
      }
      case opcode::ZONES: {
        VF[a] = VF[b] ? err : ok;
        if (VF[a] != ok) break;
        std::vector<uint64_t> zones;
        zones_of_racks(V[b], zones);
        VF[a] = to_list(zones, V[a]) ? ok : err;
        break;
      }
      case opcode::SIZE_L:
        R[a] = of_f(V[b][0]);
        RF[a] = VF[b] ? err : ok;
        break;
      case opcode::IN_SET: {
        if (RF[b] == err || VF[c] != ok) {
          RF[a] = err;
          break;
        }
        bool found = false;
        if (RF[b] == ok) {
          auto n = static_cast<size_t>(V[c][0]);
          for (size_t k = 1; k <= n; ++k) found |= static_cast<uint64_t>(V[c][k]) == R[b];
        }
        R[a] = found;
        RF[a] = ok;
        break;
      }
      case opcode::FILTER:
        if (RF[a] != ok || R[a] == 0) {
          if (RF[a] != ok) ++errors_[i.bx()];
          if (result_.accepted) {
            result_.accepted = false;
            result_.rejected_by = i.bx();
          }
          if (!all) return;
        }
        break;
      case opcode::SCORE:
        if (RF[a] != ok)
          ++errors_[i.bx()];
        else
          result_.score += prog_->rules[i.bx()].weight * AGORA_F(a);
        break;
      case opcode::RET:
        return;
    }
  }
#undef AGORA_F
}

}  // namespace agora::policy
