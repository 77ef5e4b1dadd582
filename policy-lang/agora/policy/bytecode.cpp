#include "agora/policy/bytecode.hpp"

#include <cstdio>
#include <cstring>
#include <sstream>

namespace agora::policy {

const char* to_string(opcode op) {
  static const char* names[] = {
      "LOADK",   "LOADSYM",  "LOADB",    "LOADV",     "FIELD",        "FIELDV",  "MOVE",
      "MOVEV",   "ADD_F",    "SUB_F",    "MUL_F",     "DIV_F",        "MOD_F",   "NEG_F",
      "ABS_F",   "MIN_F",    "MAX_F",    "LT_F",      "LE_F",         "EQ_F",    "NE_F",
      "EQ_B",    "NE_B",     "EQ_SYM",   "NE_SYM",    "NOT",          "AND",     "OR",
      "SELECT",  "SELECTV",  "COALESCE", "COALESCEV", "HAS",          "HASV",    "RES_ADD",
      "RES_SUB", "RES_DIV",  "RES_MULK", "RES_DIVK",  "RES_GET",      "PROJ",    "PROJ_R",
      "RMAX",    "RMIN",     "RMEAN",    "FITS",      "JMP_IF_FALSE", "JMP",     "ITER",
      "NEXT",    "AGG_INIT", "ACC_SUM",  "ACC_COUNT", "ACC_MIN",      "ACC_MAX", "ACC_ANY",
      "ACC_ALL", "AGG_END",  "SPLIT",    "ZONES",     "SIZE_L",       "IN_SET",  "FILTER",
      "SCORE",   "RET"};
  static_assert(sizeof(names) / sizeof(names[0]) == opcode_count, "one name per opcode");
  auto i = static_cast<size_t>(op);
  return i < opcode_count ? names[i] : "?";
}

double cost_of(opcode op) {
  switch (op) {
    case opcode::RES_ADD:
    case opcode::RES_SUB:
    case opcode::RES_DIV:
    case opcode::RES_MULK:
    case opcode::RES_DIVK:
    case opcode::PROJ:
    case opcode::PROJ_R:
    case opcode::RMAX:
    case opcode::RMIN:
    case opcode::RMEAN:
    case opcode::FITS:
    case opcode::FIELDV:
    case opcode::LOADV:
    case opcode::MOVEV:
    case opcode::SELECTV:
    case opcode::COALESCEV:
      return 2;
    case opcode::SPLIT:
    case opcode::IN_SET:
      return 2;
    case opcode::ZONES:
      return 8;  // Scans the agents' rack and zone attributes (not metered).
    case opcode::RET:
      return 0;
    default:
      return 1;
  }
}

const char* to_string(chunk_id c) {
  static const char* names[] = {"const", "cycle", "role", "framework", "agent", "pair", "event"};
  return names[static_cast<size_t>(c)];
}

namespace {

void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_f64(std::string& out, double d) {
  uint64_t v;
  std::memcpy(&v, &d, sizeof v);
  put_u64(out, v);
}
void put_str(std::string& out, const std::string& s) {
  put_u64(out, s.size());
  out += s;
}

}  // namespace

std::string program::canonical_bytes() const {
  std::string out = "AGPB4";  // Format tag, bumped when the layout changes.
  put_str(out, name);
  put_u64(out, static_cast<uint64_t>(version));
  put_u64(out, resources.size());
  for (auto& r : resources) put_str(out, r);
  put_u64(out, numbers.size());
  for (double d : numbers) put_f64(out, d);
  put_u64(out, symbols.size());
  for (auto& s : symbols) put_str(out, s);
  put_u64(out, vectors.size());
  for (auto& v : vectors) {
    out.push_back(v.list ? 1 : 0);
    for (double d : v.value) put_f64(out, d);
  }
  put_u64(out, fields.size());
  for (auto& f : fields) {
    out.push_back(static_cast<char>(f.obj));
    out.push_back(static_cast<char>(f.kind));
    put_str(out, f.name);
    put_str(out, f.key);
  }
  for (size_t c = 0; c <= chunk_count; ++c) {
    put_u64(out, sreg[c]);
    put_u64(out, vreg[c]);
  }
  for (auto& chunk : chunks) {
    put_u64(out, chunk.size());
    for (auto& i : chunk) {
      out.push_back(static_cast<char>(i.op));
      out.push_back(static_cast<char>(i.a));
      out.push_back(static_cast<char>(i.b));
      out.push_back(static_cast<char>(i.c));
    }
  }
  put_u64(out, rules.size());
  for (auto& r : rules) {
    out.push_back(static_cast<char>(r.what));
    put_str(out, r.name);
    out.push_back(static_cast<char>(r.stage));
    out.push_back(static_cast<char>(r.reg));
    out.push_back(static_cast<char>(r.kind));
    out.push_back(r.descending ? 1 : 0);
    put_f64(out, r.weight);
  }
  return out;
}

uint64_t program::hash() const {
  uint64_t h = 14695981039346656037ull;  // FNV-1a 64.
  for (unsigned char ch : canonical_bytes()) {
    h ^= ch;
    h *= 1099511628211ull;
  }
  return h;
}

std::string program::hash_hex() const {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(hash()));
  return buf;
}

