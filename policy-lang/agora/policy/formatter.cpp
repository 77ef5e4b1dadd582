#include "agora/policy/formatter.hpp"

#include <algorithm>

namespace agora::policy {

namespace {

using ast::binary_op;
using ast::expr_kind;

/// Precedence levels, loosest first (see the grammar's expression rules).
enum prec : int {
  p_cond = 1,
  p_held,
  p_coalesce,
  p_or,
  p_and,
  p_rel,
  p_add,
  p_mul,
  p_unary,
  p_postfix,
  p_primary
};

int precedence(const ast::expr& e) {
  switch (e.kind) {
    case expr_kind::conditional:
      return p_cond;
    case expr_kind::held:
      return p_held;
    case expr_kind::unary:
      return p_unary;
    case expr_kind::member:
    case expr_kind::index:
      return p_postfix;
    case expr_kind::binary:
      switch (e.bop) {
        case binary_op::coalesce:
          return p_coalesce;
        case binary_op::logical_or:
          return p_or;
        case binary_op::logical_and:
          return p_and;
        case binary_op::add:
        case binary_op::sub:
          return p_add;
        case binary_op::mul:
        case binary_op::div:
        case binary_op::mod:
          return p_mul;
        default:
          return p_rel;
      }
    default:
      return p_primary;
  }
}

std::string print(const ast::expr& e, int min_prec);

std::string join_args(const std::vector<ast::expr_ptr>& args, size_t from) {
  std::string out;
  for (size_t i = from; i < args.size(); ++i)
    out += (i > from ? ", " : "") + print(*args[i], p_cond);
  return out;
}

std::string print_raw(const ast::expr& e) {
  switch (e.kind) {
    case expr_kind::literal:
      return e.lit == ast::literal_kind::string ? quote_string(e.text) : e.text;
    case expr_kind::name:
      return e.has_args ? e.name + "(" + join_args(e.children, 0) + ")" : e.name;
    case expr_kind::member: {
      std::string out = print(*e.children[0], p_postfix) + "." + e.name;
      if (e.has_args) out += "(" + join_args(e.children, 1) + ")";
      return out;
    }
    case expr_kind::index:
      return print(*e.children[0], p_postfix) + "[" + print(*e.children[1], p_cond) + "]";
    case expr_kind::unary:
      return std::string(e.uop == ast::unary_op::logical_not ? "!" : "-") +
             print(*e.children[0], p_unary);
    case expr_kind::binary: {
      int p = precedence(e);
      bool relation = p == p_rel;
      return print(*e.children[0], relation ? p + 1 : p) + " " + ast::to_string(e.bop) + " " +
             print(*e.children[1], p + 1);
    }
    case expr_kind::conditional:
      return print(*e.children[0], p_held) + " ? " + print(*e.children[1], p_cond) + " : " +
             print(*e.children[2], p_cond);
    case expr_kind::held:
      return print(*e.children[0], p_coalesce) + " for " + print(*e.children[1], p_unary);
    case expr_kind::aggregate: {
      std::string out = std::string(ast::to_string(e.agg)) + "(" + e.name + " in " +
                        print(*e.children[0], p_cond);
      if (e.where_) out += " where " + print(*e.where_, p_cond);
      if (e.body_) out += " : " + print(*e.body_, p_cond);
      return out + ")";
    }
    case expr_kind::list:
      return "[" + join_args(e.children, 0) + "]";
    case expr_kind::object: {
      std::string out = "{";
      for (size_t i = 0; i < e.keys.size(); ++i)
        out += (i ? ", " : "") + e.keys[i] + ": " + print(*e.children[i], p_cond);
      return out + "}";
    }
  }
  return {};
}

std::string print(const ast::expr& e, int min_prec) {
  auto text = print_raw(e);
  if (e.parenthesized || precedence(e) < min_prec) return "(" + text + ")";
  return text;
}

/// Collects the operands of a chain of one operator (`a || b || c`).
void chain(const ast::expr& e, binary_op op, std::vector<const ast::expr*>& out) {
  if (e.kind == expr_kind::binary && e.bop == op && !e.parenthesized) {
    chain(*e.children[0], op, out);
    out.push_back(e.children[1].get());
  } else {
    out.push_back(&e);
  }
}

class printer {
 public:
  printer(const ast::file& f, const source_file& source, const format_options& options)
      : file_(f), source_(source), options_(options) {
    for (auto& c : f.comments) comments_.push_back(&c);
    std::sort(comments_.begin(), comments_.end(),
              [](auto* a, auto* b) { return a->range.begin < b->range.begin; });
  }

