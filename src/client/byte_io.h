// Byte sources and sinks for streaming uploads and downloads with bounded
// memory: a transfer never holds more than one buffer of the data.
#ifndef CAIRN_CLIENT_BYTE_IO_H_
#define CAIRN_CLIENT_BYTE_IO_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace cairn::client {

// Where upload bytes come from. Not thread-safe.
class ByteSource {
 public:
  virtual ~ByteSource() = default;

  // Total length when known before reading (regular files); nullopt for
  // pipes, which are then uploaded with chunked transfer encoding.
  virtual std::optional<uint64_t> size() const = 0;

  // Reads up to buf.size() bytes starting at `offset` into `buf`; returns the
  // count, 0 only at the end. Sources of unknown size are sequential:
  // REQUIRES offset == the number of bytes already read, else
  // FailedPrecondition. Local I/O errors come back with errno's meaning
  // (common/errno_status.h) and the file name in the message.
  virtual absl::StatusOr<size_t> Read(uint64_t offset, absl::Span<char> buf) = 0;
};

// Where download bytes go. Not thread-safe.
class ByteSink {
 public:
  virtual ~ByteSink() = default;

  // Appends `data`. An error aborts the transfer.
  virtual absl::Status Write(std::string_view data) = 0;

  // Called once, after the whole content arrived and was verified. A sink
  // that publishes atomically (FileSink) makes the data visible only here;
  // a sink destroyed without Commit() discards what it can.
  virtual absl::Status Commit() = 0;
};

// Reads a local file descriptor: pread() for regular files (size known,
// random access), read() otherwise (size unknown, sequential).
class FdSource : public ByteSource {
 public:
  // Opens `path` for reading. NotFound / PermissionDenied from the OS;
  // InvalidArgument if it is a directory.
  static absl::StatusOr<std::unique_ptr<FdSource>> Open(const std::string& path);

  // Wraps an already open descriptor (e.g. STDIN_FILENO) without owning it.
  // `name` is used in error messages.
  static absl::StatusOr<std::unique_ptr<FdSource>> Borrow(int fd, std::string name);

  ~FdSource() override;

  std::optional<uint64_t> size() const override { return size_; }
  absl::StatusOr<size_t> Read(uint64_t offset, absl::Span<char> buf) override;

 private:
  FdSource(int fd, bool owned, std::string name, std::optional<uint64_t> size)
      : fd_(fd), owned_(owned), name_(std::move(name)), size_(size) {}

  const int fd_;
  const bool owned_;
  const std::string name_;
  const std::optional<uint64_t> size_;
  uint64_t position_ = 0;  // for sequential sources
};

// Writes to a temporary file next to `path` and renames it over `path` on
// Commit(), so `path` is never seen half-written or unverified. The
// temporary file is removed if the sink is destroyed uncommitted.
class FileSink : public ByteSink {
 public:
  // Creates the temporary file. Errors from the OS (NotFound when the
  // directory is missing, PermissionDenied, ...).
  static absl::StatusOr<std::unique_ptr<FileSink>> Create(std::string path);
  ~FileSink() override;

  absl::Status Write(std::string_view data) override;
  absl::Status Commit() override;

 private:
  FileSink(int fd, std::string path, std::string temp_path)
      : fd_(fd), path_(std::move(path)), temp_path_(std::move(temp_path)) {}

  int fd_;
  const std::string path_;
  const std::string temp_path_;
  bool committed_ = false;
};

// Writes to a descriptor it does not own (stdout). Commit() is a no-op, so
// bytes written before a failure stay written. Cancelled if the reader
// closed the pipe (EPIPE; REQUIRES SIGPIPE ignored).
class FdSink : public ByteSink {
 public:
  FdSink(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}

  absl::Status Write(std::string_view data) override;
  absl::Status Commit() override { return absl::OkStatus(); }

 private:
  const int fd_;
  const std::string name_;
};

// In-memory source and sink, for tests and small payloads.
class StringSource : public ByteSource {
 public:
  explicit StringSource(std::string data) : data_(std::move(data)) {}
  std::optional<uint64_t> size() const override { return data_.size(); }
  absl::StatusOr<size_t> Read(uint64_t offset, absl::Span<char> buf) override;

 private:
  const std::string data_;
};

class StringSink : public ByteSink {
 public:
  absl::Status Write(std::string_view data) override;
  absl::Status Commit() override;

  const std::string& data() const { return data_; }
  bool committed() const { return committed_; }

 private:
  std::string data_;
  bool committed_ = false;
};

}  // namespace cairn::client

#endif  // CAIRN_CLIENT_BYTE_IO_H_
