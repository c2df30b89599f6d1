#include "client/api_types.h"

#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>

#include "client/text.h"
#include "common/strings.h"

namespace cairn::client {
namespace {

using nlohmann::json;

const json* Field(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string GetString(const json& object, const char* key) {
  const json* value = Field(object, key);
  if (value == nullptr) return "";
  if (value->is_string()) return value->get<std::string>();
  if (value->is_number_unsigned()) return cairn::StrCat(value->get<uint64_t>());
  if (value->is_number_integer()) return cairn::StrCat(value->get<int64_t>());
  return value->dump();
}

int64_t GetInt(const json& object, const char* key, int64_t fallback = 0) {
  const json* value = Field(object, key);
  if (value == nullptr) return fallback;
  if (value->is_number_integer()) return value->get<int64_t>();
  if (value->is_number_float()) {
    return static_cast<int64_t>(std::llround(value->get<double>()));
  }
  if (value->is_string()) {
    return ParseInteger<int64_t>(value->get<std::string>()).value_or(fallback);
  }
  return fallback;
}

uint64_t GetUint(const json& object, const char* key) {
  const json* value = Field(object, key);
  if (value != nullptr && value->is_number_unsigned()) {
    return value->get<uint64_t>();
  }
  if (value != nullptr && value->is_string()) {
    std::optional<uint64_t> parsed = ParseInteger<uint64_t>(value->get<std::string>());
    if (parsed.has_value()) return *parsed;
  }
  int64_t signed_value = GetInt(object, key);
  return signed_value < 0 ? 0 : static_cast<uint64_t>(signed_value);
}

double GetDouble(const json& object, const char* key) {
  const json* value = Field(object, key);
  if (value != nullptr && value->is_number()) return value->get<double>();
  return 0;
}

const json& GetArray(const json& object, const char* key) {
  static const json kEmpty = json::array();
  const json* value = Field(object, key);
  return value != nullptr && value->is_array() ? *value : kEmpty;
}

// Parses `body` as a JSON object and hands it to `convert`.
template <typename T>
absl::StatusOr<T> ParseObject(std::string_view body, const char* what,
                              const std::function<T(const json&)>& convert) {
  json parsed = json::parse(body.begin(), body.end(), nullptr,
                            /*allow_exceptions=*/false);
  if (!parsed.is_object()) {
    return absl::InternalError(
        cairn::StrCat("malformed gateway reply to ", what, ": not a JSON object"));
  }
  try {
    return convert(parsed);
  } catch (const json::exception& e) {
    return absl::InternalError(cairn::StrCat("malformed gateway reply to ", what, ": ", e.what()));
  }
}

ListEntry ToListEntry(const json& j) {
  ListEntry entry;
  entry.name = GetString(j, "name");
  entry.path = GetString(j, "path");
  entry.type = GetString(j, "type");
  entry.size = GetUint(j, "size");
  entry.mtime = GetInt(j, "mtime");
  return entry;
}

ChunkInfo ToChunkInfo(const json& j) {
  ChunkInfo chunk;
  chunk.index = GetUint(j, "index");
  chunk.handle = GetString(j, "handle");
  chunk.version = GetUint(j, "version");
  chunk.size = GetUint(j, "size");
  for (const json& r : GetArray(j, "replicas")) {
    chunk.replicas.push_back(
        ReplicaInfo{GetString(r, "node_id"), GetString(r, "address"), GetString(r, "zone")});
  }
  return chunk;
}

NodeInfo ToNodeInfo(const json& j) {
  NodeInfo node;
  node.id = GetString(j, "id");
  node.address = GetString(j, "address");
  node.zone = GetString(j, "zone");
  node.state = GetString(j, "state");
  node.capacity = GetUint(j, "capacity");
  node.used = GetUint(j, "used");
  node.free = GetUint(j, "free");
  node.chunks = GetUint(j, "chunks");
  node.last_heartbeat_ms_ago = GetInt(j, "last_heartbeat_ms_ago", -1);
  return node;
}

ClusterTotals ComputeTotals(const std::vector<NodeInfo>& nodes) {
  ClusterTotals totals;
  for (const NodeInfo& node : nodes) {
    ++totals.nodes;
    if (node.state == "alive") ++totals.alive;
    totals.capacity += node.capacity;
    totals.used += node.used;
    totals.chunks += node.chunks;
  }
  if (totals.capacity > 0) {
    totals.usage_percent = 100.0 * totals.used / totals.capacity;
  }
  return totals;
}

}  // namespace

absl::StatusOr<PutResult> ParsePutResult(std::string_view body) {
  return ParseObject<PutResult>(body, "upload", [](const json& j) {
    PutResult result;
    result.path = GetString(j, "path");
    result.size = GetUint(j, "size");
    result.chunks =
        GetArray(j, "chunks").empty() ? GetUint(j, "chunks") : GetArray(j, "chunks").size();
    result.sha256 = GetString(j, "sha256");
    return result;
  });
}

absl::StatusOr<Listing> ParseListing(std::string_view body) {
  return ParseObject<Listing>(body, "list", [](const json& j) {
    Listing listing;
    listing.path = GetString(j, "path");
    for (const json& e : GetArray(j, "entries")) {
      listing.entries.push_back(ToListEntry(e));
    }
    const json* truncated = Field(j, "truncated");
    listing.truncated = truncated != nullptr && truncated->is_boolean() && truncated->get<bool>();
    listing.next_start_after = GetString(j, "next_start_after");
    return listing;
  });
}

absl::StatusOr<FileInfo> ParseFileInfo(std::string_view body) {
  return ParseObject<FileInfo>(body, "fileinfo", [](const json& j) {
    FileInfo info;
    info.path = GetString(j, "path");
    if (!GetString(j, "type").empty()) info.type = GetString(j, "type");
    info.size = GetUint(j, "size");
    info.sha256 = GetString(j, "sha256");
    info.replication = GetUint(j, "replication");
    info.mtime = GetInt(j, "mtime");
    for (const json& c : GetArray(j, "chunks")) {
      info.chunks.push_back(ToChunkInfo(c));
    }
    return info;
  });
}

absl::StatusOr<ClusterStatus> ParseClusterStatus(std::string_view body) {
  return ParseObject<ClusterStatus>(body, "cluster", [](const json& j) {
    ClusterStatus status;
    for (const json& n : GetArray(j, "nodes")) {
      status.nodes.push_back(ToNodeInfo(n));
    }
    const json* safe_mode = Field(j, "safe_mode");
    status.safe_mode = safe_mode != nullptr && safe_mode->is_boolean() && safe_mode->get<bool>();
    status.chunk_size = GetUint(j, "chunk_size");
    status.replication = GetUint(j, "replication");
    if (const json* c = Field(j, "compaction"); c != nullptr && c->is_object()) {
      status.compaction.reclaimable_bytes = GetUint(*c, "reclaimable_bytes");
      status.compaction.compactions = GetUint(*c, "compactions");
      status.compaction.rewritten_bytes = GetUint(*c, "rewritten_bytes");
    }
    const json* totals = Field(j, "totals");
    if (totals == nullptr || !totals->is_object()) {
      status.totals = ComputeTotals(status.nodes);
      return status;
    }
    const json& t = *totals;
    status.totals.nodes = GetUint(t, "nodes");
    status.totals.alive = GetUint(t, "alive");
    status.totals.capacity = GetUint(t, "capacity");
    status.totals.used = GetUint(t, "used");
    status.totals.usage_percent = GetDouble(t, "usage_percent");
    status.totals.chunks = GetUint(t, "chunks");
    status.totals.under_replicated = GetUint(t, "under_replicated");
    status.totals.replication_queue = GetUint(t, "replication_queue");
    return status;
  });
}

absl::StatusOr<Usage> ParseUsage(std::string_view body) {
  return ParseObject<Usage>(body, "usage", [](const json& j) {
    Usage usage;
    usage.path = GetString(j, "path");
    for (const json& c : GetArray(j, "children")) {
      usage.children.push_back(
          UsageEntry{GetString(c, "name"), GetUint(c, "files"), GetUint(c, "bytes")});
    }
    return usage;
  });
}

json ToJson(const PutResult& value) {
  return {{"path", value.path},
          {"size", value.size},
          {"chunks", value.chunks},
          {"sha256", value.sha256}};
}

json ToJson(const GetResult& value) {
  return {{"size", value.size},
          {"sha256", value.sha256},
          {"etag", value.etag},
          {"verified", value.verified}};
}

json ToJson(const ListEntry& value) {
  return {{"name", value.name},
          {"path", value.path},
          {"type", value.type},
          {"size", value.size},
          {"mtime", value.mtime}};
}

json ToJson(const Listing& value) {
  json entries = json::array();
  for (const ListEntry& entry : value.entries) entries.push_back(ToJson(entry));
  return {{"path", value.path}, {"entries", std::move(entries)}};
}

json ToJson(const FileInfo& value) {
  json chunks = json::array();
  for (const ChunkInfo& chunk : value.chunks) {
    json replicas = json::array();
    for (const ReplicaInfo& r : chunk.replicas) {
      replicas.push_back({{"node_id", r.node_id}, {"address", r.address}, {"zone", r.zone}});
    }
    chunks.push_back({{"index", chunk.index},
                      {"handle", chunk.handle},
                      {"version", chunk.version},
                      {"size", chunk.size},
                      {"replicas", std::move(replicas)}});
  }
  return {{"path", value.path},
          {"type", value.type},
          {"size", value.size},
          {"sha256", value.sha256},
          {"replication", value.replication},
          {"mtime", value.mtime},
          {"chunks", std::move(chunks)}};
}

json ToJson(const ClusterStatus& value) {
  json nodes = json::array();
  for (const NodeInfo& n : value.nodes) {
    nodes.push_back({{"id", n.id},
                     {"address", n.address},
                     {"zone", n.zone},
                     {"state", n.state},
                     {"capacity", n.capacity},
                     {"used", n.used},
                     {"free", n.free},
                     {"chunks", n.chunks},
                     {"last_heartbeat_ms_ago", n.last_heartbeat_ms_ago}});
  }
  const ClusterTotals& t = value.totals;
  return {{"nodes", std::move(nodes)},
          {"totals",
           {{"nodes", t.nodes},
            {"alive", t.alive},
            {"capacity", t.capacity},
            {"used", t.used},
            {"usage_percent", t.usage_percent},
            {"chunks", t.chunks},
            {"under_replicated", t.under_replicated},
            {"replication_queue", t.replication_queue}}},
          {"compaction",
           {{"reclaimable_bytes", value.compaction.reclaimable_bytes},
            {"compactions", value.compaction.compactions},
            {"rewritten_bytes", value.compaction.rewritten_bytes}}},
          {"safe_mode", value.safe_mode},
          {"chunk_size", value.chunk_size},
          {"replication", value.replication}};
}

json ToJson(const Usage& value) {
  json children = json::array();
  for (const UsageEntry& c : value.children) {
    children.push_back({{"name", c.name}, {"files", c.files}, {"bytes", c.bytes}});
  }
  return {{"path", value.path}, {"children", std::move(children)}};
}

}  // namespace cairn::client
