#include "client/gateway_client.h"

#include <httplib.h>

#include <algorithm>
#include <iterator>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "absl/types/span.h"
#include "client/http_errors.h"
#include "client/paths.h"
#include "client/sha256.h"
#include "client/text.h"
#include "common/strings.h"

namespace cairn::client {
namespace {

constexpr size_t kTransferBufferSize = 256 * 1024;
constexpr size_t kMaxErrorBody = 64 * 1024;
constexpr char kApiPrefix[] = "/api/v1";
constexpr char kChecksumHeader[] = "X-Checksum-Sha256";

bool IsSuccess(int http_status) { return http_status >= 200 && http_status < 300; }

absl::StatusOr<int> ParsePort(std::string_view text) {
  std::optional<int> port = ParseInteger<int>(text);
  if (!port.has_value() || *port < 1 || *port > 65535) {
    return absl::InvalidArgumentError(cairn::StrCat("invalid gateway port \"", text, "\""));
  }
  return *port;
}

std::optional<uint64_t> ContentLength(const httplib::Response& response) {
  if (!response.has_header("Content-Length")) return std::nullopt;
  return ParseInteger<uint64_t>(response.get_header_value("Content-Length"));
}

void Report(const ProgressCallback& progress, uint64_t done, std::optional<uint64_t> total) {
  if (progress) progress(done, total);
}

// Checks that the digest of the bytes that moved (`actual`) matches the
// gateway's (`expected`); DataLoss naming both otherwise.
absl::Status CheckDigest(std::string_view what, std::string_view expected,
                         std::string_view actual) {
  if (EqualsIgnoreCase(StripWhitespace(expected), actual)) {
    return absl::OkStatus();
  }
  return absl::DataLossError(cairn::StrCat("SHA-256 mismatch ", what, ": the gateway has ",
                                           expected, ", the bytes here hash to ", actual));
}

// An upload's body: read from a ByteSource in pieces as httplib asks for
// them, hashed on the way (SHA-256, checked against the gateway's), with
// progress reports. httplib may re-read from 0 (a retried request); a read
// out of order makes the hash unusable rather than wrong.
class UploadBody {
 public:
  UploadBody(ByteSource& source, const ProgressCallback& progress)
      : source_(source), progress_(progress), total_(source.size()), buffer_(kTransferBufferSize) {}

  // Reads the next piece at `offset` and hands it to `sink`; false aborts
  // the request (status() says why).
  bool Send(size_t offset, size_t max_length, httplib::DataSink& sink) {
    size_t want = std::min(buffer_.size(), max_length);
    absl::StatusOr<size_t> n = source_.Read(offset, absl::MakeSpan(buffer_.data(), want));
    if (!n.ok()) {
      status_ = n.status();
      return false;
    }
    if (*n == 0) {
      if (total_.has_value()) {
        status_ = absl::AbortedError(cairn::StrCat("the local file shrank during the upload (",
                                                   offset, " of ", *total_, " bytes sent)"));
        return false;
      }
      sink.done();
      return true;
    }
    std::string_view piece(buffer_.data(), *n);
    if (offset == 0) {
      sha_.Reset();
      hashed_ = 0;
      hash_valid_ = true;
    }
    if (offset == hashed_) {
      sha_.Update(piece);
      hashed_ += *n;
    } else {
      hash_valid_ = false;
    }
    // A failed write is the connection's failure, not ours: returning true
    // lets httplib report it as a write error rather than a cancellation.
    if (!sink.write(piece.data(), piece.size())) return true;
    Report(progress_, offset + *n, total_);
    return true;
  }

  const absl::Status& status() const { return status_; }
  bool hash_valid() const { return hash_valid_; }
  std::string HexDigest() { return sha_.HexDigest(); }

