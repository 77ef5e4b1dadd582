// Agora policy language: policy files, schema files and test files.
// See ../../shared/design/POLICY-LANGUAGE.md section 5. The generated parse
// tree never leaves policy-lang/agora/policy/parser.cpp, which converts it to
// the AST in ast.hpp.
//
// Expressions are written as one rule per precedence level with EBNF loops,
// so long operator chains give flat parse trees (no deep recursion); nesting
// only grows with brackets, which the parser limits before parsing.
grammar Policy;

file_
  : policy_file
  | schema_file
  | test_file
  ;

// ---- policy files -----------------------------------------------------------
policy_file : 'policy' STRING 'version' INT ';' header_item* decl* EOF ;
header_item : use_decl | import_decl ;
use_decl    : 'use' qname ';' ;
import_decl : 'import' STRING ';' ;
qname       : ident ('.' ident)* ;

decl
  : let_decl
  | fn_decl
  | roles_decl
  | guarantees_decl
  | order_decl
  | filter_decl
  | score_decl
  | spread_decl
  | locality_decl
  | preempt_decl
  | cycle_decl
  | metric_decl
  | test_decl
  ;

let_decl        : 'let' ident params? (':' type_ref)? '=' expr ';' ;
fn_decl         : 'fn' ident params ':' type_ref '=' expr ';' ;
params          : '(' (param (',' param)*)? ')' ;
param           : ident (':' type_ref)? ;

roles_decl      : 'roles' '{' roles_item* '}' ;
roles_item      : role_decl | default_role ;
default_role    : 'default' role_body ;
role_decl       : 'role' STRING (role_body | ';') ;
role_body       : '{' role_item* '}' ;
role_item       : role_prop | role_decl ;
role_prop
  : 'weight' expr ';'       # role_weight
  | 'guarantee' expr ';'    # role_guarantee
  | 'limit' expr ';'        # role_limit
  | 'preemptible' expr ';'  # role_preemptible
  ;
guarantees_decl : 'guarantees' ident ';' ;

order_decl      : 'order' target=('roles' | 'frameworks') 'by' order_key (',' order_key)* ';' ;
order_key       : expr dir=('asc' | 'desc')? ;
filter_decl     : 'filter' ident ':' expr ';' ;
score_decl      : 'score' ident 'weight' signed_number ':' expr ';' ;
signed_number   : '-'? (INT | FLOAT) ;
spread_decl     : 'spread' ident 'over' expr 'max_skew' INT
                  ('require' | 'prefer' 'weight' signed_number) ';' ;
locality_decl   : 'locality' ('when' expr)? '{' level_decl* '}' ;
level_decl      : 'level' ident ('when' expr)? ('wait' expr skips='skips'?)? ';' ;
preempt_decl    : 'preempt' '{' preempt_item* '}' ;
preempt_item
  : 'when' expr ';'
  | 'from' ident ':' expr ';'
  | 'victims' 'by' order_key (',' order_key)* ';'
  | 'budget' expr 'per' expr ';'
  ;
cycle_decl      : 'cycle' '{' cycle_option* '}' ;
cycle_option    : ident+ expr ';' ;

metric_decl
  : 'metric' kind=('counter' | 'gauge' | 'histogram') ident metric_labels?
    'help' STRING ('buckets' list_lit)? metric_source ';'
  ;
metric_labels   : '{' ident (',' ident)* '}' ;
metric_source
  : 'every' 'cycle' '=' expr                                   # every_cycle
  | 'on' ident ('when' expr)? op=('+=' | 'observe') expr       # on_event
  ;

// ---- test blocks ------------------------------------------------------------
test_file       : header_item* test_decl* EOF ;
test_decl       : 'test' STRING '{' test_step* '}' ;
test_step
  : 'given' given_clause ';'   # given_step
  | 'expect' expect_clause ';' # expect_step
  ;
given_clause
  : 'policy' STRING                           # given_policy
  | 'cluster' 'fixture' STRING                # given_fixture
  | 'allocation' obj_lit                      # given_allocation
  | what=('agent' | 'framework') STRING obj_lit # given_object
  ;
expect_clause
  : 'order' target=('roles' | 'frameworks') op=('==' | 'starts_with') list_lit # expect_order
  | 'compile_error' STRING 'for' STRING                                          # expect_compile_error
  | expr                                                                         # expect_expr
  ;

