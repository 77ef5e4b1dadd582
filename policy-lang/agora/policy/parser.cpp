// The AST builder: the only translation unit that sees ANTLR's generated
// types. It lexes, enforces the input limits, parses with bounded error
// recovery and converts the parse tree into `ast::file`.
#include "agora/policy/parser.hpp"

#include <algorithm>
#include <exception>
#include <string>

#include "PolicyLexer.h"
#include "PolicyParser.h"
#include "antlr4-runtime.h"

namespace agora::policy {

namespace {

using P = agora_grammar::PolicyParser;

/// Thrown by the error listener when the error limit is reached.
struct too_many_errors {};

/// Thrown by the builder when an expression tree gets too tall.
struct too_deep {
  source_range range;
};

/// Maps ANTLR's code-point indexes to byte offsets.
class offset_map {
 public:
  explicit offset_map(const std::string& text) {
    bool ascii = std::all_of(text.begin(), text.end(),
                             [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    if (ascii) return;
    for (uint32_t i = 0; i < text.size(); ++i)
      if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) starts_.push_back(i);
    starts_.push_back(static_cast<uint32_t>(text.size()));
  }
  uint32_t byte(size_t code_point) const {
    if (starts_.empty()) return static_cast<uint32_t>(code_point);
    return starts_[std::min(code_point, starts_.size() - 1)];
  }

 private:
  std::vector<uint32_t> starts_;
};

/// Returns the offset of the first invalid UTF-8 sequence, or -1. ANTLR's
/// UTF-8 decoder throws on such input, so it is rejected up front.
long first_invalid_utf8(const std::string& text) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = byte(i);
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // Allowed range of the second byte.
    if (c < 0x80)
      len = 1;
    else if (c >= 0xC2 && c <= 0xDF)
      len = 2;
    else if (c == 0xE0)
      len = 3, lo = 0xA0;
    else if (c == 0xED)
      len = 3, hi = 0x9F;
    else if (c >= 0xE1 && c <= 0xEF)
      len = 3;
    else if (c == 0xF0)
      len = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3)
      len = 4;
    else if (c == 0xF4)
      len = 4, hi = 0x8F;
    else
      return static_cast<long>(i);
    if (i + len > text.size()) return static_cast<long>(i);
    if (len > 1 && (byte(i + 1) < lo || byte(i + 1) > hi)) return static_cast<long>(i);
    for (size_t k = 2; k < len; ++k)
      if ((byte(i + k) & 0xC0) != 0x80) return static_cast<long>(i);
    i += len;
  }
  return -1;
}

/// Collects ANTLR's errors as diagnostics instead of printing them.
class error_collector : public antlr4::BaseErrorListener {
 public:
  error_collector(const source_file& source, const offset_map& map, std::vector<diagnostic>& out,
                  int max_errors)
      : source_(source), map_(map), out_(out), max_errors_(max_errors) {}

  void syntaxError(antlr4::Recognizer* recognizer, antlr4::Token* token, size_t, size_t,
                   const std::string& msg, std::exception_ptr) override {
    if (count_ >= max_errors_) throw too_many_errors{};
    ++count_;
    if (token == nullptr) {
      // A lexer error: the offending text starts at the token start.
      auto* lexer = dynamic_cast<antlr4::Lexer*>(recognizer);
      uint32_t at = lexer ? map_.byte(lexer->tokenStartCharIndex) : 0;
      char c = at < source_.text().size() ? source_.text()[at] : ' ';
      std::string shown = (static_cast<unsigned char>(c) < 0x20 || c == 0x7F)
                              ? "\\x" + hex(static_cast<unsigned char>(c))
                              : std::string(source_.slice({at, at + char_length(at)}));
      std::string help = c == '"' ? "strings end with `\"` on the same line" : "";
      out_.push_back(make_diagnostic(source_, "E0105", {at, at + char_length(at)},
                                     "invalid character '" + shown + "'", help));
    } else {
      uint32_t begin = map_.byte(token->getStartIndex());
      bool eof = token->getType() == antlr4::Token::EOF;
      uint32_t end = eof ? begin : map_.byte(token->getStopIndex() + 1);
      std::string text = token->getText();
      if (text.size() > 40) text = text.substr(0, 37) + "...";
      std::string near = eof ? "near end of file" : "near '" + text + "'";
      std::string help = msg.size() <= 140 ? cleanup(msg) : "";
      out_.push_back(make_diagnostic(source_, "E0101", {begin, end}, "syntax error " + near, help));
    }
  }