  std::string run() {
    if (file_.kind != ast::file_kind::test) {
      const char* keyword = file_.kind == ast::file_kind::schema ? "schema " : "policy ";
      top(file_.header_range);
      line(keyword + quote_string(file_.name) + " version " + std::to_string(file_.version) + ";");
      trailing(file_.header_range.end);
    }
    for (auto& u : file_.uses) {
      top(u.range);
      line("use " + u.module + ";");
      trailing(u.range.end);
    }
    for (auto& i : file_.imports) {
      top(i.range);
      line("import " + quote_string(i.path) + ";");
      trailing(i.range.end);
    }
    for (auto& d : file_.decls) decl(d);
    for (auto& s : file_.sections) section(s);
    // Comments after the last item.
    top(static_cast<uint32_t>(source_.text().size()) + 1, true);
    std::string out;
    for (auto& l : lines_) out += l + "\n";
    return out;
  }

 private:
  // ---- output and comments --------------------------------------------------

  void line(const std::string& text) {
    lines_.push_back(text.empty() ? text : std::string(indent_ * 2, ' ') + text);
  }

  bool blank_between(uint32_t from, uint32_t to) const {
    auto text = source_.slice({from, to});
    return std::count(text.begin(), text.end(), '\n') >= 2;
  }

  /// Starts a top-level item at `begin`: flushes leading comments and keeps
  /// one blank line wherever the source had one or more.
  void top(source_range r, bool end_of_file = false) { top(r.begin, end_of_file); }
  void top(uint32_t begin, bool end_of_file = false) {
    while (next_ < comments_.size() && comments_[next_]->range.begin < begin) {
      auto* c = comments_[next_++];
      if (emitted_any_ && blank_between(last_end_, c->range.begin)) lines_.push_back("");
      line(c->text);
      last_end_ = c->range.end;
      emitted_any_ = true;
    }
    if (end_of_file) return;
    if (emitted_any_ && blank_between(last_end_, begin)) lines_.push_back("");
    emitted_any_ = true;
  }

  /// Flushes comments that start before `begin`, each on its own line.
  void leading(uint32_t begin) {
    while (next_ < comments_.size() && comments_[next_]->range.begin < begin) {
      line(comments_[next_]->text);
      last_end_ = comments_[next_]->range.end;
      ++next_;
    }
  }

  /// Appends comments that follow `end` on the same source line.
  void trailing(uint32_t end) {
    last_end_ = std::max(last_end_, end);
    while (next_ < comments_.size()) {
      auto* c = comments_[next_];
      auto between = source_.slice({end, c->range.begin});
      if (c->range.begin < end || between.find('\n') != std::string_view::npos) break;
      if (between.find_first_not_of(" \t;,") != std::string_view::npos) break;
      lines_.back() += "  " + c->text;
      last_end_ = c->range.end;
      ++next_;
    }
  }

  /// Appends comments that sit on the same source line as `anchor` (the start
  /// of a block's header, e.g. `roles {  // note`) to the last output line.
  void trailing_on_line(uint32_t anchor) {
    while (next_ < comments_.size()) {
      auto* c = comments_[next_];
      if (c->range.begin < anchor) break;
      if (source_.slice({anchor, c->range.begin}).find('\n') != std::string_view::npos) break;
      lines_.back() += "  " + c->text;
      last_end_ = c->range.end;
      ++next_;
    }
  }

