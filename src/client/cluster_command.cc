// `cairn cluster`: the chunkservers and cluster totals as a table.
#include <nlohmann/json.hpp>

#include "client/commands.h"
#include "client/format.h"
#include "common/strings.h"

namespace cairn::client {
namespace {

constexpr int kBarWidth = 10;

std::string_view StateColor(std::string_view state) {
  if (state == "alive") return kGreen;
  if (state == "dead") return kRed;
  return kYellow;
}

std::string UsageCell(uint64_t used, uint64_t capacity) {
  if (capacity == 0) return "-";
  double fraction = static_cast<double>(used) / capacity;
  return cairn::StrCat(UsageBar(fraction, kBarWidth), " ", FormatPercent(100 * fraction));
}

}  // namespace

absl::Status RunCluster(const CommandContext& ctx) {
  absl::StatusOr<ClusterStatus> cluster = ctx.client->GetCluster();
  if (!cluster.ok()) {
    return absl::Status(cluster.status().code(),
                        cairn::StrCat("cluster: ", cluster.status().message()));
  }
  if (ctx.json) {
    *ctx.out << ToJson(*cluster).dump() << "\n";
    return absl::OkStatus();
  }
  Table table({{"ID"},
               {"ADDRESS"},
               {"ZONE"},
               {"STATE"},
               {"CAPACITY", Table::Align::kRight},
               {"USED", Table::Align::kRight},
               {"USE%"},
               {"CHUNKS", Table::Align::kRight},
               {"HEARTBEAT", Table::Align::kRight}});
  for (const NodeInfo& node : cluster->nodes) {
    table.AddRow({node.id, node.address, node.zone.empty() ? "-" : node.zone,
                  Table::Cell(node.state, StateColor(node.state)), HumanBytes(node.capacity),
                  HumanBytes(node.used), UsageCell(node.used, node.capacity),
                  cairn::StrCat(node.chunks), FormatAgo(node.last_heartbeat_ms_ago)});
  }
  const ClusterTotals& totals = cluster->totals;
  std::string use = totals.capacity == 0
                        ? "-"
                        : cairn::StrCat(UsageBar(totals.usage_percent / 100, kBarWidth), " ",
                                        FormatPercent(totals.usage_percent));
  table.AddRow({Table::Cell("TOTAL", kBold),
                cairn::StrCat(totals.nodes, " nodes, ", totals.alive, " alive"), "", "",
                HumanBytes(totals.capacity), HumanBytes(totals.used), use,
                cairn::StrCat(totals.chunks), ""});
  *ctx.out << table.Render(ctx.color) << "\n";
  auto highlight = [&](uint64_t value) {
    std::string text = cairn::StrCat(value);
    if (!ctx.color || value == 0) return text;
    return cairn::StrCat(kYellow, text, "\x1b[0m");
  };
  *ctx.out << "under-replicated chunks: " << highlight(totals.under_replicated)
           << "    re-replication queue: " << highlight(totals.replication_queue) << "\n";
  if (cluster->replication > 0 || cluster->chunk_size > 0) {
    *ctx.out << "replication: " << cluster->replication
             << "    chunk size: " << HumanBytes(cluster->chunk_size) << "\n";
  }
  if (const CompactionStatus& c = cluster->compaction;
      c.reclaimable_bytes > 0 || c.compactions > 0) {
    *ctx.out << "small files: " << HumanBytes(c.reclaimable_bytes)
             << " reclaimable in pack chunks    compactions: " << c.compactions << " ("
             << HumanBytes(c.rewritten_bytes) << " rewritten)\n";
  }
  if (cluster->safe_mode) {
    *ctx.out << "safe mode: the master is waiting for chunk reports "
                "(reads only, no repair or deletion)\n";
  }
  if (totals.alive < totals.nodes) {
    *ctx.out << "warning: " << (totals.nodes - totals.alive) << " of " << totals.nodes
             << " nodes are not alive\n";
  }
  return absl::OkStatus();
}

}  // namespace cairn::client