 private:
  ByteSource& source_;
  const ProgressCallback& progress_;
  const std::optional<uint64_t> total_;
  std::vector<char> buffer_;
  Sha256 sha_;
  uint64_t hashed_ = 0;     // bytes covered by sha_, in order from 0
  bool hash_valid_ = true;  // false if the transport re-read out of order
  absl::Status status_;
};

}  // namespace

// ---------------------------------------------------------------- address

std::string GatewayAddress::ToString() const {
  std::string shown_host =
      host.find(':') != std::string::npos ? cairn::StrCat("[", host, "]") : host;
  return cairn::StrCat(scheme, "://", shown_host, ":", port, base_path);
}

absl::StatusOr<GatewayAddress> ParseGatewayAddress(std::string_view text) {
  text = StripWhitespace(text);
  if (text.empty()) return absl::InvalidArgumentError("empty gateway address");
  GatewayAddress address;
  if (text.find_first_not_of("0123456789") == std::string_view::npos) {
    absl::StatusOr<int> port = ParsePort(text);
    if (!port.ok()) return port.status();
    address.port = *port;
    return address;
  }
  size_t scheme_end = text.find("://");
  if (scheme_end != std::string_view::npos) {
    address.scheme = ToLower(text.substr(0, scheme_end));
    if (address.scheme != "http" && address.scheme != "https") {
      return absl::InvalidArgumentError(
          cairn::StrCat("gateway address must be http:// or https://, got \"", text, "\""));
    }
    address.port = address.scheme == "https" ? 443 : 8089;
    text.remove_prefix(scheme_end + 3);
  }
  size_t slash = text.find('/');
  if (slash != std::string_view::npos) {
    std::string_view base = text.substr(slash);
    while (!base.empty() && base.back() == '/') base.remove_suffix(1);
    address.base_path = std::string(base);
    text = text.substr(0, slash);
  }
  std::string_view host = text;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError("unterminated [ in gateway address");
    }
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return absl::InvalidArgumentError("junk after ] in gateway address");
      }
      port = rest.substr(1);
    }
  } else {
    size_t colon = text.find(':');
    if (colon != std::string_view::npos) {
      host = text.substr(0, colon);
      port = text.substr(colon + 1);
    }
  }
  if (!port.empty() || text.ends_with(":")) {
    absl::StatusOr<int> parsed = ParsePort(port);
    if (!parsed.ok()) return parsed.status();
    address.port = *parsed;
  }
  if (!host.empty()) address.host = std::string(host);
  return address;
}

// ---------------------------------------------------------------- client

GatewayClient::GatewayClient(GatewayClientOptions options) : options_(std::move(options)) {
  GatewayAddress origin = options_.address;
  origin.base_path.clear();
  http_ = std::make_unique<httplib::Client>(origin.ToString());
  http_->set_connection_timeout(options_.connect_timeout);
  http_->set_read_timeout(options_.io_timeout);
  http_->set_write_timeout(options_.io_timeout);
  http_->set_url_encode(false);  // targets are percent-encoded here
  http_->set_keep_alive(true);
  // Headers and small bodies go out as separate writes; without this, Nagle
  // and delayed ACKs add ~40 ms to every request on a kept-alive connection.
  http_->set_tcp_nodelay(true);
  http_->set_default_headers({{"User-Agent", "cairn-client/1"}});
}

GatewayClient::~GatewayClient() = default;

std::string GatewayClient::FilesTarget(std::string_view path) const {
  return cairn::StrCat(options_.address.base_path, kApiPrefix, "/files", EncodePath(path));
}

std::string GatewayClient::ApiTarget(std::string_view route, std::string_view path,
                                     bool recursive) const {
  std::string target = cairn::StrCat(options_.address.base_path, kApiPrefix, "/", route);
  if (!path.empty()) cairn::StrAppend(&target, "?path=", EncodeQueryValue(path));
  if (recursive) cairn::StrAppend(&target, "&recursive=true");
  return target;
}

absl::Status GatewayClient::TransportError(int httplib_error, std::string_view during) const {
  const std::string where = options_.address.ToString();
  switch (static_cast<httplib::Error>(httplib_error)) {
    case httplib::Error::Connection:
      return absl::UnavailableError(cairn::StrCat("cannot connect to the gateway at ", where));
    case httplib::Error::ConnectionTimeout:
      return absl::UnavailableError(
          cairn::StrCat("timed out connecting to the gateway at ", where));
    case httplib::Error::Read:
      return absl::UnavailableError(cairn::StrCat("connection to the gateway at ", where,
                                                  " failed or timed out while ", during));
    case httplib::Error::Write:
      return absl::UnavailableError(cairn::StrCat("connection to the gateway at ", where,
                                                  " broke while ", during,
                                                  " (the gateway may have rejected the request)"));
    case httplib::Error::SSLConnection:
    case httplib::Error::SSLLoadingCerts:
    case httplib::Error::SSLServerVerification:
      return absl::UnavailableError(
          cairn::StrCat("TLS failure talking to ", where, ": ",
                        httplib::to_string(static_cast<httplib::Error>(httplib_error))));
    case httplib::Error::Canceled:
      return absl::AbortedError(cairn::StrCat("canceled while ", during));
    default:
      return absl::UnavailableError(
          cairn::StrCat("request to the gateway at ", where, " failed while ", during, ": ",
                        httplib::to_string(static_cast<httplib::Error>(httplib_error))));
  }
}

absl::StatusOr<GatewayClient::Reply> GatewayClient::Call(const std::string& method,
                                                         const std::string& target,
                                                         const std::string& json_body) {
  httplib::Result result = [&] {
    if (method == "DELETE") return http_->Delete(target);
    if (method == "POST") {
      return http_->Post(target, json_body, "application/json");
    }
    return http_->Get(target);
  }();
  if (!result) {
    return TransportError(static_cast<int>(result.error()), cairn::StrCat(method, " ", target));
  }
  if (!IsSuccess(result->status)) {
    return StatusFromHttpReply(result->status, result->body);
  }
  return Reply{result->status, std::move(result->body)};
}

