// `agora-policy`: the policy tool on its own, until the main `agora` binary
// dispatches `agora policy ...` to `run_policy_tool`.
#include <iostream>
#include <string>
#include <vector>

#include "agora/policy/tool.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return agora::policy::run_policy_tool(args, std::cout, std::cerr);
}
