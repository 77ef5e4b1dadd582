#include "agora/test/tls_files.hpp"

#include <chrono>
#include <stdexcept>

#include "agora/test/child_process.hpp"
#include "agora/test/temp_dir.hpp"

namespace agora::test {
namespace {

/// Runs `openssl ARGS...` in `dir`; throws with its output on failure.
void openssl(const std::string& dir, const std::vector<std::string>& args) {
  child_process p;
  p.set_working_dir(dir);
  std::string error;
  if (!p.start("openssl", args, {}, &error))
    throw std::runtime_error("cannot run openssl (apt-get install openssl): " + error);
  auto status = p.wait_exit(std::chrono::seconds{30});
  if (!status || *status != 0)
    throw std::runtime_error("openssl " + args.front() + " failed: " + p.stderr_text());
}

/// A self-signed CA `name`.pem with key `name`.key.
void make_ca(const std::string& dir, const std::string& name) {
  openssl(dir,
          {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
           "-keyout", name + ".key", "-out", name + ".pem", "-days", "2", "-subj", "/CN=" + name});
}

/// A certificate `name`.pem with key `name`.key, signed by CA `ca`.
void make_cert(const std::string& dir, const std::string& name, const std::string& ca) {
  openssl(dir, {"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name});
  openssl(dir, {"x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
                "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", "san.cnf"});
}

}  // namespace

tls_files make_tls_files(const std::string& dir) {
  write_file(dir + "/san.cnf", "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  make_ca(dir, "ca");
  make_ca(dir, "foreign-ca");
  make_cert(dir, "node", "ca");
  make_cert(dir, "other-node", "ca");
  make_cert(dir, "foreign", "foreign-ca");
  tls_files f;
  f.ca = dir + "/ca.pem";
  f.foreign_ca = dir + "/foreign-ca.pem";
  f.node = {dir + "/node.pem", dir + "/node.key", f.ca};
  f.other_node = {dir + "/other-node.pem", dir + "/other-node.key", f.ca};
  f.foreign = {dir + "/foreign.pem", dir + "/foreign.key", f.ca};
  return f;
}

}  // namespace agora::test