  int count() const { return count_; }

 private:
  static std::string hex(unsigned v) {
    const char* digits = "0123456789abcdef";
    return {digits[v >> 4], digits[v & 15]};
  }
  uint32_t char_length(uint32_t at) const {
    auto& t = source_.text();
    uint32_t n = 1;
    while (at + n < t.size() && (static_cast<unsigned char>(t[at + n]) & 0xC0) == 0x80) ++n;
    return n;
  }
  // ANTLR says `<EOF>` and uses single quotes; keep its text otherwise.
  static std::string cleanup(std::string msg) {
    for (std::string from : {"'<EOF>'", "<EOF>"}) {
      for (size_t at = msg.find(from); at != std::string::npos; at = msg.find(from))
        msg.replace(at, from.size(), "end of file");
    }
    return msg;
  }

  const source_file& source_;
  const offset_map& map_;
  std::vector<diagnostic>& out_;
  int max_errors_;
  int count_ = 0;
};

/// Converts the parse tree into the AST.
class builder {
 public:
  builder(const offset_map& map, uint32_t max_height) : map_(map), max_height_(max_height) {}

  ast::file build(P::File_Context* ctx) {
    ast::file f;
    if (auto* p = ctx->policy_file()) {
      f.kind = ast::file_kind::policy;
      header(f, p->STRING(), p->INT(), p);
      for (auto* h : p->header_item()) header_item(f, h);
      for (auto* d : p->decl()) f.decls.push_back(decl(d));
    } else if (auto* s = ctx->schema_file()) {
      f.kind = ast::file_kind::schema;
      header(f, s->STRING(), s->INT(), s);
      for (auto* sec : s->schema_section()) f.sections.push_back(section(sec));
    } else if (auto* t = ctx->test_file()) {
      f.kind = ast::file_kind::test;
      for (auto* h : t->header_item()) header_item(f, h);
      for (auto* d : t->test_decl()) {
        ast::decl out;
        out.range = range(d);
        out.node = test(d);
        f.decls.push_back(std::move(out));
      }
    }
    return f;
  }

 private:
  source_range range(antlr4::ParserRuleContext* ctx) const {
    auto* start = ctx->getStart();
    auto* stop = ctx->getStop();
    uint32_t b = map_.byte(start->getStartIndex());
    uint32_t e = stop ? map_.byte(stop->getStopIndex() + 1) : b;
    return {b, std::max(b, e)};
  }
  source_range range(antlr4::Token* t) const {
    return {map_.byte(t->getStartIndex()), map_.byte(t->getStopIndex() + 1)};
  }
  source_range range(antlr4::tree::TerminalNode* n) const { return range(n->getSymbol()); }
  static source_range span(source_range a, source_range b) {
    return {std::min(a.begin, b.begin), std::max(a.end, b.end)};
  }

  void header(ast::file& f, antlr4::tree::TerminalNode* name, antlr4::tree::TerminalNode* version,
              antlr4::ParserRuleContext* ctx) {
    f.name_text = name->getText();
    f.name = decode_string(f.name_text);
    f.version = std::stoll(version->getText().substr(0, 18));
    f.header_range = {range(ctx->getStart()).begin, range(version).end + 1};
  }

  void header_item(ast::file& f, P::Header_itemContext* h) {
    if (auto* u = h->use_decl()) {
      f.uses.push_back({u->qname()->getText(), range(u)});
    } else if (auto* i = h->import_decl()) {
      auto text = i->STRING()->getText();
      f.imports.push_back({decode_string(text), text, range(i)});
    }
  }

  // ---- expressions ----------------------------------------------------------

  ast::expr_ptr node(ast::expr_kind kind, source_range r) {
    auto e = std::make_unique<ast::expr>();
    e->kind = kind;
    e->range = r;
    return e;
  }

  ast::expr_ptr finish(ast::expr_ptr e) {
    uint32_t h = 0;
    for (auto& c : e->children) h = std::max(h, c->height);
    if (e->where_) h = std::max(h, e->where_->height);
    if (e->body_) h = std::max(h, e->body_->height);
    e->height = h + 1;
    if (e->height > max_height_) throw too_deep{e->range};
    return e;
  }

