#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "agora/policy/eval_input.hpp"
#include "agora/policy/source.hpp"

/// The policy bytecode: the instruction set (one line of semantics per
/// opcode), the immutable `program` the compiler emits and the VM runs, and
/// its disassembler.
///
/// Machine model (in the style of Lua 5's lopcodes.h, not a copy of it):
/// * Two register files of at most 256 registers each: scalar registers
///   `R[i]` (unboxed 8 bytes: a double, a bool as 0/1, or a symbol id) and
///   vector registers `V[i]` (a `res_vec`). Every register also has a state
///   flag: value, absent (an optional without a value) or error.
/// * A vector register may instead hold a list of symbols (`list<string>`):
///   element 0 is the length, elements 1-7 the symbol ids.
/// * Registers are partitioned by stage (const, cycle, role, framework,
///   agent, pair); code of one stage writes only its own registers and reads
///   those of smaller stages, so a value is computed once per stage instance.
/// * Instructions are 32 bits: an 8-bit opcode and three 8-bit operands
///   A, B, C; `Bx` is B | C << 8 (16 bits, constant and field indexes).
/// * Unless an opcode says otherwise, a result is an error when an operand
///   is an error or absent, and a value otherwise ("errors are values").
/// * Control flow: FILTER ends the pair chunk early; `?:` evaluates both
///   branches (pure, errors are values) and picks one with SELECT, so the
///   forward jumps are reserved for lazy branches later.
///   The only backward edge is NEXT, closing one ITER loop over a collection
///   whose size is known when the loop starts (`roles`, `frameworks`,
///   `agents`); loops do not nest.
namespace agora::policy {

/// Opcodes. `R` scalar register, `V` vector register, `K` number constant,
/// `S` symbol (interned string), `F` field table entry. `_F` works on
/// doubles, `_B` on bools, `_SYM` on symbols, `RES_`/`R*` on vectors.
enum class opcode : uint8_t {
  LOADK,    ///< R[A] = K[Bx].
  LOADSYM,  ///< R[A] = S[Bx].
  LOADB,    ///< R[A] = bool(B).
  LOADV,    ///< V[A] = vector constant VK[Bx] (a resource vector, or a list of symbols).
  FIELD,    ///< R[A] = scalar field Bx of the stage's object (number, bool or symbol; absent if
            ///< missing).
  FIELDV,   ///< V[A] = vector field Bx of the stage's object (absent if missing).
  MOVE,     ///< R[A] = R[B] (with its flag).
  MOVEV,    ///< V[A] = V[B] (with its flag).
  ADD_F,    ///< R[A] = R[B] + R[C].
  SUB_F,    ///< R[A] = R[B] - R[C].
  MUL_F,    ///< R[A] = R[B] * R[C].
  DIV_F,    ///< R[A] = R[B] / R[C]; error if R[C] == 0.
  MOD_F,    ///< R[A] = fmod(R[B], R[C]); error if R[C] == 0.
  NEG_F,    ///< R[A] = -R[B].
  ABS_F,    ///< R[A] = |R[B]|.
  MIN_F,    ///< R[A] = min(R[B], R[C]).
  MAX_F,    ///< R[A] = max(R[B], R[C]).
  LT_F,     ///< R[A] = R[B] < R[C].
  LE_F,     ///< R[A] = R[B] <= R[C].
  EQ_F,     ///< R[A] = R[B] == R[C]; false if either is absent.
  NE_F,     ///< R[A] = R[B] != R[C]; false if either is absent.
  EQ_B,     ///< R[A] = R[B] == R[C] (bools); false if either is absent.
  NE_B,     ///< R[A] = R[B] != R[C] (bools); false if either is absent.
  EQ_SYM,   ///< R[A] = R[B] == R[C] (symbols: one integer compare); false if either is absent.
  NE_SYM,   ///< R[A] = R[B] != R[C] (symbols); false if either is absent.
  NOT,      ///< R[A] = !R[B].
  AND,      ///< R[A] = R[B] && R[C]; false if either is false, even if the other errs (CEL).
  OR,       ///< R[A] = R[B] || R[C]; true if either is true, even if the other errs (CEL).
  SELECT,   ///< if R[B] errs: R[A] = error; else if !R[B]: R[A] = R[C] (R[A] holds the then-value).
  SELECTV,  ///< if R[B] errs: V[A] = error; else if !R[B]: V[A] = V[C] (V[A] holds the then-value).
  COALESCE,   ///< R[A] = R[B] absent ? R[C] : R[B].
  COALESCEV,  ///< V[A] = V[B] absent ? V[C] : V[B].
  HAS,        ///< R[A] = R[B] not absent (error if R[B] errs).
  HASV,       ///< R[A] = V[B] not absent (error if V[B] errs).
  RES_ADD,    ///< V[A] = V[B] + V[C] component-wise.
  RES_SUB,    ///< V[A] = V[B] - V[C] component-wise.
  RES_DIV,    ///< V[A] = V[B] / V[C] component-wise (ratios); components with V[C] == 0 are absent.
  RES_MULK,   ///< V[A] = V[B] * R[C] component-wise.
  RES_DIVK,   ///< V[A] = V[B] / R[C] component-wise; error if R[C] == 0.
  RES_GET,    ///< R[A] = V[B][C]; error if that component is absent.
  PROJ,       ///< V[A] = V[B] with components outside mask C set to 0 (`res.only/.without`).
  PROJ_R,     ///< V[A] = V[B] with components outside mask C absent (`ratios.only/.without`).
  RMAX,       ///< R[A] = max of V[B]'s present components; error if none.
  RMIN,       ///< R[A] = min of V[B]'s present components; error if none.
  RMEAN,      ///< R[A] = mean of V[B]'s present components (summed in id order); error if none.
  FITS,       ///< R[A] = V[B][i] <= V[C][i] for every resource i.
  JMP_IF_FALSE,  ///< if R[A] is not true: pc += Bx (forward only); reserved, not emitted yet.
  JMP,           ///< pc += Bx (forward only); reserved, not emitted yet.
  ITER,  ///< Start a loop over collection B (0 roles, 1 frameworks, 2 agents) at element 0; if it
         ///< is empty, pc += C.
  NEXT,  ///< Advance the loop; if elements remain, pc -= Bx (the only backward jump). Metered:
         ///< past the VM's loop budget the loop stops and its aggregate errs (E_COST).
  AGG_INIT,  ///< R[A] = the empty value of aggregate kind B (0 sum, 1 count, 2 min, 3 max, 4 any, 5
             ///< all).
  ACC_SUM,   ///< If R[C] (where) errs: R[A] = error; else if R[C]: R[A] += R[B] (error if R[B]
             ///< errs).
  ACC_COUNT,  ///< If R[C] (where) errs: R[A] = error; else if R[C]: R[A] += 1.
  ACC_MIN,    ///< If R[C] errs: R[A] = error; else if R[C]: R[A] = min(R[A], R[B]) (R[B] if R[A] is
              ///< empty).
  ACC_MAX,    ///< If R[C] errs: R[A] = error; else if R[C]: R[A] = max(R[A], R[B]) (R[B] if R[A] is
              ///< empty).
  ACC_ANY,    ///< If R[C]: R[A] = R[A] || R[B] (CEL: true wins over errors; a where error is an
              ///< error).
  ACC_ALL,    ///< If R[C]: R[A] = R[A] && R[B] (CEL: false wins over errors; a where error is an
              ///< error).
  AGG_END,    ///< If R[A] is empty (min/max over no element): R[A] = error.
  SPLIT,  ///< V[A] = list of the non-empty parts of string R[B] split at R[C] (lists hold at most 7
          ///< symbols; more is an error).
  ZONES,  ///< V[A] = distinct `zone` attributes of the agents whose `rack` attribute is in list
          ///< V[B], in agent order.
  SIZE_L,  ///< R[A] = number of elements of list V[B].
  IN_SET,  ///< R[A] = symbol R[B] is an element of list V[C]; false if R[B] is absent.
  FILTER,  ///< if R[A] is not true: count an error for rule Bx if it errs, reject the pair, return.
  SCORE,   ///< score += weight(rule Bx) * R[A]; an error adds 0 and is counted for rule Bx.
  RET,     ///< End of the chunk.
};

/// Number of opcodes.
constexpr size_t opcode_count = static_cast<size_t>(opcode::RET) + 1;

/// Returns the opcode's mnemonic (`ADD_F`).
const char* to_string(opcode op);
/// Returns the static cost of one execution of `op` (units, as in the
/// checker's cost model: 1 for scalar work, 2 for a vector pass).
double cost_of(opcode op);

/// One 32-bit instruction.
struct instruction {
  opcode op = opcode::RET;
  uint8_t a = 0;
  uint8_t b = 0;
  uint8_t c = 0;
  /// Returns the 16-bit operand B | C << 8.
  uint16_t bx() const { return static_cast<uint16_t>(b | (c << 8)); }
};
static_assert(sizeof(instruction) == 4, "instructions are 32 bits");

/// The stages that have code. `event` runs once per event the runtime
/// handles (an offer made), for `on EVENT` metrics; it reads the constant
/// and cycle registers and the event's fields (`offer.*`).
enum class chunk_id : uint8_t { constant, cycle, role, framework, agent, pair, event };
/// Number of chunks.
constexpr size_t chunk_count = 7;
/// Returns `const`, `cycle`, ...
const char* to_string(chunk_id c);

/// What a scalar register holds (for reading rule results).
enum class value_kind : uint8_t { number, boolean, symbol, vector };

/// A field a FIELD/FIELDV instruction loads. `key` names the attribute,
/// label or metric for those kinds.
struct field_ref {
  /// `each_*`: the element of the running ITER loop.
  enum class object : uint8_t {
    cluster,
    role,
    framework,
    agent,
    each_role,
    each_framework,
    each_agent,
    offer,  ///< The event's offer (`offer.res`, `offer.locality`).
    task    ///< The event's task (`task.res`, `task.runtime`).
  } obj = object::cluster;
  std::string name;  ///< `weight`, `allocated`, `attributes`, `labels`, `metrics`...
  std::string key;   ///< Attribute, label or metric name; else empty.
  value_kind kind = value_kind::number;
};

/// A vector constant: a resource literal (`{cpus: 2, mem: 4GiB}`, absent
/// resources 0) or a list literal of strings (`["r1", "r2"]`, in the list
/// layout of vector registers: length, then symbol ids).
struct vector_constant {
  res_vec value{};
  bool list = false;
};

/// One compiled rule: where its value lives and what it costs.
struct rule_info {
  enum class kind : uint8_t {
    order_roles,
    order_frameworks,
    filter,
    score,
    metric,
    locality_guard,  ///< `locality when G`: a framework-stage bool.
    locality_when,   ///< `level L when C`: a pair-stage bool, per level.
    locality_wait,   ///< `level L ... wait D`: seconds, per level.
    event_value,     ///< `metric M ... on E += V | observe V`: V, an event-stage number.
    event_when       ///< `... on E when C ...`: C, an event-stage bool.
  } what = kind::filter;
  std::string name;  ///< `filter fits`, `order roles key 1`, `metric x`.
  chunk_id stage = chunk_id::constant;
  uint8_t reg = 0;  ///< Result register (scalar).
  value_kind kind = value_kind::number;
  bool descending = false;                 ///< Order keys.
  double weight = 1;                       ///< Scores.
  std::array<double, chunk_count> cost{};  ///< Static cost per stage instance.
};

/// An immutable compiled policy. Share it as `std::shared_ptr<const program>`;
/// hot reload swaps the pointer.
struct program {
  std::string name;  ///< Policy name.
  int64_t version = 0;
  std::vector<std::string> resources;    ///< Resource names by id.
  std::vector<double> numbers;           ///< Number constants `K`.
  std::vector<std::string> symbols;      ///< Interned strings `S`, by symbol id.
  std::vector<vector_constant> vectors;  ///< Vector constants `VK` (literals).
  std::vector<field_ref> fields;         ///< Field table `F`.
  std::array<std::vector<instruction>, chunk_count> chunks;
  /// Source line and a comment (the source text) per instruction, for the
  /// disassembler; not part of the canonical bytes.
  std::array<std::vector<std::pair<uint32_t, std::string>>, chunk_count> notes;
  /// First scalar/vector register of each stage; `[chunk_count]` is the end.
  std::array<uint16_t, chunk_count + 1> sreg{};
  std::array<uint16_t, chunk_count + 1> vreg{};
  std::vector<rule_info> rules;

  /// Returns the canonical bytes: everything that affects evaluation, in a
  /// fixed little-endian layout (no pointers, no notes).
  std::string canonical_bytes() const;
  /// Returns a stable 64-bit hash (FNV-1a) of `canonical_bytes()`.
  uint64_t hash() const;
  /// Returns `hash()` as 16 lower-case hex digits.
  std::string hash_hex() const;
};

/// Returns a `luac -l` style listing: a header with the hash, the rule table,
/// then each chunk, one instruction per line (index, [line], opcode,
/// operands, `; comment`).
std::string disassemble(const program& p);

}  // namespace agora::policy