absl::StatusOr<PutResult> GatewayClient::Put(std::string_view path, ByteSource& source,
                                             const PutOptions& options) {
  if (absl::Status valid = ValidatePath(path); !valid.ok()) return valid;
  if (path == "/") return absl::InvalidArgumentError("cannot upload to /");
  if (options.fail_if_exists) {
    // Fail before streaming the body; If-None-Match still guards the race.
    absl::StatusOr<FileHead> head = Head(path);
    if (head.ok()) {
      return absl::FailedPreconditionError(cairn::StrCat(path, " already exists"));
    }
    if (!absl::IsNotFound(head.status())) return head.status();
  }
  httplib::Headers headers;
  if (options.fail_if_exists) headers.emplace("If-None-Match", "*");

  const std::optional<uint64_t> total = source.size();
  UploadBody body(source, options.progress);
  Report(options.progress, 0, total);
  const std::string target = FilesTarget(path);
  const std::string content_type = "application/octet-stream";
  httplib::Result result = total.has_value()
                               ? http_->Put(
                                     target, headers, *total,
                                     [&](size_t offset, size_t length, httplib::DataSink& sink) {
                                       return body.Send(offset, length, sink);
                                     },
                                     content_type)
                               : http_->Put(
                                     target, headers,
                                     [&](size_t offset, httplib::DataSink& sink) {
                                       return body.Send(offset, kTransferBufferSize, sink);
                                     },
                                     content_type);
  if (!body.status().ok()) return body.status();
  if (!result) {
    absl::Status error =
        TransportError(static_cast<int>(result.error()), cairn::StrCat("uploading ", path));
    if (result.error() != httplib::Error::Write) return error;
    return DiagnoseBrokenUpload(path, std::move(error));
  }
  if (!IsSuccess(result->status)) {
    return StatusFromHttpReply(result->status, result->body);
  }
  absl::StatusOr<PutResult> put = ParsePutResult(result->body);
  if (!put.ok()) return put.status();
  if (put->path.empty()) put->path = std::string(path);
  if (body.hash_valid() && !put->sha256.empty()) {
    absl::Status digest =
        CheckDigest(cairn::StrCat("after uploading ", path), put->sha256, body.HexDigest());
    if (!digest.ok()) return digest;
  }
  return put;
}

absl::Status GatewayClient::DiagnoseBrokenUpload(std::string_view path,
                                                 absl::Status transport_error) {
  std::string current(path);
  bool is_target = true;
  while (current != "/") {
    absl::StatusOr<FileInfo> info = GetFileInfo(current);
    if (info.ok()) {
      if (is_target && info->is_dir()) {
        return absl::AlreadyExistsError(cairn::StrCat(current, " is a directory"));
      }
      if (!is_target && !info->is_dir()) {
        return absl::AlreadyExistsError(cairn::StrCat("a file is in the way: ", current));
      }
      break;  // the nearest existing ancestor is a directory: not the cause
    }
    if (!absl::IsNotFound(info.status())) break;
    current = current.substr(0, std::max<size_t>(1, current.rfind('/')));
    is_target = false;
  }
  return transport_error;
}

absl::StatusOr<GetResult> GatewayClient::Get(std::string_view path, ByteSink& sink,
                                             const GetOptions& options) {
  if (absl::Status valid = ValidatePath(path); !valid.ok()) return valid;
  int status = 0;
  std::optional<uint64_t> expected_length;
  std::string error_body;
  Sha256 sha;
  GetResult got;
  absl::Status sink_status;

  auto on_headers = [&](const httplib::Response& response) {
    status = response.status;
    if (IsSuccess(status)) {
      expected_length = ContentLength(response);
      Report(options.progress, 0, expected_length);
    }
    return true;
  };
  auto on_data = [&](const char* data, size_t length) {
    if (!IsSuccess(status)) {
      if (error_body.size() < kMaxErrorBody) error_body.append(data, length);
      return true;
    }
    std::string_view piece(data, length);
    sha.Update(piece);
    got.size += length;
    sink_status = sink.Write(piece);
    if (!sink_status.ok()) return false;
    Report(options.progress, got.size, expected_length);
    return true;
  };

  httplib::Result result = http_->Get(FilesTarget(path), httplib::Headers{}, on_headers, on_data);
  if (!sink_status.ok()) return sink_status;
  if (!result) {
    return TransportError(static_cast<int>(result.error()), cairn::StrCat("downloading ", path));
  }
  if (!IsSuccess(result->status)) {
    return StatusFromHttpReply(result->status, error_body);
  }
  if (expected_length.has_value() && *expected_length != got.size) {
    return absl::DataLossError(cairn::StrCat("short download of ", path, ": got ", got.size, " of ",
                                             *expected_length, " bytes"));
  }
  got.sha256 = sha.HexDigest();
  got.etag = result->get_header_value("ETag");
  std::string expected_sha = result->get_header_value(kChecksumHeader);
  if (!expected_sha.empty()) {
    absl::Status digest =
        CheckDigest(cairn::StrCat("downloading ", path), expected_sha, got.sha256);
    if (!digest.ok()) return digest;
    got.verified = true;
  }
  if (absl::Status commit = sink.Commit(); !commit.ok()) return commit;
  return got;
}