  ast::expr_ptr binary(ast::binary_op op, ast::expr_ptr l, ast::expr_ptr r) {
    auto e = node(ast::expr_kind::binary, span(l->range, r->range));
    e->bop = op;
    e->children.push_back(std::move(l));
    e->children.push_back(std::move(r));
    return finish(std::move(e));
  }

  static ast::binary_op op_of(const std::string& t) {
    using B = ast::binary_op;
    static const std::pair<const char*, B> ops[] = {
        {"+", B::add},          {"-", B::sub},         {"*", B::mul},      {"/", B::div},
        {"%", B::mod},          {"<", B::lt},          {"<=", B::le},      {">", B::gt},
        {">=", B::ge},          {"==", B::eq},         {"!=", B::ne},      {"in", B::in},
        {"&&", B::logical_and}, {"||", B::logical_or}, {"??", B::coalesce}};
    for (auto& [s, op] : ops)
      if (t == s) return op;
    return B::add;
  }

 public:
  ast::expr_ptr expr(P::ExprContext* c) {
    auto cond = held(c->held());
    auto branches = c->expr();
    if (branches.size() != 2) return cond;
    auto e = node(ast::expr_kind::conditional, range(c));
    e->children.push_back(std::move(cond));
    e->children.push_back(expr(branches[0]));
    e->children.push_back(expr(branches[1]));
    return finish(std::move(e));
  }

 private:
  ast::expr_ptr held(P::HeldContext* c) {
    auto value = coalesce(c->coalesce());
    if (!c->unary()) return value;
    auto e = node(ast::expr_kind::held, range(c));
    e->children.push_back(std::move(value));
    e->children.push_back(unary(c->unary()));
    return finish(std::move(e));
  }

  ast::expr_ptr coalesce(P::CoalesceContext* c) {
    auto parts = c->or_expr();
    auto result = or_expr(parts[0]);
    for (size_t i = 1; i < parts.size(); ++i)
      result = binary(ast::binary_op::coalesce, std::move(result), or_expr(parts[i]));
    return result;
  }

  ast::expr_ptr or_expr(P::Or_exprContext* c) {
    auto parts = c->and_expr();
    auto result = and_expr(parts[0]);
    for (size_t i = 1; i < parts.size(); ++i)
      result = binary(ast::binary_op::logical_or, std::move(result), and_expr(parts[i]));
    return result;
  }

  ast::expr_ptr and_expr(P::And_exprContext* c) {
    auto parts = c->rel();
    auto result = rel(parts[0]);
    for (size_t i = 1; i < parts.size(); ++i)
      result = binary(ast::binary_op::logical_and, std::move(result), rel(parts[i]));
    return result;
  }

  ast::expr_ptr rel(P::RelContext* c) {
    auto parts = c->add();
    auto result = add(parts[0]);
    if (parts.size() == 2)
      result = binary(op_of(c->rel_op()->getText()), std::move(result), add(parts[1]));
    return result;
  }

  ast::expr_ptr add(P::AddContext* c) {
    auto parts = c->mul();
    auto ops = c->add_op();
    auto result = mul(parts[0]);
    for (size_t i = 1; i < parts.size(); ++i)
      result = binary(op_of(ops[i - 1]->getText()), std::move(result), mul(parts[i]));
    return result;
  }

  ast::expr_ptr mul(P::MulContext* c) {
    auto parts = c->unary();
    auto ops = c->mul_op();
    auto result = unary(parts[0]);
    for (size_t i = 1; i < parts.size(); ++i)
      result = binary(op_of(ops[i - 1]->getText()), std::move(result), unary(parts[i]));
    return result;
  }

  ast::expr_ptr unary(P::UnaryContext* c) {
    auto result = postfix(c->postfix());
    auto ops = c->unary_op();
    for (size_t i = ops.size(); i-- > 0;) {
      auto e = node(ast::expr_kind::unary, span(range(ops[i]), result->range));
      e->uop = ops[i]->getText() == "!" ? ast::unary_op::logical_not : ast::unary_op::negate;
      e->children.push_back(std::move(result));
      result = finish(std::move(e));
    }
    return result;
  }