  bool comment_inside(source_range r) const {
    return std::any_of(comments_.begin() + static_cast<long>(next_), comments_.end(),
                       [&](auto* c) { return c->range.begin > r.begin && c->range.end < r.end; });
  }

  size_t width(const std::string& text) const { return indent_ * 2 + text.size(); }

  /// Prints `head + expr + tail`, breaking a long top-level `||`/`&&` chain.
  void statement(const std::string& head, const ast::expr& e, const std::string& tail) {
    std::string one = head + print(e, p_cond) + tail;
    if (width(one) <= options_.max_width || e.parenthesized || e.kind != expr_kind::binary ||
        (e.bop != binary_op::logical_or && e.bop != binary_op::logical_and)) {
      line(one);
      return;
    }
    std::vector<const ast::expr*> parts;
    chain(e, e.bop, parts);
    int p = precedence(e);
    line(head + print(*parts[0], p));
    for (size_t i = 1; i < parts.size(); ++i)
      line("    " + std::string(ast::to_string(e.bop)) + " " + print(*parts[i], p + 1) +
           (i + 1 == parts.size() ? tail : ""));
  }

  // ---- declarations ---------------------------------------------------------

  static std::string type_text(const ast::type_ref& t) {
    std::string out = t.name;
    if (!t.args.empty()) {
      out += "<";
      for (size_t i = 0; i < t.args.size(); ++i) out += (i ? ", " : "") + type_text(t.args[i]);
      out += ">";
    }
    return out + (t.optional ? "?" : "");
  }

  static std::string keys_text(const std::vector<ast::order_key>& keys) {
    std::string out;
    for (size_t i = 0; i < keys.size(); ++i) out += (i ? ", " : "") + key_text(keys[i]);
    return out;
  }

  static std::string key_text(const ast::order_key& k) {
    std::string out = print(*k.key, p_cond);
    if (k.dir == ast::order_key::direction::asc) out += " asc";
    if (k.dir == ast::order_key::direction::desc) out += " desc";
    return out;
  }

