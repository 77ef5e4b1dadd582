#include "agora/agent/checkpoint.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <utility>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

namespace agora::agent {

namespace {

namespace fs = std::filesystem;

// "AGCK", then version, payload size and checksum, little-endian.
constexpr char magic[4] = {'A', 'G', 'C', 'K'};
constexpr size_t header_size = 4 + 4 + 8 + 8;
// No checkpoint is near this; a larger size field means damage.
constexpr uint64_t max_payload = uint64_t{64} << 20;

uint64_t fnv1a(const std::string& bytes) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

void put(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get(const std::string& in, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(in[at + i])) << (8 * i);
  return v;
}

template <class T>
std::string serialize(T& value) {
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  if (auto err = sink(value)) return {};
  return std::string(buf.begin(), buf.end());
}

template <class T>
bool deserialize(const std::string& bytes, T& out) {
  caf::binary_deserializer source{nullptr, bytes.data(), bytes.size()};
  return !source(out) && source.remaining() == 0;
}

bool read_whole(const std::string& path, std::string& out) {
  std::ifstream in{path, std::ios::binary};
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{});
  return !in.bad();
}

// Reads and decodes the checkpoint file `path` into `out`.
template <class T>
bool load_file(const std::string& path, T& out, std::string& error) {
  std::string bytes, payload;
  if (!read_whole(path, bytes)) {
    error = path + ": cannot read: " + std::strerror(errno);
    return false;
  }
  if (!decode_checkpoint(bytes, payload, error)) {
    error = path + ": " + error;
    return false;
  }
  if (!deserialize(payload, out)) {
    error = path + ": corrupt: the content does not decode";
    return false;
  }
  return true;
}

}  // namespace

std::string encode_checkpoint(const std::string& payload) {
  std::string out(magic, sizeof(magic));
  put(out, checkpoint_version, 4);
  put(out, payload.size(), 8);
  put(out, fnv1a(payload), 8);
  return out + payload;
}

bool decode_checkpoint(const std::string& file, std::string& payload, std::string& error) {
  if (file.size() < header_size || file.compare(0, 4, magic, 4) != 0) {
    error = "corrupt: not an Agora checkpoint";
    return false;
  }
  auto version = get(file, 4, 4);
  if (version != checkpoint_version) {
    error = "incompatible: format version " + std::to_string(version) + ", this agent reads " +
            std::to_string(checkpoint_version);
    return false;
  }
  auto size = get(file, 8, 8);
  if (size > max_payload || size != file.size() - header_size) {
    error = "corrupt: " + std::to_string(file.size() - header_size) + " bytes of content, the " +
            "header says " + std::to_string(size);
    return false;
  }
  payload = file.substr(header_size);
  if (fnv1a(payload) != get(file, 16, 8)) {
    error = "corrupt: checksum mismatch";
    return false;
  }
  return true;
}

bool write_atomically(const std::string& path, const std::string& bytes, std::string& error,
                      bool sync) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = tmp + ": " + std::strerror(errno);
    return false;
  }
  size_t done = 0;
  while (done < bytes.size()) {
    auto n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  bool ok = done == bytes.size() && (!sync || ::fsync(fd) == 0);
  int saved = errno;
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    error = path + ": " + std::strerror(ok ? errno : saved);
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

checkpoint_store::checkpoint_store(std::string work_dir)
    : dir_((fs::absolute(work_dir) / "meta").lexically_normal().string()) {}

std::string checkpoint_store::task_dir(const std::string& framework_id,
                                       const std::string& task_id) const {
  return dir_ + "/tasks/" + framework_id + "/" + task_id;
}

std::string checkpoint_store::exit_file(const std::string& framework_id,
                                        const std::string& task_id) const {
  return task_dir(framework_id, task_id) + "/exit";
}

bool checkpoint_store::save(const agent_checkpoint& a, std::string& error) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) {
    error = dir_ + ": " + ec.message();
    return false;
  }
  auto copy = a;
  return write_atomically(dir_ + "/agent.ckpt", encode_checkpoint(serialize(copy)), error);
}

bool checkpoint_store::prepare(const std::string& framework_id, const std::string& task_id,
                               std::string& error) {
  std::error_code ec;
  auto dir = task_dir(framework_id, task_id);
  fs::create_directories(dir, ec);
  if (ec) error = dir + ": " + ec.message();
  return !ec;
}

bool checkpoint_store::save(const task_checkpoint& t, std::string& error) {
  if (!prepare(t.framework.id, t.info.id, error)) return false;
  auto copy = t;
  return write_atomically(task_dir(t.framework.id, t.info.id) + "/task.ckpt",
                          encode_checkpoint(serialize(copy)), error, t.terminal);
}

void checkpoint_store::remove(const std::string& framework_id, const std::string& task_id) {
  std::error_code ec;
  auto dir = fs::path(task_dir(framework_id, task_id));
  fs::remove_all(dir, ec);
  auto framework = dir.parent_path();
  if (fs::is_empty(framework, ec)) fs::remove(framework, ec);
}

bool checkpoint_store::load(recovered_state& out, std::string& error, bool skip_damaged) const {
  out = recovered_state{};
  error.clear();
  std::error_code ec;
  // Returns whether to go on after damage described in `why`.
  auto damaged = [&](const std::string& why) {
    error += (error.empty() ? "" : "; ") + why;
    return skip_damaged;
  };
  auto agent_file = dir_ + "/agent.ckpt";
  if (!fs::exists(agent_file, ec) && !skip_damaged) return true;  // a first start
  agent_checkpoint a;
  std::string why;
  if (load_file(agent_file, a, why))
    out.agent = std::move(a);
  else if (fs::exists(agent_file, ec) && !damaged(why))
    return false;
  auto frameworks = fs::path(dir_) / "tasks";
  if (!fs::is_directory(frameworks, ec)) return true;
  for (const auto& fw : fs::directory_iterator(frameworks, ec)) {
    for (const auto& task : fs::directory_iterator(fw.path(), ec)) {
      auto file = (task.path() / "task.ckpt").string();
      if (!fs::exists(file, ec)) continue;
      task_checkpoint t;
      if (!load_file(file, t, why)) {
        if (!damaged(why)) return false;
        continue;
      }
      if (t.framework.id != fw.path().filename() || t.info.id != task.path().filename()) {
        if (!damaged(file + ": corrupt: it names task " + t.info.id + " of framework " +
                     t.framework.id))
          return false;
        continue;
      }
      out.tasks.push_back(std::move(t));
    }
  }
  if (ec && !damaged(frameworks.string() + ": " + ec.message())) return false;
  return true;
}

int checkpoint_store::lock(std::string& error) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  auto path = dir_ + "/agent.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = path + ": " + std::strerror(errno);
    return -1;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    std::string holder;
    read_whole(path, holder);
    while (!holder.empty() && holder.back() == '\n') holder.pop_back();
    error = path + ": another agent process (pid " + (holder.empty() ? "?" : holder) +
            ") uses this work directory";
    ::close(fd);
    return -1;
  }
  auto pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) {
    [[maybe_unused]] auto n = ::pwrite(fd, pid.data(), pid.size(), 0);
  }
  return fd;
}

bool checkpoint_store::wipe(std::string& error) {
  // Everything but the lock, which the wiping process holds.
  std::error_code ec;
  fs::remove_all(dir_ + "/tasks", ec);
  if (!ec) fs::remove(dir_ + "/agent.ckpt", ec);
  if (ec) error = dir_ + ": " + ec.message();
  return !ec;
}

}  // namespace agora::agent