  ast::expr_ptr postfix(P::PostfixContext* c) {
    auto result = primary(c->primary());
    for (auto* op : c->postfix_op()) {
      if (auto* m = dynamic_cast<P::Member_opContext*>(op)) {
        auto e = node(ast::expr_kind::member, span(result->range, range(op)));
        e->name = m->ident()->getText();
        e->name_range = range(m->ident());
        e->children.push_back(std::move(result));
        if (auto* a = m->args()) {
          e->has_args = true;
          for (auto* x : a->expr()) e->children.push_back(expr(x));
        }
        result = finish(std::move(e));
      } else if (auto* ix = dynamic_cast<P::Index_opContext*>(op)) {
        auto e = node(ast::expr_kind::index, span(result->range, range(op)));
        e->children.push_back(std::move(result));
        e->children.push_back(expr(ix->expr()));
        result = finish(std::move(e));
      }
    }
    return result;
  }

  ast::expr_ptr primary(P::PrimaryContext* c) {
    if (auto* a = dynamic_cast<P::Aggregate_primaryContext*>(c)) return aggregate(a->aggregate());
    if (auto* l = dynamic_cast<P::Literal_primaryContext*>(c)) return literal(l->literal());
    if (auto* n = dynamic_cast<P::Name_primaryContext*>(c)) {
      auto e = node(ast::expr_kind::name, range(c));
      e->name = n->ident()->getText();
      e->name_range = range(n->ident());
      if (auto* a = n->args()) {
        e->has_args = true;
        for (auto* x : a->expr()) e->children.push_back(expr(x));
      }
      return finish(std::move(e));
    }
    if (auto* p = dynamic_cast<P::Paren_primaryContext*>(c)) {
      auto e = expr(p->expr());
      e->parenthesized = true;
      return e;
    }
    if (auto* l = dynamic_cast<P::List_primaryContext*>(c)) return list(l->list_lit());
    auto* o = dynamic_cast<P::Obj_primaryContext*>(c);
    return object(o->obj_lit());
  }

  ast::expr_ptr aggregate(P::AggregateContext* c) {
    static const std::pair<const char*, ast::aggregate_kind> kinds[] = {
        {"sum", ast::aggregate_kind::sum},   {"count", ast::aggregate_kind::count},
        {"min", ast::aggregate_kind::min},   {"max", ast::aggregate_kind::max},
        {"mean", ast::aggregate_kind::mean}, {"any", ast::aggregate_kind::any},
        {"all", ast::aggregate_kind::all}};
    auto e = node(ast::expr_kind::aggregate, range(c));
    for (auto& [name, kind] : kinds)
      if (c->agg->getText() == name) e->agg = kind;
    e->name = c->ident()->getText();
    e->name_range = range(c->ident());
    std::string last;
    for (auto* child : c->children) {
      if (auto* x = dynamic_cast<P::ExprContext*>(child)) {
        if (last == "where")
          e->where_ = expr(x);
        else if (last == ":")
          e->body_ = expr(x);
        else
          e->children.push_back(expr(x));
      } else if (dynamic_cast<antlr4::tree::TerminalNode*>(child)) {
        last = child->getText();
      }
    }
    return finish(std::move(e));
  }

  ast::expr_ptr literal(P::LiteralContext* c) {
    auto e = node(ast::expr_kind::literal, range(c));
    e->text = c->getText();
    if (c->INT()) {
      e->lit = ast::literal_kind::integer;
      e->value = std::strtod(e->text.c_str(), nullptr);
    } else if (c->FLOAT()) {
      e->lit = ast::literal_kind::floating;
      e->value = std::strtod(e->text.c_str(), nullptr);
    } else if (c->PERCENT()) {
      e->lit = ast::literal_kind::percent;
      e->value = std::strtod(e->text.c_str(), nullptr) / 100.0;
    } else if (c->QUANTITY()) {
      e->lit = ast::literal_kind::quantity;
      size_t digits = e->text.find_first_not_of("0123456789.");
      e->unit = e->text.substr(digits);
      double number = std::strtod(e->text.substr(0, digits).c_str(), nullptr);
      auto* u = find_unit(e->unit);
      e->value = u ? number * u->scale : number;
    } else if (c->STRING()) {
      e->lit = ast::literal_kind::string;
      e->text = decode_string(e->text);
    } else {
      e->lit = ast::literal_kind::boolean;
      e->value = e->text == "true" ? 1 : 0;
    }
    return finish(std::move(e));
  }

  ast::expr_ptr list(P::List_litContext* c) {
    auto e = node(ast::expr_kind::list, range(c));
    for (auto* x : c->expr()) e->children.push_back(expr(x));
    return finish(std::move(e));
  }