  void decl(const ast::decl& d) {
    top(d.range);
    if (auto* l = std::get_if<ast::let_decl>(&d.node)) {
      std::string head = (l->is_fn ? "fn " : "let ") + l->name;
      if (l->has_params) {
        head += "(";
        for (size_t i = 0; i < l->params.size(); ++i) {
          head += (i ? ", " : "") + l->params[i].name;
          if (l->params[i].annotation) head += ": " + type_text(*l->params[i].annotation);
        }
        head += ")";
      }
      if (l->result) head += ": " + type_text(*l->result);
      statement(head + " = ", *l->value, ";");
    } else if (auto* r = std::get_if<ast::roles_decl>(&d.node)) {
      line("roles {");
      trailing_on_line(d.range.begin);
      ++indent_;
      for (auto& role : r->roles) role_decl(role);
      leading(d.range.end);
      --indent_;
      line("}");
    } else if (auto* g = std::get_if<ast::guarantees_decl>(&d.node)) {
      line("guarantees " + g->mode + ";");
    } else if (auto* o = std::get_if<ast::order_decl>(&d.node)) {
      std::string head = std::string("order ") + (o->frameworks ? "frameworks" : "roles") + " by";
      std::string one = head + " " + keys_text(o->keys) + ";";
      if (width(one) <= options_.max_width && !comment_inside(d.range)) {
        line(one);
      } else {
        line(head);
        ++indent_;
        for (size_t i = 0; i < o->keys.size(); ++i) {
          leading(o->keys[i].key->range.begin);
          line(key_text(o->keys[i]) + (i + 1 == o->keys.size() ? ";" : ","));
          if (i + 1 < o->keys.size()) trailing(o->keys[i].key->range.end + 1);
        }
        --indent_;
      }
    } else if (auto* f = std::get_if<ast::filter_decl>(&d.node)) {
      statement("filter " + f->name + ": ", *f->cond, ";");
    } else if (auto* s = std::get_if<ast::score_decl>(&d.node)) {
      statement("score " + s->name + " weight " + s->weight_text + ": ", *s->value, ";");
    } else if (auto* s = std::get_if<ast::spread_decl>(&d.node)) {
      line("spread " + s->name + " over " + print(*s->over, p_cond) + " max_skew " + s->max_skew +
           (s->require ? " require;" : " prefer weight " + s->weight_text + ";"));
    } else if (auto* l = std::get_if<ast::locality_decl>(&d.node)) {
      line("locality" + (l->guard ? " when " + print(*l->guard, p_cond) : std::string()) + " {");
      trailing_on_line(d.range.begin);
      ++indent_;
      for (auto& lv : l->levels) {
        leading(lv.range.begin);
        std::string text = "level " + lv.name;
        if (lv.when) text += " when " + print(*lv.when, p_cond);
        if (lv.wait) text += " wait " + print(*lv.wait, p_cond) + (lv.skips ? " skips" : "");
        line(text + ";");
        trailing(lv.range.end);
      }
      leading(d.range.end);
      --indent_;
      line("}");
    } else if (auto* p = std::get_if<ast::preempt_decl>(&d.node)) {
      line("preempt {");
      trailing_on_line(d.range.begin);
      ++indent_;
      for (auto& item : p->items) {
        using K = ast::preempt_item::kind;
        switch (item.what) {
          case K::when:
            line("when " + print(*item.first, p_cond) + ";");
            break;
          case K::from:
            line("from " + item.name + ": " + print(*item.first, p_cond) + ";");
            break;
          case K::victims:
            line("victims by " + keys_text(item.keys) + ";");
            break;
          case K::budget:
            line("budget " + print(*item.first, p_cond) + " per " + print(*item.second, p_cond) +
                 ";");
            break;
        }
      }
      leading(d.range.end);
      --indent_;
      line("}");
    } else if (auto* c = std::get_if<ast::cycle_decl>(&d.node)) {
      line("cycle {");
      trailing_on_line(d.range.begin);
      ++indent_;
      for (auto& o : c->options) {
        leading(o.range.begin);
        std::string words;
        for (auto& w : o.words) words += w + " ";
        line(words + print(*o.value, p_cond) + ";");
        trailing(o.range.end);
      }
      leading(d.range.end);
      --indent_;
      line("}");
    } else if (auto* m = std::get_if<ast::metric_decl>(&d.node)) {
      metric(*m, d.range);
    } else if (auto* t = std::get_if<ast::test_decl>(&d.node)) {
      test(*t, d.range);
    }
    trailing(d.range.end);
  }

  void role_decl(const ast::role_decl& r) {
    leading(r.range.begin);
    std::string head = r.is_default ? "default" : "role " + quote_string(r.name);
    if (!r.has_body) {
      line(head + ";");
      trailing(r.range.end);
      return;
    }
    bool has_child = std::any_of(r.items.begin(), r.items.end(),
                                 [](auto& i) { return i.what == ast::role_item::kind::child; });
    std::string one = head + " {";
    for (auto& item : r.items)
      if (item.what != ast::role_item::kind::child) one += " " + prop(item);
    one += r.items.empty() ? "}" : " }";
    if (!has_child && width(one) <= options_.max_width && !comment_inside(r.range)) {
      line(one);
      trailing(r.range.end);
      return;
    }
    line(head + " {");
    trailing_on_line(r.range.begin);
    ++indent_;
    for (auto& item : r.items) {
      if (item.what == ast::role_item::kind::child) {
        role_decl(*item.child);
      } else {
        leading(item.range.begin);
        line(prop(item));
        trailing(item.range.end);
      }
    }
    leading(r.range.end);
    --indent_;
    line("}");
    trailing(r.range.end);
  }

  static std::string prop(const ast::role_item& item) {
    using K = ast::role_item::kind;
    const char* name = item.what == K::weight      ? "weight "
                       : item.what == K::guarantee ? "guarantee "
                       : item.what == K::limit     ? "limit "
                                                   : "preemptible ";
    return name + print(*item.value, p_cond) + ";";
  }

