#pragma once

#include <map>
#include <string>
#include <vector>

namespace agora::auth {

/// Authorization rules (`--acls FILE`), in the spirit of Mesos' ACLs.
///
/// The file is JSON: an optional `"permissive"` (default true) and, per
/// action, an ordered list of rules, each naming its subjects
/// (`"principals"`) and the objects of the action under the action's key:
///
///     {"permissive": false,
///      "register_frameworks": [{"principals": {"values": ["ops"]},
///                               "roles": {"values": ["prod", "dev"]}}],
///      "teardown_frameworks": [{"principals": {"values": ["ops"]},
///                               "framework_principals": {"type": "ANY"}}]}
///
/// An entity is `{"values": [...]}`, `{"type": "ANY"}` or `{"type": "NONE"}`.
/// A request (principal P, object O) is decided by the first rule whose
/// principals match P (ANY matches every principal, also an anonymous
/// one; values match only an authenticated P among them):
/// its objects ANY or containing O allow, NONE denies, other values pass to
/// the next rule. When no rule decides, `permissive` does, except for
/// `run_tasks` as `root`: that needs a rule that allows it.
class acls {
 public:
  /// The actions and the key of their objects in the file.
  enum class action {
    register_frameworks,  ///< object: a role the framework subscribes in (`roles`)
    run_tasks,            ///< object: the OS user tasks run as (`users`); `root` needs a rule
    teardown_frameworks,  ///< object: the framework's principal (`framework_principals`)
    kill_tasks,           ///< object: the task's framework's principal (`framework_principals`)
    update_policies,      ///< no object (`agora policy apply`, `rollback`)
    read_endpoints,       ///< object: an endpoint path, e.g. `/state` (`endpoints`)
    access_sandboxes,     ///< object: the task's framework's principal (`framework_principals`)
  };

  /// Loads `path`. Returns false and sets `error` (naming the file, the
  /// action and the rule) on an unknown key or a malformed entity.
  static bool load(const std::string& path, acls& out, std::string& error);
  /// Parses the JSON text itself (`what` names it in errors).
  static bool parse(const std::string& text, const std::string& what, acls& out,
                    std::string& error);

  /// Returns true if `principal` ("" when anonymous) may do `a` on `object`.
  bool allowed(action a, const std::string& principal, const std::string& object = "") const;

  /// Returns the name of `a` as in the file, e.g. `register_frameworks`.
  static const char* name(action a);
  /// Returns the key of `a`'s objects in the file ("" for none).
  static const char* object_key(action a);

 private:
  struct entity {
    enum kind { any, none, values } type = any;
    std::vector<std::string> names;
    bool matches(const std::string& x) const;
  };
  struct rule {
    entity principals;
    entity objects;
  };
  bool permissive_ = true;
  std::map<action, std::vector<rule>> rules_;
};

/// Returns an error message for a refusal: it names the principal and the
/// action (and object), e.g. `principal 'ops' may not register_frameworks
/// 'prod' (--acls)`.
std::string denied(acls::action a, const std::string& principal, const std::string& object = "");

}  // namespace agora::auth