  ast::expr_ptr object(P::Obj_litContext* c) {
    auto e = node(ast::expr_kind::object, range(c));
    for (auto* entry : c->obj_entry()) {
      if (auto* id = entry->ident()) {
        e->keys.push_back(id->getText());
        e->key_is_string.push_back(false);
      } else {
        e->keys.push_back(entry->STRING()->getText());
        e->key_is_string.push_back(true);
      }
      e->children.push_back(expr(entry->expr()));
    }
    return finish(std::move(e));
  }

  // ---- declarations ---------------------------------------------------------

  ast::type_ref type_ref(P::Type_refContext* c) {
    ast::type_ref t;
    t.name = c->ident()->getText();
    t.range = range(c);
    t.optional = c->optional != nullptr;
    for (auto* a : c->type_ref()) t.args.push_back(type_ref(a));
    return t;
  }

  std::vector<ast::param> params(P::ParamsContext* c) {
    std::vector<ast::param> out;
    for (auto* p : c->param()) {
      ast::param x;
      x.name = p->ident()->getText();
      x.range = range(p->ident());
      if (p->type_ref()) x.annotation = type_ref(p->type_ref());
      out.push_back(std::move(x));
    }
    return out;
  }

  ast::role_decl role(P::Role_declContext* c) {
    ast::role_decl r;
    r.name = decode_string(c->STRING()->getText());
    r.name_range = range(c->STRING());
    r.range = range(c);
    r.has_body = c->role_body() != nullptr;
    if (r.has_body) role_body(r, c->role_body());
    return r;
  }

  void role_body(ast::role_decl& r, P::Role_bodyContext* body) {
    using K = ast::role_item::kind;
    for (auto* item : body->role_item()) {
      ast::role_item out;
      out.range = range(item);
      if (auto* child = item->role_decl()) {
        out.what = K::child;
        out.child = std::make_unique<ast::role_decl>(role(child));
      } else if (auto* w = dynamic_cast<P::Role_weightContext*>(item->role_prop())) {
        out.what = K::weight;
        out.value = expr(w->expr());
      } else if (auto* g = dynamic_cast<P::Role_guaranteeContext*>(item->role_prop())) {
        out.what = K::guarantee;
        out.value = expr(g->expr());
      } else if (auto* l = dynamic_cast<P::Role_limitContext*>(item->role_prop())) {
        out.what = K::limit;
        out.value = expr(l->expr());
      } else if (auto* p = dynamic_cast<P::Role_preemptibleContext*>(item->role_prop())) {
        out.what = K::preemptible;
        out.value = expr(p->expr());
      }
      r.items.push_back(std::move(out));
    }
  }

  std::vector<ast::order_key> keys(const std::vector<P::Order_keyContext*>& ks) {
    std::vector<ast::order_key> out;
    for (auto* k : ks) {
      ast::order_key key;
      key.key = expr(k->expr());
      if (k->dir)
        key.dir = k->dir->getText() == "asc" ? ast::order_key::direction::asc
                                             : ast::order_key::direction::desc;
      out.push_back(std::move(key));
    }
    return out;
  }

  static double signed_value(P::Signed_numberContext* c, std::string& text) {
    text = c->getText();
    return std::strtod(text.c_str(), nullptr);
  }

