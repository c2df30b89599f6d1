// Client of the gateway REST API (doc/design.md §4), used by the `cairn` CLI and
// by tests. Transfers stream through ByteSource/ByteSink with bounded memory.
//
// Errors, for every call:
//   InvalidArgument     bad path (checked before any request) or HTTP 400
//   NotFound            HTTP 404
//   AlreadyExists       HTTP 409 (conflict, e.g. a file in the way)
//   FailedPrecondition  HTTP 412 (e.g. PutOptions::fail_if_exists)
//   ResourceExhausted   HTTP 507 (cluster out of space)
//   Unavailable         gateway unreachable, connection lost, timeout, 503
//   DataLoss            downloaded or uploaded bytes fail their SHA-256 check
//   Internal            a reply that is not the documented JSON
// plus whatever the ByteSource/ByteSink reports for local I/O.
#ifndef CAIRN_CLIENT_GATEWAY_CLIENT_H_
#define CAIRN_CLIENT_GATEWAY_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/api_types.h"
#include "client/byte_io.h"

namespace httplib {
class Client;
}  // namespace httplib

namespace cairn::client {

// Where the gateway listens.
struct GatewayAddress {
  std::string scheme = "http";  // "http" or "https"
  std::string host = "127.0.0.1";
  int port = 8089;
  std::string base_path;  // "" or a prefix like "/cairn", no trailing '/'

  // "http://127.0.0.1:8089" (plus base_path).
  std::string ToString() const;
};

// Accepts "http://host:port[/prefix]", "https://host[:port]", "host:port",
// "host", "[::1]:port" and a bare port ("8089", meaning 127.0.0.1). The
// default port is 8089 for http and 443 for https. InvalidArgument otherwise.
absl::StatusOr<GatewayAddress> ParseGatewayAddress(std::string_view text);

// Called as bytes move: `done` so far and `total` when known. Runs on the
// calling thread, inside the transfer; keep it cheap.
using ProgressCallback = std::function<void(uint64_t done, std::optional<uint64_t> total)>;

struct GatewayClientOptions {
  GatewayAddress address;
  std::chrono::milliseconds connect_timeout{5000};
  // Longest wait for any single read or write on the connection, including
  // the gateway's final commit after the last byte of an upload.
  std::chrono::milliseconds io_timeout{120000};
};

struct PutOptions {
  // Send If-None-Match: * so an existing file is not replaced
  // (FailedPrecondition instead).
  bool fail_if_exists = false;
  ProgressCallback progress;
};

struct GetOptions {
  ProgressCallback progress;
};

// Not thread-safe: calls on one object must not overlap.
class GatewayClient {
 public:
  explicit GatewayClient(GatewayClientOptions options);
  ~GatewayClient();
  GatewayClient(const GatewayClient&) = delete;
  GatewayClient& operator=(const GatewayClient&) = delete;

  const GatewayAddress& address() const { return options_.address; }

  // Uploads everything `source` yields to `path`, streaming: sized sources
  // go with Content-Length, others chunked. The SHA-256 of the bytes sent is
  // compared with the gateway's; DataLoss if they differ.
  absl::StatusOr<PutResult> Put(std::string_view path, ByteSource& source,
                                const PutOptions& options = {});

  // Streams `path` into `sink`, computing SHA-256 on the way. Calls
  // sink.Commit() only when the byte count matches Content-Length and the
  // digest matches X-Checksum-Sha256 (DataLoss otherwise; the sink is left
  // uncommitted). If the gateway sends no checksum the result says
  // verified=false and the sink is committed.
  absl::StatusOr<GetResult> Get(std::string_view path, ByteSink& sink,
                                const GetOptions& options = {});

  // Size and checksum of a file without its content.
  absl::StatusOr<FileHead> Head(std::string_view path);

  // Deletes a file, or with `recursive` a directory and everything under it.
  absl::Status Delete(std::string_view path, bool recursive);

  // Entries of directory `path` (all descendants with `recursive`), in the
  // gateway's order, following "truncated" pages to the end.
  absl::StatusOr<Listing> List(std::string_view path, bool recursive);

  // Creates directory `path` and its parents.
  absl::Status Mkdir(std::string_view path);

  // Atomically renames a file or directory.
  absl::Status Rename(std::string_view source, std::string_view target);

  absl::StatusOr<FileInfo> GetFileInfo(std::string_view path);
  absl::StatusOr<ClusterStatus> GetCluster();

  // Files and bytes under each child of directory `path`.
  absl::StatusOr<Usage> GetUsage(std::string_view path);

 private:
  struct Reply {
    int status = 0;
    std::string body;
  };

  // Runs a body-less or small-body request; non-2xx replies become errors.
  absl::StatusOr<Reply> Call(const std::string& method, const std::string& target,
                             const std::string& json_body = "");

  // Status for a transport-level failure (no HTTP reply).
  absl::Status TransportError(int httplib_error, std::string_view during) const;

  // A gateway that rejects an upload before reading its body closes the
  // connection, and its error reply is lost. Looks for the usual reasons (a
  // directory at `path`, a file where a parent directory should be) and
  // returns AlreadyExists for them, else `transport_error`.
  absl::Status DiagnoseBrokenUpload(std::string_view path, absl::Status transport_error);

  std::string FilesTarget(std::string_view path) const;
  std::string ApiTarget(std::string_view route, std::string_view path,
                        bool recursive = false) const;

  const GatewayClientOptions options_;
  std::unique_ptr<httplib::Client> http_;
};

}  // namespace cairn::client

#endif  // CAIRN_CLIENT_GATEWAY_CLIENT_H_
