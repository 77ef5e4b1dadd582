#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "agora/zk/error.hpp"
#include "agora/zk/session.hpp"

namespace agora::zk {

/// A version of the registry document.
struct versioned_document {
  /// The document (the registrar's JSON).
  std::string data;
  /// Its znode version: what the next `write` expects.
  int32_t version = 0;
};

/// The master's registry: one versioned JSON document in the znode
/// `<root>/registry`, written only by compare-and-set on the znode's
/// version. A document over `plain_limit` is stored deflated (zlib, after
/// a NUL-led magic line) when that makes it smaller: about 52 bytes of
/// JSON per agent would otherwise fill the znode's 1 MiB near 20,000
/// agents. `read` inflates it; plain documents stay readable with zkCli. A master that lost
/// leadership without noticing holds a stale version, so its writes fail with `errc::bad_version`
/// instead of overwriting its successor's: the fencing of the registrar.
///
/// Blocking calls on the caller's thread (bounded by the session's
/// operation timeout); thread-safe as the session is.
class registry_store {
 public:
  /// The `expected_version` of a write that creates the document.
  static constexpr int32_t absent = -1;
  /// Documents up to this size are stored as they are.
  static constexpr std::size_t plain_limit = 256 * 1024;
  /// The largest document `read` inflates (a corrupt or hostile znode
  /// cannot make it allocate more).
  static constexpr std::size_t max_document_bytes = 256 * 1024 * 1024;

  /// Uses `s` (which must outlive the store) and the cluster's root znode
  /// `root` (`zk_url::root`).
  registry_store(session& s, std::string root);

  /// Returns the znode path, `<root>/registry`.
  const std::string& path() const { return path_; }

  /// Returns the document with its version, nullopt when none was written
  /// yet, a connection error, or `errc::invalid_argument` for a compressed
  /// document that cannot be inflated.
  result<std::optional<versioned_document>> read();

  /// Writes `data` if the stored version is `expected_version` (`absent`:
  /// if there is no document yet; the parents are created as needed).
  /// Returns the new version; `errc::bad_version` when the stored document
  /// is at another version (or absent, or present when `absent` was
  /// expected): someone else wrote, re-read before retrying;
  /// `errc::too_large` when even compressed it is over `max_data_bytes`,
  /// before any I/O;
  /// `errc::connection_loss` or `errc::timeout` when the outcome is
  /// unknown (re-read to find out); other errors as the session's.
  result<int32_t> write(const std::string& data, int32_t expected_version);

 private:
  session& session_;
  std::string root_;
  std::string path_;
};

}  // namespace agora::zk