  ast::decl decl(P::DeclContext* c) {
    ast::decl d;
    d.range = range(c);
    if (auto* l = c->let_decl()) {
      ast::let_decl x;
      x.name = l->ident()->getText();
      x.name_range = range(l->ident());
      if (l->params()) {
        x.has_params = true;
        x.params = params(l->params());
      }
      if (l->type_ref()) x.result = type_ref(l->type_ref());
      x.value = expr(l->expr());
      d.node = std::move(x);
    } else if (auto* f = c->fn_decl()) {
      ast::let_decl x;
      x.is_fn = true;
      x.has_params = true;
      x.name = f->ident()->getText();
      x.name_range = range(f->ident());
      x.params = params(f->params());
      x.result = type_ref(f->type_ref());
      x.value = expr(f->expr());
      d.node = std::move(x);
    } else if (auto* r = c->roles_decl()) {
      ast::roles_decl x;
      for (auto* item : r->roles_item()) {
        if (auto* rd = item->role_decl()) {
          x.roles.push_back(role(rd));
        } else {
          ast::role_decl def;
          def.is_default = true;
          def.name = "default";
          def.range = range(item);
          def.name_range = range(item->default_role()->getStart());
          role_body(def, item->default_role()->role_body());
          x.roles.push_back(std::move(def));
        }
      }
      d.node = std::move(x);
    } else if (auto* g = c->guarantees_decl()) {
      d.node = ast::guarantees_decl{g->ident()->getText(), range(g->ident())};
    } else if (auto* o = c->order_decl()) {
      ast::order_decl x;
      x.frameworks = o->target->getText() == "frameworks";
      x.keys = keys(o->order_key());
      d.node = std::move(x);
    } else if (auto* f = c->filter_decl()) {
      d.node = ast::filter_decl{f->ident()->getText(), range(f->ident()), expr(f->expr())};
    } else if (auto* s = c->score_decl()) {
      ast::score_decl x;
      x.name = s->ident()->getText();
      x.name_range = range(s->ident());
      x.weight = signed_value(s->signed_number(), x.weight_text);
      x.weight_range = range(s->signed_number());
      x.value = expr(s->expr());
      d.node = std::move(x);
    } else if (auto* s = c->spread_decl()) {
      ast::spread_decl x;
      x.name = s->ident()->getText();
      x.name_range = range(s->ident());
      x.over = expr(s->expr());
      x.max_skew = s->INT()->getText();
      x.require = s->signed_number() == nullptr;
      if (!x.require) signed_value(s->signed_number(), x.weight_text);
      d.node = std::move(x);
    } else if (auto* l = c->locality_decl()) {
      ast::locality_decl x;
      if (l->expr()) x.guard = expr(l->expr());
      for (auto* lv : l->level_decl()) x.levels.push_back(level(lv));
      d.node = std::move(x);
    } else if (auto* p = c->preempt_decl()) {
      d.node = preempt(p);
    } else if (auto* cy = c->cycle_decl()) {
      ast::cycle_decl x;
      for (auto* o : cy->cycle_option()) {
        ast::cycle_option opt;
        auto words = o->ident();
        for (auto* w : words) opt.words.push_back(w->getText());
        opt.name_range = span(range(words.front()), range(words.back()));
        opt.range = range(o);
        opt.value = expr(o->expr());
        x.options.push_back(std::move(opt));
      }
      d.node = std::move(x);
    } else if (auto* m = c->metric_decl()) {
      d.node = metric(m);
    } else if (auto* t = c->test_decl()) {
      d.node = test(t);
    }
    return d;
  }

  ast::level_decl level(P::Level_declContext* c) {
    ast::level_decl lv;
    lv.name = c->ident()->getText();
    lv.name_range = range(c->ident());
    lv.range = range(c);
    lv.skips = c->skips != nullptr;
    std::string last;
    for (auto* child : c->children) {
      if (auto* x = dynamic_cast<P::ExprContext*>(child)) {
        (last == "when" ? lv.when : lv.wait) = expr(x);
      } else if (dynamic_cast<antlr4::tree::TerminalNode*>(child)) {
        last = child->getText();
      }
    }
    return lv;
  }

  ast::preempt_decl preempt(P::Preempt_declContext* c) {
    using K = ast::preempt_item::kind;
    ast::preempt_decl x;
    for (auto* item : c->preempt_item()) {
      ast::preempt_item out;
      auto head = item->getStart()->getText();
      auto exprs = item->expr();
      if (head == "when") {
        out.what = K::when;
        out.first = expr(exprs[0]);
      } else if (head == "from") {
        out.what = K::from;
        out.name = item->ident()->getText();
        out.first = expr(exprs[0]);
      } else if (head == "victims") {
        out.what = K::victims;
        out.keys = keys(item->order_key());
      } else {
        out.what = K::budget;
        out.first = expr(exprs[0]);
        out.second = expr(exprs[1]);
      }
      x.items.push_back(std::move(out));
    }
    return x;
  }

