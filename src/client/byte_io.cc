#include "client/byte_io.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "common/errno_status.h"
#include "common/strings.h"

namespace cairn::client {

// ---------------------------------------------------------------- FdSource

absl::StatusOr<std::unique_ptr<FdSource>> FdSource::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, "open", path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    absl::Status status = ErrnoToStatus(errno, "stat", path);
    ::close(fd);
    return status;
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(cairn::StrCat(path, ": is a directory"));
  }
  std::optional<uint64_t> size;
  if (S_ISREG(st.st_mode)) size = static_cast<uint64_t>(st.st_size);
  return std::unique_ptr<FdSource>(new FdSource(fd, /*owned=*/true, path, size));
}

absl::StatusOr<std::unique_ptr<FdSource>> FdSource::Borrow(int fd, std::string name) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoToStatus(errno, "stat", name);
  if (S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(cairn::StrCat(name, ": is a directory"));
  }
  std::optional<uint64_t> size;
  // A regular file redirected to stdin may already be partly consumed; only
  // trust its size when we start at offset 0.
  if (S_ISREG(st.st_mode) && ::lseek(fd, 0, SEEK_CUR) == 0) {
    size = static_cast<uint64_t>(st.st_size);
  }
  return std::unique_ptr<FdSource>(new FdSource(fd, /*owned=*/false, std::move(name), size));
}

FdSource::~FdSource() {
  if (owned_) ::close(fd_);
}

absl::StatusOr<size_t> FdSource::Read(uint64_t offset, absl::Span<char> buf) {
  while (true) {
    ssize_t n;
    if (size_.has_value()) {
      n = ::pread(fd_, buf.data(), buf.size(), static_cast<off_t>(offset));
    } else {
      if (offset != position_) {
        return absl::FailedPreconditionError(
            cairn::StrCat(name_, ": cannot re-read a stream (asked for offset ", offset, ", at ",
                          position_, ")"));
      }
      n = ::read(fd_, buf.data(), buf.size());
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoToStatus(errno, "read", name_);
    }
    if (!size_.has_value()) position_ += static_cast<uint64_t>(n);
    return static_cast<size_t>(n);
  }
}

// ---------------------------------------------------------------- writes

namespace {

// Writes all of `data`; returns 0 or the errno of the failed write.
int WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

mode_t CurrentUmask() {
  mode_t mask = ::umask(0);
  ::umask(mask);
  return mask;
}

}  // namespace

// ---------------------------------------------------------------- FileSink

absl::StatusOr<std::unique_ptr<FileSink>> FileSink::Create(std::string path) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  std::string temp = cairn::StrCat(dir, ".", base, ".cairn-XXXXXX");
  std::vector<char> temp_buf(temp.begin(), temp.end());
  temp_buf.push_back('\0');
  int fd = ::mkostemp(temp_buf.data(), O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, "create", path);
  return std::unique_ptr<FileSink>(new FileSink(fd, std::move(path), std::string(temp_buf.data())));
}

FileSink::~FileSink() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_path_.c_str());
}

absl::Status FileSink::Write(std::string_view data) {
  if (fd_ < 0) return absl::FailedPreconditionError("write after commit");
  int error = WriteAll(fd_, data);
  return error == 0 ? absl::OkStatus() : ErrnoToStatus(error, "write", path_);
}

absl::Status FileSink::Commit() {
  if (fd_ < 0) return absl::FailedPreconditionError("committed twice");
  // mkstemp creates 0600; give the file the mode a plain create would.
  if (::fchmod(fd_, 0666 & ~CurrentUmask()) != 0) {
    return ErrnoToStatus(errno, "chmod", temp_path_);
  }
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) return ErrnoToStatus(errno, "close", path_);
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    return ErrnoToStatus(errno, "rename", path_);
  }
  committed_ = true;
  return absl::OkStatus();
}

// ---------------------------------------------------------------- FdSink

absl::Status FdSink::Write(std::string_view data) {
  int error = WriteAll(fd_, data);
  if (error == 0) return absl::OkStatus();
  // The reader went away (`cairn cat f | head`): not an error of ours.
  if (error == EPIPE) {
    return absl::CancelledError(cairn::StrCat(name_, " closed by the reader"));
  }
  return ErrnoToStatus(error, "write", name_);
}

// ---------------------------------------------------------------- strings

absl::StatusOr<size_t> StringSource::Read(uint64_t offset, absl::Span<char> buf) {
  if (offset >= data_.size()) return 0;
  size_t n = std::min<uint64_t>(buf.size(), data_.size() - offset);
  std::copy_n(data_.data() + offset, n, buf.data());
  return n;
}

absl::Status StringSink::Write(std::string_view data) {
  data_.append(data);
  return absl::OkStatus();
}

absl::Status StringSink::Commit() {
  committed_ = true;
  return absl::OkStatus();
}

}  // namespace cairn::client
