// An in-memory stand-in for the gateway REST API (doc/design.md §4), served by
// httplib on 127.0.0.1 with an OS-chosen port. Used by the client library
// tests and, through cairn_fake_gateway, by the CLI round-trip test when no
// real cluster is running. It keeps whole files in memory: test data only.
#ifndef CAIRN_TESTS_CLIENT_FAKE_GATEWAY_H_
#define CAIRN_TESTS_CLIENT_FAKE_GATEWAY_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace httplib {
class Server;
struct Request;
struct Response;
class ContentReader;
}  // namespace httplib

namespace cairn::client::testing {

// What the fake saw of one request.
struct RecordedRequest {
  std::string method;
  std::string target;               // raw, still percent-encoded
  std::string path;                 // decoded by httplib
  std::string content_length;       // header value, "" if absent
  std::string transfer_encoding;    // header value, "" if absent
  std::string if_none_match;        // header value, "" if absent
  std::vector<size_t> body_pieces;  // sizes of the body reads, in order
};

struct FakeGatewayOptions {
  uint64_t chunk_size = 1 << 20;  // for fileinfo's chunk list
  size_t download_piece = 64 * 1024;
  size_t list_page_size = 0;  // > 0: listings come in "truncated" pages
  // false: reject a conflicting upload before reading its body, as a gateway
  // built on httplib does; the client then sees a broken connection.
  bool read_rejected_uploads = true;
};

// Thread-safe. Start() once; Stop() (or the destructor) ends serving.
class FakeGateway {
 public:
  explicit FakeGateway(FakeGatewayOptions options = {});
  ~FakeGateway();

  // Binds 127.0.0.1:0 and serves on a background thread. Returns the port,
  // or -1 if binding failed.
  int Start();
  void Stop();

  int port() const { return port_; }
  std::string url() const;

  // The next request (any route) is answered with the gateway's reply for
  // `status` (REQUIRES: not OK), after the request body was read.
  void FailNextRequest(absl::Status status);
  // The next download carries a wrong X-Checksum-Sha256.
  void CorruptNextDownload();
  // The next download omits X-Checksum-Sha256.
  void OmitNextChecksum();

  // State, for setting up and checking tests.
  void AddFile(const std::string& path, std::string content);
  std::optional<std::string> FileContent(const std::string& path) const;
  bool IsDirectory(const std::string& path) const;
  std::vector<RecordedRequest> requests() const;

 private:
  struct File {
    std::string content;
    std::string sha256;
    int64_t mtime_ms = 0;
  };

  void Route();
  void Record(const httplib::Request& req, std::vector<size_t> pieces);
  // True (and `res` filled) if a failure was queued.
  bool TakeFailure(httplib::Response& res);
  // True (and `res` filled) if an upload to `path` must fail: InvalidArgument,
  // AlreadyExists, FailedPrecondition.
  bool RejectUpload(const httplib::Request& req, const std::string& path, httplib::Response& res);

  void HandlePut(const httplib::Request& req, httplib::Response& res,
                 const httplib::ContentReader& reader);
  void HandleGet(const httplib::Request& req, httplib::Response& res, bool head);
  void HandleDelete(const httplib::Request& req, httplib::Response& res);
  void HandleList(const httplib::Request& req, httplib::Response& res);
  void HandleMkdir(const httplib::Request& req, httplib::Response& res);
  void HandleRename(const httplib::Request& req, httplib::Response& res);
  void HandleFileInfo(const httplib::Request& req, httplib::Response& res);
  void HandleCluster(const httplib::Request& req, httplib::Response& res);
  void HandleUsage(const httplib::Request& req, httplib::Response& res);

  // REQUIRES mu_ held: create the missing ancestors of `path` or, with
  // MakeDirs, `path` too, as the master does; its AlreadyExists if a file is
  // in the way.
  absl::Status AddParentsLocked(const std::string& path) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status MakeDirsLocked(const std::string& path) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const FakeGatewayOptions options_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = -1;

  mutable absl::Mutex mu_;
  std::map<std::string, File> files_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> dirs_ ABSL_GUARDED_BY(mu_);  // path -> mtime_ms
  std::vector<RecordedRequest> requests_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> next_failure_ ABSL_GUARDED_BY(mu_);
  bool corrupt_next_download_ ABSL_GUARDED_BY(mu_) = false;
  bool omit_next_checksum_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace cairn::client::testing

#endif  // CAIRN_TESTS_CLIENT_FAKE_GATEWAY_H_
