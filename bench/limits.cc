// cairn-bench-limits: what this machine allows, measured the way Cairn uses it.
//
//   disk  --dir D --bytes N --writers W   W threads each write N bytes to their own
//         file in 1 MiB writes, fsync every --sync_every bytes and at the end (a
//         chunkserver fsyncs each 64 MiB chunk). W=3 is what one upload with
//         replication 3 costs the disk.
//   read  --file F                        sequential read after evicting F from the
//         page cache (posix_fadvise DONTNEED; mincore tells whether it worked),
//         then a second, cached read.
//   tcp   --bytes N                       one loopback TCP stream, 1 MiB writes.
//
// Prints one JSON object on stdout.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "bench_util.h"
#include "nlohmann/json.hpp"

namespace {

using cairn::bench::Clock;
constexpr size_t kMiB = 1 << 20;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "cairn-bench-limits: " << what << ": " << std::strerror(errno) << "\n";
  std::exit(1);
}

// Incompressible bytes, fast (xorshift64*).
std::vector<char> RandomBytes(size_t n, uint64_t seed) {
  std::vector<char> out(n);
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i + 8 <= n; i += 8) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    uint64_t v = x * 0x2545F4914F6CDD1Dull;
    std::memcpy(out.data() + i, &v, 8);
  }
  return out;
}

void WriteAll(int fd, const char* p, size_t n, const std::string& what) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      Die(what);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

nlohmann::json Disk(const std::string& dir, uint64_t bytes, int writers, uint64_t sync_every,
                    bool keep) {
  std::vector<std::vector<char>> blocks;
  for (int i = 0; i < writers; ++i) blocks.push_back(RandomBytes(kMiB, 1000 + i));
  std::vector<std::string> paths;
  for (int i = 0; i < writers; ++i) paths.push_back(dir + "/disk-" + std::to_string(i));
  std::vector<double> each(writers);
  double cpu0 = cairn::bench::SelfCpuSeconds();
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < writers; ++i) {
    threads.emplace_back([&, i] {
      auto t0 = Clock::now();
      int fd = ::open(paths[i].c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0) Die("open " + paths[i]);
      std::vector<char>& block = blocks[i];
      uint64_t since_sync = 0;
      for (uint64_t done = 0; done < bytes; done += kMiB) {
        // Vary each block a little, so no two MiB of a file are equal.
        std::memcpy(block.data(), &done, sizeof(done));
        size_t n = std::min<uint64_t>(kMiB, bytes - done);
        WriteAll(fd, block.data(), n, "write " + paths[i]);
        since_sync += n;
        if (since_sync >= sync_every) {
          if (::fdatasync(fd) != 0) Die("fdatasync");
          since_sync = 0;
        }
      }
      if (::fsync(fd) != 0) Die("fsync");
      ::close(fd);
      each[i] = Seconds(t0);
    });
  }
  for (auto& t : threads) t.join();
  double elapsed = Seconds(start);
  double cpu = cairn::bench::SelfCpuSeconds() - cpu0;
  if (!keep) {
    for (const auto& p : paths) ::unlink(p.c_str());
  }
  nlohmann::json j;
  j["writers"] = writers;
  j["bytes_per_writer"] = bytes;
  j["sync_every"] = sync_every;
  j["seconds"] = elapsed;
  j["writer_seconds"] = each;
  // Bytes of one copy per second: with W=3, a file's upload rate if each byte is
  // written three times.
  j["per_copy_mib_s"] = bytes / double(kMiB) / elapsed;
  j["aggregate_mib_s"] = writers * bytes / double(kMiB) / elapsed;
  // What writing costs the CPU here (the kernel's copy into the page cache, mostly).
  j["cpu_s"] = cpu;
  j["cpu_s_per_gib_written"] = cpu / (writers * bytes / double(1 << 30));
  j["files"] = keep ? nlohmann::json(paths) : nlohmann::json::array();
  return j;
}

// Fraction of `path`'s pages in the page cache.
double Resident(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) Die("open " + path);
  off_t size = ::lseek(fd, 0, SEEK_END);
  if (size <= 0) {
    ::close(fd);
    return 0;
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) Die("mmap");
  long page = ::sysconf(_SC_PAGESIZE);
  size_t pages = (size + page - 1) / page;
  std::vector<unsigned char> vec(pages);
  if (::mincore(map, size, vec.data()) != 0) Die("mincore");
  size_t in = 0;
  for (unsigned char v : vec) in += v & 1;
  ::munmap(map, size);
  ::close(fd);
  return double(in) / double(pages);
}