namespace {

std::string number_text(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  return buf;
}

std::string field_text(const program& p, const field_ref& f) {
  static const char* objects[] = {"cluster",      "role",        "framework",
                                  "agent",        "each(roles)", "each(frameworks)",
                                  "each(agents)", "offer",       "task"};
  std::string s = objects[static_cast<size_t>(f.obj)];
  s += "." + f.name;
  if (!f.key.empty()) s += "." + f.key;
  (void)p;
  return s;
}

std::string mask_text(const program& p, uint8_t mask) {
  std::string s = "{";
  for (size_t i = 0; i < p.resources.size(); ++i)
    if (mask & (1u << i)) s += (s.size() > 1 ? "," : "") + p.resources[i];
  return s + "}";
}

}  // namespace

std::string disassemble(const program& p) {
  std::ostringstream out;
  out << "program \"" << p.name << "\" version " << p.version << " hash " << p.hash_hex() << "\n";
  out << "resources:";
  for (size_t i = 0; i < p.resources.size(); ++i) out << " " << i << ":" << p.resources[i];
  out << "\nregisters:";
  for (size_t c = 0; c < chunk_count; ++c)
    out << " " << to_string(static_cast<chunk_id>(c)) << " r" << p.sreg[c] << "-" << p.sreg[c + 1]
        << " v" << p.vreg[c] << "-" << p.vreg[c + 1] << (c + 1 < chunk_count ? ";" : "");
  out << "\nrules (" << p.rules.size() << "):\n";
  static const char* kinds[] = {"number", "bool", "symbol", "vector"};
  for (size_t i = 0; i < p.rules.size(); ++i) {
    auto& r = p.rules[i];
    out << "  [" << i << "] " << r.name << ": " << kinds[static_cast<size_t>(r.kind)] << " in r"
        << int(r.reg) << ", stage " << to_string(r.stage);
    if (r.what == rule_info::kind::score) out << ", weight " << number_text(r.weight);
    if (r.descending) out << ", desc";
    out << ", cost";
    bool any = false;
    for (size_t c = 0; c < chunk_count; ++c)
      if (r.cost[c] > 0) {
        out << " " << to_string(static_cast<chunk_id>(c)) << "=" << r.cost[c];
        any = true;
      }
    if (!any) out << " 0";
    out << "\n";
  }
  for (size_t c = 0; c < chunk_count; ++c) {
    auto& code = p.chunks[c];
    double cost = 0;
    for (auto& i : code) cost += cost_of(i.op);
    out << "\n"
        << to_string(static_cast<chunk_id>(c)) << " chunk (" << code.size()
        << " instructions, cost " << cost << ")\n";
    for (size_t k = 0; k < code.size(); ++k) {
      auto& i = code[k];
      auto note = k < p.notes[c].size() ? p.notes[c][k] : std::pair<uint32_t, std::string>{};
      std::string operands, comment = note.second;
      auto r = [](int x) { return "r" + std::to_string(x); };
      auto v = [](int x) { return "v" + std::to_string(x); };
      switch (i.op) {
        case opcode::LOADK:
          operands = r(i.a) + " k" + std::to_string(i.bx());
          comment = number_text(p.numbers[i.bx()]);
          break;
        case opcode::LOADSYM:
          operands = r(i.a) + " s" + std::to_string(i.bx());
          comment = "\"" + p.symbols[i.bx()] + "\"";
          break;
        case opcode::LOADB:
          operands = r(i.a) + " " + std::to_string(i.b);
          break;
        case opcode::LOADV: {
          operands = v(i.a) + " vk" + std::to_string(i.bx());
          auto& k = p.vectors[i.bx()];
          comment.clear();
          if (k.list) {
            for (size_t e = 1; e <= static_cast<size_t>(k.value[0]); ++e)
              comment +=
                  (e > 1 ? ", \"" : "[\"") + p.symbols[static_cast<size_t>(k.value[e])] + "\"";
            comment = comment.empty() ? "[]" : comment + "]";
          } else {
            for (size_t e = 0; e < p.resources.size() && e < max_resources; ++e)
              if (k.value[e] != 0)
                comment += (comment.empty() ? "{" : ", ") + p.resources[e] + ": " +
                           number_text(k.value[e]);
            comment = comment.empty() ? "{}" : comment + "}";
          }
          break;
        }
        case opcode::FIELD:
          operands = r(i.a) + " f" + std::to_string(i.bx());
          comment = field_text(p, p.fields[i.bx()]);
          break;
        case opcode::FIELDV:
          operands = v(i.a) + " f" + std::to_string(i.bx());
          comment = field_text(p, p.fields[i.bx()]);
          break;
        case opcode::MOVEV:
        case opcode::RES_ADD:
        case opcode::RES_SUB:
        case opcode::RES_DIV:
        case opcode::COALESCEV:
          operands = v(i.a) + " " + v(i.b) + (i.op == opcode::MOVEV ? "" : " " + v(i.c));
          break;
        case opcode::SELECTV:
          operands = v(i.a) + " " + r(i.b) + " " + v(i.c);
          break;
        case opcode::RES_MULK:
        case opcode::RES_DIVK:
          operands = v(i.a) + " " + v(i.b) + " " + r(i.c);
          break;
        case opcode::RES_GET:
          operands = r(i.a) + " " + v(i.b) + " " + std::to_string(i.c);
          comment += " [" + (i.c < p.resources.size() ? p.resources[i.c] : "?") + "]";
          break;
        case opcode::PROJ:
        case opcode::PROJ_R:
          operands = v(i.a) + " " + v(i.b) + " " + std::to_string(i.c);
          comment += " " + mask_text(p, i.c);
          break;
        case opcode::RMAX:
        case opcode::RMIN:
        case opcode::RMEAN:
        case opcode::HASV:
          operands = r(i.a) + " " + v(i.b);
          break;
        case opcode::FITS:
          operands = r(i.a) + " " + v(i.b) + " " + v(i.c);
          break;
        case opcode::FILTER:
        case opcode::SCORE:
          operands = r(i.a) + " " + std::to_string(i.bx());
          break;
        case opcode::JMP_IF_FALSE:
          operands = r(i.a) + " " + std::to_string(i.bx());
          comment = "to " + std::to_string(k + 2 + i.bx());
          break;
        case opcode::JMP:
          operands = std::to_string(i.bx());
          comment = "to " + std::to_string(k + 2 + i.bx());
          break;
        case opcode::ITER: {
          static const char* colls[] = {"roles", "frameworks", "agents"};
          operands = std::to_string(i.b) + " " + std::to_string(i.c);
          comment = std::string("for each of ") + (i.b < 3 ? colls[i.b] : "?") + ", if empty to " +
                    std::to_string(k + 2 + i.c);
          break;
        }
        case opcode::NEXT:
          operands = std::to_string(i.bx());
          comment = "loop to " + std::to_string(k + 2 - i.bx());
          break;
        case opcode::AGG_INIT: {
          static const char* aggs[] = {"sum", "count", "min", "max", "any", "all"};
          operands = r(i.a) + " " + std::to_string(i.b);
          comment = i.b < 6 ? aggs[i.b] : "?";
          break;
        }
        case opcode::AGG_END:
          operands = r(i.a);
          break;
        case opcode::SPLIT:
          operands = v(i.a) + " " + r(i.b) + " " + r(i.c);
          break;
        case opcode::ZONES:
          operands = v(i.a) + " " + v(i.b);
          break;
        case opcode::SIZE_L:
          operands = r(i.a) + " " + v(i.b);
          break;
        case opcode::IN_SET:
          operands = r(i.a) + " " + r(i.b) + " " + v(i.c);
          break;
        case opcode::RET:
          break;
        case opcode::MOVE:
        case opcode::NEG_F:
        case opcode::ABS_F:
        case opcode::NOT:
        case opcode::HAS:
          operands = r(i.a) + " " + r(i.b);
          break;
        default:
          operands = r(i.a) + " " + r(i.b) + " " + r(i.c);
          break;
      }
      char line[200];
      std::string where = note.first ? "[" + std::to_string(note.first) + "]" : "[-]";
      std::snprintf(line, sizeof line, "  %3zu  %-6s %-10s %-14s", k + 1, where.c_str(),
                    to_string(i.op), operands.c_str());
      std::string text = line;
      if (!comment.empty()) text += " ; " + comment;
      while (!text.empty() && text.back() == ' ') text.pop_back();
      out << text << "\n";
    }
  }
  return out.str();
}

}  // namespace agora::policy