  void metric(const ast::metric_decl& m, source_range range) {
    using K = ast::metric_decl::kind;
    std::string head = std::string("metric ") +
                       (m.what == K::counter ? "counter "
                        : m.what == K::gauge ? "gauge "
                                             : "histogram ") +
                       m.name;
    if (!m.labels.empty()) {
      head += " {";
      for (size_t i = 0; i < m.labels.size(); ++i) head += (i ? ", " : "") + m.labels[i].name;
      head += "}";
    }
    line(head);
    ++indent_;
    leading(range.end);
    line("help " + quote_string(m.help));
    if (m.buckets) line("buckets " + print(*m.buckets, p_cond));
    if (m.every_cycle) {
      statement("every cycle = ", *m.value, ";");
    } else {
      std::string text = "on " + m.event;
      if (m.when) text += " when " + print(*m.when, p_cond);
      statement(text + (m.observe ? " observe " : " += "), *m.value, ";");
    }
    --indent_;
  }

  void test(const ast::test_decl& t, source_range range) {
    using K = ast::test_step::kind;
    line("test " + t.name + " {");
    trailing_on_line(range.begin);
    ++indent_;
    for (auto& s : t.steps) {
      leading(s.range.begin);
      switch (s.what) {
        case K::given_policy:
          line("given policy " + s.text + ";");
          break;
        case K::given_fixture:
          line("given cluster fixture " + s.text + ";");
          break;
        case K::given_allocation:
          object_step("given allocation ", *s.value);
          break;
        case K::given_agent:
          object_step("given agent " + s.text + " ", *s.value);
          break;
        case K::given_framework:
          object_step("given framework " + s.text + " ", *s.value);
          break;
        case K::expect_order:
          line(std::string("expect order ") + (s.frameworks ? "frameworks " : "roles ") +
               (s.starts_with ? "starts_with " : "== ") + print(*s.value, p_cond) + ";");
          break;
        case K::expect_compile_error:
          line("expect compile_error " + s.text + " for " + s.text2 + ";");
          break;
        case K::expect_expr:
          statement("expect ", *s.value, ";");
          break;
      }
      trailing(s.range.end);
    }
    leading(range.end);
    --indent_;
    line("}");
  }

  void object_step(const std::string& head, const ast::expr& obj) {
    std::string one = head + print(obj, p_cond) + ";";
    if (width(one) <= options_.max_width || obj.keys.empty()) {
      line(one);
      return;
    }
    line(head + "{");
    ++indent_;
    for (size_t i = 0; i < obj.keys.size(); ++i)
      line(obj.keys[i] + ": " + print(*obj.children[i], p_cond) +
           (i + 1 == obj.keys.size() ? "" : ","));
    --indent_;
    line("};");
  }

  void section(const ast::schema_section& s) {
    top(s.name_range);
    line(s.name + " {");
    trailing_on_line(s.name_range.begin);
    ++indent_;
    for (auto& f : s.fields) {
      leading(f.range.begin);
      std::string text = f.name + ": " + type_text(f.field_type);
      if (f.max_age) text += " max_age " + print(*f.max_age, p_cond);
      line(text + ";");
      trailing(f.field_type.range.end);
    }
    for (size_t i = 0; i < s.limits.size(); ++i) {
      leading(s.limit_ranges[i].begin);
      line(s.limits[i].first + " " + std::to_string(s.limits[i].second) + ";");
      trailing(s.limit_ranges[i].end);
    }
    leading(s.range.end);
    --indent_;
    line("}");
    trailing(s.range.end);
  }

  const ast::file& file_;
  const source_file& source_;
  format_options options_;
  std::vector<const ast::comment*> comments_;
  size_t next_ = 0;
  std::vector<std::string> lines_;
  size_t indent_ = 0;
  uint32_t last_end_ = 0;
  bool emitted_any_ = false;
};

}  // namespace

std::string quote_string(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '\t') {
      out += "\\t";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string format_expr(const ast::expr& e) { return print(e, p_cond); }

std::string format(const ast::file& file, const source_file& source,
                   const format_options& options) {
  return printer(file, source, options).run();
}

}  // namespace agora::policy
