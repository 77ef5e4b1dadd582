#include "agora/zk/registry_store.hpp"

#include <zlib.h>

#include <utility>

#include "agora/zk/path.hpp"

namespace agora::zk {

namespace {

/// Starts a compressed document (a NUL: never the start of JSON).
const std::string compressed_magic{"\0AGORA-ZLIB1\n", 13};

/// Returns `data` deflated after `compressed_magic`, or `data` itself when
/// it is small (readable with zkCli) or does not shrink.
std::string encode(const std::string& data) {
  if (data.size() <= registry_store::plain_limit) return data;
  uLongf size = compressBound(static_cast<uLong>(data.size()));
  std::string out(compressed_magic.size() + size, '\0');
  out.replace(0, compressed_magic.size(), compressed_magic);
  if (compress2(reinterpret_cast<Bytef*>(&out[compressed_magic.size()]), &size,
                reinterpret_cast<const Bytef*>(data.data()), static_cast<uLong>(data.size()),
                Z_BEST_SPEED) != Z_OK)
    return data;
  out.resize(compressed_magic.size() + size);
  return out.size() < data.size() ? out : data;
}

/// Returns the document `raw` holds (inflating a compressed one, up to
/// `registry_store::max_document_bytes`), or an error for a corrupt one.
result<std::string> decode(std::string raw, const std::string& path) {
  if (raw.compare(0, compressed_magic.size(), compressed_magic) != 0) return raw;
  z_stream z{};
  if (inflateInit(&z) != Z_OK) return make_error(errc::invalid_argument, "zlib: no memory");
  z.next_in = reinterpret_cast<Bytef*>(&raw[compressed_magic.size()]);
  z.avail_in = static_cast<uInt>(raw.size() - compressed_magic.size());
  std::string out;
  char buf[64 * 1024];
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof(buf);
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof(buf) - z.avail_out);
    if (out.size() > registry_store::max_document_bytes) rc = Z_MEM_ERROR;
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END)
    return make_error(errc::invalid_argument, "the registry " + path +
                                                  " is compressed but cannot be inflated (zlib " +
                                                  std::to_string(rc) + ")");
  return out;
}

}  // namespace

registry_store::registry_store(session& s, std::string root)
    : session_(s), root_(std::move(root)), path_(join_path(root_, "registry")) {}

result<std::optional<versioned_document>> registry_store::read() {
  auto got = session_.get(path_);
  if (!got) {
    if (got.code() == errc::no_node) return std::optional<versioned_document>();
    return got.err();
  }
  auto data = decode(std::move(got.value().data), path_);
  if (!data) return data.err();
  return std::optional<versioned_document>(
      versioned_document{std::move(data.value()), got.value().stat.version});
}

result<int32_t> registry_store::write(const std::string& document, int32_t expected_version) {
  auto data = encode(document);
  if (data.size() > max_data_bytes)
    return make_error(
        errc::too_large,
        "the registry document has " + std::to_string(document.size()) + " bytes" +
            (data.size() != document.size() ? " (" + std::to_string(data.size()) + " compressed)"
                                            : std::string{}) +
            "; ZooKeeper takes at most " + std::to_string(max_data_bytes) +
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
