// The web UI's file serving: embedded files, content types, and the
// library route's refusal of anything outside its allow-list.

#include "agora/main/web_ui.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>

namespace agora::main {
namespace {

TEST(web_ui, serves_the_embedded_files_with_their_types) {
  auto index = ui_file("/index.html");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_NE(index.body.find("/ui/app.js"), std::string::npos);
  auto header = [](const observability::http_response& r, const std::string& name) {
    for (const auto& [n, v] : r.headers)
      if (n == name) return v;
    return std::string{};
  };
  EXPECT_EQ(header(index, "Content-Security-Policy"), ui_content_security_policy);
  EXPECT_EQ(header(index, "X-Frame-Options"), "DENY");
  // The page keeps to its policy: no inline script or style element.
  EXPECT_EQ(index.body.find("<script>"), std::string::npos);
  EXPECT_EQ(index.body.find("<style"), std::string::npos);
  EXPECT_EQ(index.body.find(" style="), std::string::npos);
  auto js = ui_file("/app.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.content_type, "application/javascript; charset=utf-8");
  // No markup from the cluster ever goes through innerHTML.
  EXPECT_EQ(js.body.find("innerHTML"), std::string::npos);
  EXPECT_EQ(ui_file("/app.css").content_type, "text/css; charset=utf-8");
  EXPECT_EQ(ui_file("/missing.js").status, 404);
  EXPECT_EQ(ui_file("/../web_ui.cpp").status, 404);
}

TEST(web_ui, library_route_serves_only_allowed_library_files) {
  char tmpl[] = "/tmp/agora-js-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string root = tmpl;
  ASSERT_EQ(
      system(("mkdir -p " + root + "/d3 " + root + "/jquery " + root + "/bootstrap5/css").c_str()),
      0);
  std::ofstream(root + "/d3/d3.min.js") << "var d3;";
  std::ofstream(root + "/d3/.hidden.js") << "secret";
  std::ofstream(root + "/d3/notes.txt") << "text";
  std::ofstream(root + "/jquery/jquery.js") << "var $;";
  std::ofstream(root + "/bootstrap5/css/bootstrap.min.css") << "body{}";
  std::ofstream(root + "/secret.js") << "secret";

  auto d3 = js_library_file(root, "d3/d3.min.js");
  EXPECT_EQ(d3.status, 200);
  EXPECT_EQ(d3.body, "var d3;");
  EXPECT_EQ(d3.content_type, "application/javascript; charset=utf-8");
  auto css = js_library_file(root, "bootstrap5/css/bootstrap.min.css");
  EXPECT_EQ(css.status, 200);
  EXPECT_EQ(css.content_type, "text/css; charset=utf-8");
  for (const char* bad : {"d3/../secret.js", "../secret.js", "d3/./d3.min.js", "d3//d3.min.js",
                          "d3/.hidden.js", "d3/notes.txt", "jquery/jquery.js", "secret.js",
                          "d3\\..\\secret.js", "", "d3/", "d3/missing.js", "/etc/passwd.js"})
    EXPECT_EQ(js_library_file(root, bad).status, 404) << bad;
  EXPECT_EQ(js_library_file(root, std::string("d3/d3.min.js\0.css", 17)).status, 404);
  ASSERT_EQ(system(("rm -rf " + root).c_str()), 0);
}

}  // namespace
}  // namespace agora::main