double ReadOnce(const std::string& path, uint64_t* total) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) Die("open " + path);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  std::vector<char> buf(kMiB);
  auto t0 = Clock::now();
  uint64_t n = 0;
  while (true) {
    ssize_t r = ::read(fd, buf.data(), buf.size());
    if (r < 0) {
      if (errno == EINTR) continue;
      Die("read");
    }
    if (r == 0) break;
    n += r;
  }
  double s = Seconds(t0);
  ::close(fd);
  *total = n;
  return s;
}

nlohmann::json Read(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) Die("open " + path);
  ::fdatasync(fd);  // dirty pages cannot be dropped
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
  double resident = Resident(path);
  uint64_t bytes = 0;
  double cold = ReadOnce(path, &bytes);
  double warm = ReadOnce(path, &bytes);
  nlohmann::json j;
  j["bytes"] = bytes;
  j["resident_before"] = resident;
  j["uncached"] = resident < 0.01;
  j["first_read_mib_s"] = bytes / double(kMiB) / cold;
  j["cached_read_mib_s"] = bytes / double(kMiB) / warm;
  return j;
}

nlohmann::json Tcp(uint64_t bytes) {
  int ls = ::socket(AF_INET, SOCK_STREAM, 0);
  if (ls < 0) Die("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(ls, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) Die("bind");
  if (::listen(ls, 1) != 0) Die("listen");
  socklen_t len = sizeof(addr);
  ::getsockname(ls, reinterpret_cast<sockaddr*>(&addr), &len);
  std::atomic<uint64_t> received{0};
  std::thread server([&] {
    int s = ::accept(ls, nullptr, nullptr);
    if (s < 0) Die("accept");
    std::vector<char> buf(kMiB);
    while (true) {
      ssize_t r = ::recv(s, buf.data(), buf.size(), 0);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      received += r;
    }
    ::close(s);
  });
  int c = ::socket(AF_INET, SOCK_STREAM, 0);
  if (::connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) Die("connect");
  int one = 1;
  ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  std::vector<char> block = RandomBytes(kMiB, 7);
  double cpu0 = cairn::bench::SelfCpuSeconds();
  auto t0 = Clock::now();
  for (uint64_t done = 0; done < bytes; done += kMiB) {
    WriteAll(c, block.data(), std::min<uint64_t>(kMiB, bytes - done), "send");
  }
  ::shutdown(c, SHUT_WR);
  server.join();
  double s = Seconds(t0);
  double cpu = cairn::bench::SelfCpuSeconds() - cpu0;
  ::close(c);
  ::close(ls);
  nlohmann::json j;
  j["bytes"] = received.load();
  j["seconds"] = s;
  j["cpu_s_per_gib"] = cpu / (received.load() / double(1 << 30));
  j["mib_s"] = received.load() / double(kMiB) / s;
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cairn-bench-limits: disk, read and loopback TCP limits of this machine"};
  app.require_subcommand(1);
  std::string dir = ".", file;
  uint64_t bytes = 1ull << 30, sync_every = 64 * kMiB;
  int writers = 3;
  bool keep = false;
  auto* disk = app.add_subcommand("disk", "W writers of N bytes each, with fsync");
  disk->add_option("--dir", dir, "directory to write in");
  disk->add_option("--bytes", bytes, "bytes per writer");
  disk->add_option("--writers", writers, "concurrent writers")->check(CLI::Range(1, 64));
  disk->add_option("--sync_every", sync_every, "fdatasync after this many bytes");
  disk->add_flag("--keep", keep, "keep the files (their paths are printed)");
  auto* read = app.add_subcommand("read", "sequential read, uncached if possible, then cached");
  read->add_option("--file", file, "file to read")->required();
  auto* tcp = app.add_subcommand("tcp", "one loopback TCP stream");
  tcp->add_option("--bytes", bytes, "bytes to send");
  CLI11_PARSE(app, argc, argv);
  nlohmann::json out;
  if (*disk) out = Disk(dir, bytes, writers, sync_every, keep);
  if (*read) out = Read(file);
  if (*tcp) out = Tcp(bytes);
  std::cout << out.dump() << std::endl;
  return 0;
}
