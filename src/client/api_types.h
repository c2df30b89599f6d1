// Gateway REST API (doc/design.md §4) replies as plain structs, with JSON
// parsing (lenient: missing fields take defaults, ids and handles may be
// numbers or strings) and the JSON the CLI prints with --json.
#ifndef CAIRN_CLIENT_API_TYPES_H_
#define CAIRN_CLIENT_API_TYPES_H_

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cairn::client {

// 201 reply to PUT /api/v1/files/{path}.
struct PutResult {
  std::string path;
  uint64_t size = 0;
  uint64_t chunks = 0;
  std::string sha256;  // lowercase hex
};

// Headers of GET/HEAD /api/v1/files/{path}.
struct FileHead {
  uint64_t size = 0;
  std::string sha256;  // from X-Checksum-Sha256; "" if absent
  std::string etag;
};

// Outcome of a download.
struct GetResult {
  uint64_t size = 0;   // bytes written to the sink
  std::string sha256;  // of the bytes written, lowercase hex
  std::string etag;
  bool verified = false;  // false if the gateway sent no X-Checksum-Sha256
};

struct ListEntry {
  std::string name;
  std::string path;
  std::string type;  // "file" or "dir"
  uint64_t size = 0;
  int64_t mtime = 0;  // unix seconds
  bool is_dir() const { return type == "dir" || type == "directory"; }
};

struct Listing {
  std::string path;
  std::vector<ListEntry> entries;
  // One page of a long listing: more entries follow `next_start_after`.
  // GatewayClient::List fetches every page, so its result is never truncated.
  bool truncated = false;
  std::string next_start_after;
};

struct ReplicaInfo {
  std::string node_id;
  std::string address;
  std::string zone;
};

struct ChunkInfo {
  uint64_t index = 0;
  std::string handle;
  uint64_t version = 0;
  uint64_t size = 0;
  std::vector<ReplicaInfo> replicas;
};

struct FileInfo {
  std::string path;
  std::string type = "file";  // "dir" when the path is a directory
  bool is_dir() const { return type == "dir" || type == "directory"; }
  uint64_t size = 0;
  std::string sha256;
  uint64_t replication = 0;
  int64_t mtime = 0;  // unix seconds
  std::vector<ChunkInfo> chunks;
};

struct NodeInfo {
  std::string id;
  std::string address;
  std::string zone;
  std::string state;  // "alive", "stale", "dead", ...
  uint64_t capacity = 0;
  uint64_t used = 0;
  uint64_t free = 0;  // 0 if the gateway does not say
  uint64_t chunks = 0;
  int64_t last_heartbeat_ms_ago = -1;  // -1: unknown
};

struct ClusterTotals {
  uint64_t nodes = 0;
  uint64_t alive = 0;
  uint64_t capacity = 0;
  uint64_t used = 0;
  double usage_percent = 0;
  uint64_t chunks = 0;
  uint64_t under_replicated = 0;
  uint64_t replication_queue = 0;  // chunks waiting for re-replication
};

// Compaction of pack chunks of small files, as the master last saw it.
struct CompactionStatus {
  uint64_t reclaimable_bytes = 0;
  uint64_t compactions = 0;
  uint64_t rewritten_bytes = 0;
};

struct ClusterStatus {
  std::vector<NodeInfo> nodes;
  ClusterTotals totals;         // computed from `nodes` if the gateway sent none
  bool safe_mode = false;       // master restarted, waiting for chunk reports
  uint64_t chunk_size = 0;      // 0 if unknown
  uint64_t replication = 0;     // 0 if unknown
  CompactionStatus compaction;  // zeros from a gateway that sends none
};

struct UsageEntry {
  std::string name;
  uint64_t files = 0;
  uint64_t bytes = 0;
};

struct Usage {
  std::string path;
  std::vector<UsageEntry> children;
};

// Each parser returns Internal("malformed gateway reply: ...") when `body` is
// not a JSON object of roughly the right shape.
absl::StatusOr<PutResult> ParsePutResult(std::string_view body);
absl::StatusOr<Listing> ParseListing(std::string_view body);
absl::StatusOr<FileInfo> ParseFileInfo(std::string_view body);
absl::StatusOr<ClusterStatus> ParseClusterStatus(std::string_view body);
absl::StatusOr<Usage> ParseUsage(std::string_view body);

// The JSON the CLI prints; field names match the REST API.
nlohmann::json ToJson(const PutResult& value);
nlohmann::json ToJson(const GetResult& value);
nlohmann::json ToJson(const ListEntry& value);
nlohmann::json ToJson(const Listing& value);
nlohmann::json ToJson(const FileInfo& value);
nlohmann::json ToJson(const ClusterStatus& value);
nlohmann::json ToJson(const Usage& value);

}  // namespace cairn::client

#endif  // CAIRN_CLIENT_API_TYPES_H_