  ast::metric_decl metric(P::Metric_declContext* c) {
    using K = ast::metric_decl::kind;
    ast::metric_decl m;
    auto kind = c->kind->getText();
    m.what = kind == "counter" ? K::counter : kind == "gauge" ? K::gauge : K::histogram;
    m.name = c->ident()->getText();
    m.name_range = range(c->ident());
    if (auto* ls = c->metric_labels())
      for (auto* l : ls->ident()) m.labels.push_back({l->getText(), range(l)});
    m.help_text = c->STRING()->getText();
    m.help = decode_string(m.help_text);
    if (c->list_lit()) m.buckets = list(c->list_lit());
    if (auto* every = dynamic_cast<P::Every_cycleContext*>(c->metric_source())) {
      m.every_cycle = true;
      m.value = expr(every->expr());
    } else if (auto* on = dynamic_cast<P::On_eventContext*>(c->metric_source())) {
      m.every_cycle = false;
      m.event = on->ident()->getText();
      m.event_range = range(on->ident());
      m.observe = on->op->getText() == "observe";
      auto exprs = on->expr();
      if (exprs.size() == 2) m.when = expr(exprs[0]);
      m.value = expr(exprs.back());
    }
    return m;
  }

  ast::test_decl test(P::Test_declContext* c) {
    using K = ast::test_step::kind;
    ast::test_decl t;
    t.name = c->STRING()->getText();
    for (auto* step : c->test_step()) {
      ast::test_step s;
      s.range = range(step);
      if (auto* g = dynamic_cast<P::Given_stepContext*>(step)) {
        auto* clause = g->given_clause();
        if (auto* p = dynamic_cast<P::Given_policyContext*>(clause)) {
          s.what = K::given_policy;
          s.text = p->STRING()->getText();
        } else if (auto* f = dynamic_cast<P::Given_fixtureContext*>(clause)) {
          s.what = K::given_fixture;
          s.text = f->STRING()->getText();
        } else if (auto* a = dynamic_cast<P::Given_allocationContext*>(clause)) {
          s.what = K::given_allocation;
          s.value = object(a->obj_lit());
        } else if (auto* o = dynamic_cast<P::Given_objectContext*>(clause)) {
          s.what = o->what->getText() == "agent" ? K::given_agent : K::given_framework;
          s.text = o->STRING()->getText();
          s.value = object(o->obj_lit());
        }
      } else if (auto* e = dynamic_cast<P::Expect_stepContext*>(step)) {
        auto* clause = e->expect_clause();
        if (auto* o = dynamic_cast<P::Expect_orderContext*>(clause)) {
          s.what = K::expect_order;
          s.frameworks = o->target->getText() == "frameworks";
          s.starts_with = o->op->getText() == "starts_with";
          s.value = list(o->list_lit());
        } else if (auto* ce = dynamic_cast<P::Expect_compile_errorContext*>(clause)) {
          s.what = K::expect_compile_error;
          s.text = ce->STRING(0)->getText();
          s.text2 = ce->STRING(1)->getText();
        } else if (auto* x = dynamic_cast<P::Expect_exprContext*>(clause)) {
          s.what = K::expect_expr;
          s.value = expr(x->expr());
        }
      }
      t.steps.push_back(std::move(s));
    }
    return t;
  }

  ast::schema_section section(P::Schema_sectionContext* c) {
    ast::schema_section s;
    s.range = range(c);
    if (auto* l = dynamic_cast<P::Schema_limitsContext*>(c)) {
      s.name = "limits";
      s.name_range = range(l->getStart());
      for (auto* e : l->limit_entry()) {
        s.limits.emplace_back(e->ident()->getText(), std::stoll(e->INT()->getText().substr(0, 18)));
        s.limit_ranges.push_back(range(e));
      }
    } else if (auto* f = dynamic_cast<P::Schema_fieldsContext*>(c)) {
      s.name = f->qname()->getText();
      s.name_range = range(f->qname());
      for (auto* field : f->schema_field()) {
        ast::schema_field x;
        x.name = field->ident()->getText();
        x.range = range(field->ident());
        x.field_type = type_ref(field->type_ref());
        if (field->expr()) x.max_age = expr(field->expr());
        s.fields.push_back(std::move(x));
      }
    }
    return s;
  }

  const offset_map& map_;
  uint32_t max_height_;
};

