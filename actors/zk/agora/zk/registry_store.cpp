#include "agora/zk/registry_store.hpp"

#include <utility>

#include "agora/zk/path.hpp"

namespace agora::zk {

registry_store::registry_store(session& s, std::string root)
    : session_(s), root_(std::move(root)), path_(join_path(root_, "registry")) {}

result<std::optional<versioned_document>> registry_store::read() {
  auto got = session_.get(path_);
  if (!got) {
    if (got.code() == errc::no_node) return std::optional<versioned_document>();
    return got.err();
  }
  return std::optional<versioned_document>(
      versioned_document{std::move(got.value().data), got.value().stat.version});
}

result<int32_t> registry_store::write(const std::string& data, int32_t expected_version) {
  if (data.size() > max_data_bytes)
    return make_error(errc::too_large, "the registry document has " + std::to_string(data.size()) +
                                           " bytes; ZooKeeper takes at most " +
                                           std::to_string(max_data_bytes) +
                                           " bytes in one znode (" + path_ + ")");
  if (expected_version < absent)
    return make_error(errc::invalid_argument,
                      "invalid expected registry version " + std::to_string(expected_version));
  if (expected_version == absent) {
    if (auto ensured = session_.ensure_path(root_); !ensured) return ensured.err();
    auto created = session_.create(path_, data, create_mode::persistent);
    if (created) return 0;
    if (created.code() == errc::node_exists)
      return make_error(errc::bad_version,
                        "the registry " + path_ + " exists already (expected none)");
    return created.err();
  }
  auto written = session_.set(path_, data, expected_version);
  if (written) return written.value().version;
  if (written.code() == errc::bad_version)
    return make_error(errc::bad_version, "the registry " + path_ + " is not at version " +
                                             std::to_string(expected_version) +
                                             " (written by someone else)");
  if (written.code() == errc::no_node)
    return make_error(errc::bad_version, "the registry " + path_ +
                                             " does not exist (expected version " +
                                             std::to_string(expected_version) + ")");
  return written.err();
}

}  // namespace agora::zk