// ---- schema files -----------------------------------------------------------
schema_file     : 'schema' STRING 'version' INT ';' schema_section* EOF ;
schema_section
  : 'limits' '{' limit_entry* '}'    # schema_limits
  | qname '{' schema_field* '}'      # schema_fields
  ;
limit_entry     : ident INT ';' ;
schema_field    : ident ':' type_ref ('max_age' expr)? ';' ;
type_ref        : ident ('<' type_ref (',' type_ref)* '>')? optional='?'? ;

// ---- expressions (lowest to highest precedence) -----------------------------
expr        : held ('?' expr ':' expr)? ;
held        : coalesce ('for' unary)? ;
coalesce    : or_expr ('??' or_expr)* ;
or_expr     : and_expr ('||' and_expr)* ;
and_expr    : rel ('&&' rel)* ;
rel         : add (rel_op add)? ;
rel_op      : '<' | '<=' | '>' | '>=' | '==' | '!=' | 'in' ;
add         : mul (add_op mul)* ;
add_op      : '+' | '-' ;
mul         : unary (mul_op unary)* ;
mul_op      : '*' | '/' | '%' ;
unary       : unary_op* postfix ;
unary_op    : '!' | '-' ;
postfix     : primary postfix_op* ;
postfix_op
  : '.' ident args?    # member_op
  | '[' expr ']'       # index_op
  ;
primary
  : aggregate          # aggregate_primary
  | literal            # literal_primary
  | ident args?        # name_primary
  | '(' expr ')'       # paren_primary
  | list_lit           # list_primary
  | obj_lit            # obj_primary
  ;
aggregate   : agg=('sum' | 'count' | 'min' | 'max' | 'mean' | 'any' | 'all')
              '(' ident 'in' expr ('where' expr)? (':' expr)? ')' ;
args        : '(' (expr (',' expr)*)? ')' ;
literal     : INT | FLOAT | QUANTITY | PERCENT | STRING | 'true' | 'false' ;
list_lit    : '[' (expr (',' expr)*)? ']' ;
obj_lit     : '{' (obj_entry (',' obj_entry)*)? '}' ;
obj_entry   : (ident | STRING) ':' expr ;

// Keywords double as names where no ambiguity arises (`role.weight`,
// `level any`, `offer.res`, `cluster.cycle.time`, ...).
ident
  : IDENT
  | 'policy' | 'version' | 'use' | 'import' | 'let' | 'fn' | 'roles' | 'role'
  | 'default' | 'weight' | 'guarantee' | 'limit' | 'preemptible' | 'guarantees'
  | 'order' | 'by' | 'asc' | 'desc' | 'filter' | 'score' | 'spread' | 'over'
  | 'max_skew' | 'require' | 'prefer' | 'locality' | 'level' | 'wait' | 'skips'
  | 'preempt' | 'from' | 'victims' | 'budget' | 'per' | 'cycle' | 'metric'
  | 'counter' | 'gauge' | 'histogram' | 'help' | 'buckets' | 'every' | 'on'
  | 'observe' | 'test' | 'given' | 'expect' | 'cluster' | 'fixture'
  | 'allocation' | 'agent' | 'framework' | 'frameworks' | 'starts_with'
  | 'compile_error' | 'schema' | 'limits' | 'max_age' | 'sum' | 'count' | 'min'
  | 'max' | 'mean' | 'any' | 'all' | 'where' | 'when'
  ;

// ---- lexer ------------------------------------------------------------------
QUANTITY : DIGITS ('.' DIGITS)? [a-zA-Z]+ ;
PERCENT  : DIGITS ('.' DIGITS)? '%' ;
FLOAT    : DIGITS '.' DIGITS ;
INT      : DIGITS ;
STRING   : '"' (~["\\\r\n] | '\\' ~[\r\n])* '"' ;
IDENT    : [a-zA-Z_] [a-zA-Z_0-9]* ;
fragment DIGITS : [0-9]+ ;

LINE_COMMENT  : '//' ~[\r\n]* -> channel(HIDDEN) ;
BLOCK_COMMENT : '/*' .*? '*/' -> channel(HIDDEN) ;
WS            : [ \t\r\n]+ -> skip ;