/// Reports brackets (and chained conditionals) nested deeper than allowed,
/// before parsing, so the recursive-descent parser never recurses deeply.
bool check_nesting(const std::vector<antlr4::Token*>& tokens, const source_file& source,
                   const offset_map& map, int max_nesting, std::vector<diagnostic>& out) {
  int depth = 0;
  int conditionals = 0;
  for (auto* t : tokens) {
    if (t->getChannel() != antlr4::Token::DEFAULT_CHANNEL) continue;
    auto text = t->getText();
    if (text.size() != 1) continue;
    char c = text[0];
    if (c == '(' || c == '[' || c == '{')
      ++depth;
    else if (c == ')' || c == ']' || c == '}')
      depth = std::max(0, depth - 1);
    else if (c == '?')
      ++conditionals;
    else if (c == ';')
      conditionals = 0;
    else
      continue;
    if (depth + conditionals > max_nesting) {
      source_range r{map.byte(t->getStartIndex()), map.byte(t->getStopIndex() + 1)};
      out.push_back(make_diagnostic(
          source, "E0103", r,
          "expression nested more than " + std::to_string(max_nesting) + " levels deep",
          "split the expression into `let` definitions"));
      return false;
    }
  }
  return true;
}

diagnostic too_many(const source_file& source, const std::vector<diagnostic>& diags,
                    const parse_options& options) {
  source_range at = diags.empty() ? source_range{} : diags.back().range;
  return make_diagnostic(
      source, "E0104", at,
      "too many syntax errors (" + std::to_string(options.max_errors) + "); stopping here",
      "fix the first errors; later ones are often caused by them");
}

}  // namespace

std::string decode_string(const std::string& spelling) {
  std::string out;
  if (spelling.size() < 2) return out;
  for (size_t i = 1; i + 1 < spelling.size(); ++i) {
    char c = spelling[i];
    if (c == '\\' && i + 2 < spelling.size()) {
      char n = spelling[++i];
      out += n == 'n' ? '\n' : n == 't' ? '\t' : n;
    } else {
      out += c;
    }
  }
  return out;
}

parse_result parse(const source_file& source, const parse_options& options) {
  parse_result result;
  auto& diags = result.diagnostics;
  const auto& text = source.text();
  if (text.size() > options.max_bytes) {
    auto d = make_file_diagnostic(source.name(), "E0102",
                                  "input is " + std::to_string(text.size()) +
                                      " bytes, more than the limit of " +
                                      std::to_string(options.max_bytes) + " bytes",
                                  "policies are small; split large files with `import`");
    diags.push_back(std::move(d));
    return result;
  }
  if (long bad = first_invalid_utf8(text); bad >= 0) {
    auto at = static_cast<uint32_t>(bad);
    diags.push_back(make_diagnostic(source, "E0105", {at, at + 1}, "invalid UTF-8 in input",
                                    "policy files must be UTF-8 text"));
    return result;
  }
  offset_map map(text);
  try {
    antlr4::ANTLRInputStream input(text);
    agora_grammar::PolicyLexer lexer(&input);
    error_collector errors(source, map, diags, options.max_errors);
    lexer.removeErrorListeners();
    lexer.addErrorListener(&errors);
    antlr4::CommonTokenStream tokens(&lexer);
    try {
      tokens.fill();
    } catch (const too_many_errors&) {
      diags.push_back(too_many(source, diags, options));
      return result;
    }
    auto all = tokens.getTokens();
    if (!check_nesting(all, source, map, options.max_nesting, diags)) return result;

    agora_grammar::PolicyParser parser(&tokens);
    parser.removeErrorListeners();
    parser.addErrorListener(&errors);
    P::File_Context* tree = nullptr;
    try {
      tree = parser.file_();
    } catch (const too_many_errors&) {
      diags.push_back(too_many(source, diags, options));
      return result;
    }
    if (errors.count() > 0 || has_errors(diags)) return result;

    builder build(map, options.max_expr_height);
    try {
      result.file = build.build(tree);
    } catch (const too_deep& e) {
      diags.push_back(make_diagnostic(source, "E0103", e.range,
                                      "expression nested more than " +
                                          std::to_string(options.max_expr_height) +
                                          " operations deep",
                                      "split the expression into `let` definitions"));
      return result;
    }
    for (auto* t : all) {
      if (t->getChannel() == antlr4::Token::DEFAULT_CHANNEL) continue;
      ast::comment c;
      c.range = {map.byte(t->getStartIndex()), map.byte(t->getStopIndex() + 1)};
      c.text = t->getText();
      c.block = c.text.rfind("/*", 0) == 0;
      result.file->comments.push_back(std::move(c));
    }
  } catch (const std::exception& e) {
    result.file.reset();
    diags.push_back(
        make_file_diagnostic(source.name(), "E0101", std::string("parser failure: ") + e.what()));
  }
  return result;
}

}  // namespace agora::policy
