// The master's web UI in a real headless browser: a real cluster (a master,
// three agents on two racks) runs tasks, one of them for a framework whose
// name is markup; then tests/ui/ui_test.js (puppeteer-core driving Debian's
// chromium) opens every page and checks what it shows against `/state`.
// Run through tests/ui/run.sh (CTest `ui.browser`), which installs the npm
// packages and sets AGORA_UI_TEST_DIR, AGORA_UI_NODE_MODULES and
// AGORA_UI_ARTIFACTS; without them the test skips.

#include <gtest/gtest.h>

#include <cstdlib>

#include "cluster_fixture.hpp"

namespace agora::test {
namespace {

/// A framework name that is markup: the UI must show it as text.
const std::string evil_name =
    "<script>window.__agora_xss=1</script><img src=x onerror=\"window.__agora_xss=2\">";

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

/// Accepts the first of `fw`'s offers with `tasks` and declines the rest
/// briefly, so that the other framework gets offers too.
void launch(test_framework& fw, std::vector<protocol::task_info> tasks) {
  auto offers = fw.wait_offers();
  ASSERT_FALSE(offers.empty());
  fw.send(protocol::accept{"", {offers[0].id}, std::move(tasks), {0}});
  std::vector<std::string> rest;
  for (size_t i = 1; i < offers.size(); ++i) rest.push_back(offers[i].id);
  if (!rest.empty()) fw.send(protocol::decline{"", rest, {200}});
  fw.pending_offers().clear();
}

TEST(ui, every_page_in_a_headless_browser) {
  auto dir = env_or_empty("AGORA_UI_TEST_DIR");
  auto modules = env_or_empty("AGORA_UI_NODE_MODULES");
  auto artifacts = env_or_empty("AGORA_UI_ARTIFACTS");
  if (dir.empty() || modules.empty() || artifacts.empty())
    GTEST_SKIP() << "run through tests/ui/run.sh (CTest `ui.browser`): it installs "
                 << "puppeteer-core and finds node and chromium";

  cluster c;
  c.add_agent("cpus:2;mem:1GiB;disk:1GiB", "rack:r1");
  c.add_agent("cpus:2;mem:1GiB;disk:1GiB", "rack:r1");
  c.add_agent("cpus:4;mem:2GiB;disk:1GiB", "rack:r2");

  framework_system fs;
  protocol::framework_info web;
  web.name = "web";
  web.roles = {"dev"};
  test_framework fw{fs.sys(), c.master_address(), web};
  ASSERT_FALSE(fw.wait_subscribed().empty());
  launch(fw, {make_task("web-1", "echo hello-stdout; echo hello-stderr >&2; exec sleep 1000"),
              make_task("web-fail", "echo failing >&2; exit 3")});
  ASSERT_TRUE(fw.wait_status("web-1", protocol::task_state::running));
  ASSERT_TRUE(fw.wait_status("web-fail", protocol::task_state::failed));

  protocol::framework_info evil;
  evil.name = evil_name;
  evil.roles = {"ops"};
  test_framework fw2{fs.sys(), c.master_address(), evil};
  ASSERT_FALSE(fw2.wait_subscribed().empty());
  launch(fw2, {make_task("evil-1", "exec sleep 1000")});
  ASSERT_TRUE(fw2.wait_status("evil-1", protocol::task_state::running));

  child_process node;
  std::string error;
  ASSERT_TRUE(node.start("/usr/bin/env", {"node", dir + "/ui_test.js"},
                         {{"NODE_PATH", modules},
                          {"AGORA_MASTER", "http://127.0.0.1:" + std::to_string(c.http_port())},
                          {"AGORA_UI_ARTIFACTS", artifacts},
                          {"AGORA_EVIL_NAME", evil_name},
                          {"AGORA_RUNNING_TASK", "web-1"},
                          {"AGORA_FAILED_TASK", "web-fail"}},
                         &error))
      << error;
  // The script bounds each of its own waits; this is the bound on all.
  auto code = node.wait_exit(240s);
  auto out = node.stdout_text() + node.stderr_text();
  ASSERT_TRUE(code.has_value()) << "ui_test.js did not finish in 240 s\n" << out;
  EXPECT_EQ(*code, 0) << out;
  EXPECT_NE(out.find("ui_test: all checks passed"), std::string::npos) << out;
  // The kill the browser asked for reached the framework as its own would.
  EXPECT_TRUE(fw2.wait_status("evil-1", protocol::task_state::killed, 10s));
  std::printf("%s", out.c_str());
}

TEST(ui, the_agents_page_at_1000_agents) {
  auto dir = env_or_empty("AGORA_UI_TEST_DIR");
  auto modules = env_or_empty("AGORA_UI_NODE_MODULES");
  auto artifacts = env_or_empty("AGORA_UI_ARTIFACTS");
  if (dir.empty() || modules.empty() || artifacts.empty())
    GTEST_SKIP() << "run through tests/ui/run.sh (CTest `ui.browser`)";
  temp_dir work;
  uint16_t http = free_port();
  uint16_t actors = free_port();
  child_process local;
  ASSERT_TRUE(local.start(
      binary_path("agora"),
      {"local", "--agents=1000", "--racks=10", "--demo", "--demo-parallel=20",
       "--demo-command=sleep 3", "--port=" + std::to_string(http),
       "--actor-port=" + std::to_string(actors), "--work-dir=" + work.path() + "/work"}));
  ASSERT_TRUE(wait_until(
      [&] {
        auto r = http_get("127.0.0.1", http, "/state", 2000ms);
        rapidjson::Document d;
        return r.status == 200 && !d.Parse(r.body.c_str()).HasParseError() && d.IsObject() &&
               d["agents"].Size() == 1000 && d["frameworks"].Size() == 1;
      },
      90s))
      << local.describe();
  child_process node;
  std::string error;
  ASSERT_TRUE(node.start("/usr/bin/env", {"node", dir + "/ui_scale_test.js"},
                         {{"NODE_PATH", modules},
                          {"AGORA_MASTER", "http://127.0.0.1:" + std::to_string(http)},
                          {"AGORA_UI_ARTIFACTS", artifacts},
                          {"AGORA_AGENTS", "1000"},
                          {"AGORA_RACKS", "10"}},
                         &error))
      << error;
  auto code = node.wait_exit(240s);
  auto out = node.stdout_text() + node.stderr_text();
  ASSERT_TRUE(code.has_value()) << "ui_scale_test.js did not finish in 240 s\n" << out;
  EXPECT_EQ(*code, 0) << out;
  EXPECT_NE(out.find("ui_scale_test: all checks passed"), std::string::npos) << out;
  std::printf("%s", out.c_str());
}

}  // namespace
}  // namespace agora::test