absl::StatusOr<FileHead> GatewayClient::Head(std::string_view path) {
  if (absl::Status valid = ValidatePath(path); !valid.ok()) return valid;
  httplib::Result result = http_->Head(FilesTarget(path));
  if (!result) {
    return TransportError(static_cast<int>(result.error()), cairn::StrCat("checking ", path));
  }
  if (!IsSuccess(result->status)) {
    // HEAD replies carry no body, so name the path ourselves.
    return absl::Status(CodeFromHttpStatus(result->status),
                        cairn::StrCat(path, ": HTTP ", result->status, " ", result->reason));
  }
  FileHead head;
  head.size = ContentLength(*result).value_or(0);
  head.sha256 = ToLower(result->get_header_value(kChecksumHeader));
  head.etag = result->get_header_value("ETag");
  return head;
}

absl::Status GatewayClient::Delete(std::string_view path, bool recursive) {
  if (absl::Status valid = ValidatePath(path); !valid.ok()) return valid;
  std::string target = FilesTarget(path);
  if (recursive) cairn::StrAppend(&target, "?recursive=true");
  return Call("DELETE", target).status();
}

absl::StatusOr<Listing> GatewayClient::List(std::string_view path, bool recursive) {
  if (absl::Status valid = ValidatePath(path); !valid.ok()) return valid;
  const std::string first_page = ApiTarget("list", path, recursive);
  Listing all;
  std::string target = first_page;
  while (true) {
    absl::StatusOr<Reply> reply = Call("GET", target);
    if (!reply.ok()) return reply.status();
    absl::StatusOr<Listing> page = ParseListing(reply->body);
    if (!page.ok()) return page.status();
    if (all.path.empty()) all.path = page->path;
    std::move(page->entries.begin(), page->entries.end(), std::back_inserter(all.entries));
    if (!page->truncated) break;
    // Every page must move forward, or a broken gateway would loop us.
    std::string next = page->next_start_after;
    if (next.empty() && !all.entries.empty()) next = all.entries.back().path;
    if (next.empty() || target.ends_with(EncodeQueryValue(next))) {
      return absl::InternalError(
          "malformed gateway reply to list: truncated page without progress");
    }
    target = cairn::StrCat(first_page, "&start_after=", EncodeQueryValue(next));
  }
  return all;
}

absl::Status GatewayClient::Mkdir(std::string_view path) {
  if (absl::Status valid = ValidatePath(path); !valid.ok()) return valid;
  nlohmann::json body = {{"path", path}};
  return Call("POST", ApiTarget("mkdir", ""), body.dump()).status();
}

absl::Status GatewayClient::Rename(std::string_view source, std::string_view target) {
  if (absl::Status valid = ValidatePath(source); !valid.ok()) return valid;
  if (absl::Status valid = ValidatePath(target); !valid.ok()) return valid;
  nlohmann::json body = {{"source", source}, {"target", target}};
  return Call("POST", ApiTarget("rename", ""), body.dump()).status();
}

absl::StatusOr<FileInfo> GatewayClient::GetFileInfo(std::string_view path) {
  if (absl::Status valid = ValidatePath(path); !valid.ok()) return valid;
  absl::StatusOr<Reply> reply = Call("GET", ApiTarget("fileinfo", path));
  if (!reply.ok()) return reply.status();
  return ParseFileInfo(reply->body);
}

absl::StatusOr<ClusterStatus> GatewayClient::GetCluster() {
  absl::StatusOr<Reply> reply = Call("GET", ApiTarget("cluster", ""));
  if (!reply.ok()) return reply.status();
  return ParseClusterStatus(reply->body);
}

absl::StatusOr<Usage> GatewayClient::GetUsage(std::string_view path) {
  if (absl::Status valid = ValidatePath(path); !valid.ok()) return valid;
  absl::StatusOr<Reply> reply = Call("GET", ApiTarget("usage", path));
  if (!reply.ok()) return reply.status();
  return ParseUsage(reply->body);
}

}  // namespace cairn::client
