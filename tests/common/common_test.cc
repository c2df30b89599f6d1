#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "common/crc32c.h"
#include "common/file_system.h"
#include "common/group_sync.h"
#include "common/mem_file_system.h"
#include "common/path.h"
#include "common/units.h"
#include "test_util.h"

namespace cairn {
namespace {

using ::cairn::testing::IsOk;
using ::cairn::testing::StatusIs;

TEST(Crc32cTest, MatchesStandardCheckValue) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
}

TEST(Crc32cTest, ExtendsIncrementally) {
  std::string a = "hello ", b = "world";
  EXPECT_EQ(Crc32c(Crc32c(a), b.data(), b.size()), Crc32c(a + b));
}

TEST(PathTest, AcceptsValidPaths) {
  for (const char* p : {"/", "/a", "/a/b.txt", "/ü/日本", "/a b/c%2e", "/.hidden", "/a..b"}) {
    EXPECT_THAT(ValidatePath(p), IsOk()) << p;
  }
}

TEST(PathTest, RejectsBadPaths) {
  for (std::string p : std::vector<std::string>{"", "a", "a/b", "//", "/a//b", "/a/", "/.",
                                                "/a/./b", "/..", "/a/../b", std::string("/a\0b", 4),
                                                "/\xff", "/\xc0\xaf", "/\xed\xa0\x80"}) {
    EXPECT_THAT(ValidatePath(p), StatusIs(absl::StatusCode::kInvalidArgument)) << p;
  }
  EXPECT_THAT(ValidatePath("/" + std::string(256, 'a')),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidatePath("/" + std::string(255, 'a')), IsOk());
}

TEST(PathTest, Helpers) {
  EXPECT_EQ(ParentPath("/a/b/c"), "/a/b");
  EXPECT_EQ(ParentPath("/a"), "/");
  EXPECT_EQ(BaseName("/a/b"), "b");
  EXPECT_EQ(AncestorDirs("/a/b/c"), (std::vector<std::string>{"/a", "/a/b"}));
  EXPECT_TRUE(IsWithin("/a/b", "/a"));
  EXPECT_TRUE(IsWithin("/a", "/a"));
  EXPECT_FALSE(IsWithin("/ab", "/a"));
  EXPECT_TRUE(IsWithin("/x", "/"));
  EXPECT_EQ(JoinPath("/", "a"), "/a");
  EXPECT_EQ(JoinPath("/a", "b"), "/a/b");
}

TEST(UnitsTest, ParsesSizes) {
  EXPECT_EQ(*ParseBytes("65536"), 65536u);
  EXPECT_EQ(*ParseBytes("64KiB"), 65536u);
  EXPECT_EQ(*ParseBytes("1MiB"), 1u << 20);
  EXPECT_EQ(*ParseBytes("64MiB"), 64u << 20);
  EXPECT_EQ(*ParseBytes("2g"), 2ull << 30);
  for (const char* bad : {"", "MiB", "-1", "1.5MiB", "1XB", "99999999999999999999"}) {
    EXPECT_THAT(ParseBytes(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(UnitsTest, ParsesDurations) {
  EXPECT_EQ(*ParseDurationFlag("500ms"), absl::Milliseconds(500));
  EXPECT_EQ(*ParseDurationFlag("2s"), absl::Seconds(2));
  EXPECT_EQ(*ParseDurationFlag("5m"), absl::Minutes(5));
  for (const char* bad : {"", "5", "-1s", "soon", "inf"}) {
    EXPECT_THAT(ParseDurationFlag(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(MemFileSystemTest, CrashDropsUnsyncedDataAndRenames) {
  MemFileSystem fs;
  ASSERT_THAT(fs.CreateDirs("/d"), IsOk());
  auto f = fs.NewWritableFile("/d/a");
  ASSERT_THAT(f, IsOk());
  ASSERT_THAT((*f)->Append("synced"), IsOk());
  ASSERT_THAT((*f)->Sync(), IsOk());
  ASSERT_THAT((*f)->Append("-lost"), IsOk());
  ASSERT_THAT(fs.SyncDir("/d"), IsOk());
  ASSERT_THAT(fs.Rename("/d/a", "/d/b"), IsOk());  // never made durable
  fs.SimulateCrash();
  EXPECT_FALSE(fs.Exists("/d/b"));
  auto data = ReadFileToString(&fs, "/d/a");
  ASSERT_THAT(data, IsOk());
  EXPECT_EQ(*data, "synced");
}

// rename(2) of a file onto itself does nothing; the fake once deleted it
// (fuzz_replica found it).
TEST(MemFileSystemTest, RenameOntoItselfKeepsTheFile) {
  MemFileSystem fs;
  ASSERT_THAT(fs.CreateDirs("/d"), IsOk());
  ASSERT_THAT(WriteFileAtomically(&fs, "/d/a", "data"), IsOk());
  ASSERT_THAT(fs.Rename("/d/a", "/d/a"), IsOk());
  auto data = ReadFileToString(&fs, "/d/a");
  ASSERT_THAT(data, IsOk());
  EXPECT_EQ(*data, "data");
}

TEST(MemFileSystemTest, InjectsFaultsAndRunsOutOfSpace) {
  MemFileSystem fs;
  ASSERT_THAT(fs.CreateDirs("/d"), IsOk());
  fs.SetFaultHook([](MemFileSystem::Op op, const std::string&) {
    return op == MemFileSystem::Op::kSync ? absl::InternalError("EIO") : absl::OkStatus();
  });
  auto f = fs.NewWritableFile("/d/a");
  ASSERT_THAT(f, IsOk());
  EXPECT_THAT((*f)->Sync(), StatusIs(absl::StatusCode::kInternal));
  fs.SetFaultHook(nullptr);
  fs.SetCapacity(4);
  EXPECT_THAT((*f)->Append("12345"), StatusIs(absl::StatusCode::kResourceExhausted));
}

// Bulk files bypass the page cache with O_DIRECT where the file system has it
// (and fall back where not, as on tmpfs); either way they must read back byte
// for byte, whatever the alignment of the sizes and of the appends.
TEST(PosixFileSystemTest, BulkWritableFileRoundTripsUnalignedSizes) {
  cairn::testing::TempDir dir;
  FileSystem* fs = FileSystem::Posix();
  std::string data;
  for (size_t i = 0; i < (3 << 20) + 4097; ++i) data.push_back(static_cast<char>(i * 131 + i / 7));
  for (size_t size : {size_t{0}, size_t{1}, size_t{4095}, size_t{4096}, size_t{4097},
                      size_t{1} << 20, (size_t{1} << 20) + 1, data.size()}) {
    std::string path = dir.path() + "/f" + std::to_string(size);
    auto f = fs->NewBulkWritableFile(path);
    ASSERT_THAT(f, IsOk());
    std::string_view rest(data.data(), size);
    for (size_t step = 1000; !rest.empty(); step = step * 3 + 17) {  // uneven appends
      size_t n = std::min(step, rest.size());
      ASSERT_THAT((*f)->Append(rest.substr(0, n)), IsOk());
      rest.remove_prefix(n);
    }
    ASSERT_THAT((*f)->Sync(), IsOk());
    ASSERT_THAT((*f)->Append("tail"), IsOk());  // appends after a sync go on
    ASSERT_THAT((*f)->Sync(), IsOk());
    ASSERT_THAT((*f)->Close(), IsOk());
    auto back = ReadFileToString(fs, path);
    ASSERT_THAT(back, IsOk());
    EXPECT_TRUE(*back == data.substr(0, size) + "tail") << "size " << size;
  }
}

TEST(GroupSyncTest, ConcurrentWaitersShareSyncsAndAllAreCovered) {
  std::atomic<int> syncs{0};
  std::atomic<int> written{0}, durable{0};
  GroupSync group([&] {
    durable = written.load();  // everything written before the sync began
    ++syncs;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return absl::OkStatus();
  });
  std::vector<std::thread> threads;
  std::atomic<int> uncovered{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        int mine = ++written;
        uint64_t ticket = group.Ticket();
        ASSERT_THAT(group.Wait(ticket), IsOk());
        if (durable.load() < mine) ++uncovered;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(uncovered.load(), 0);
  EXPECT_LT(syncs.load(), 200);  // shared: fewer syncs than writes
  EXPECT_GE(syncs.load(), 1);
}

TEST(GroupSyncTest, AFailedSyncFailsTheWaitersItCoveredAndLaterOnesRetry) {
  bool fail = true;
  int calls = 0;
  GroupSync group([&] {
    ++calls;
    return fail ? absl::InternalError("disk on fire") : absl::OkStatus();
  });
  EXPECT_THAT(group.Sync(), StatusIs(absl::StatusCode::kInternal));
  fail = false;
  EXPECT_THAT(group.Sync(), IsOk());
  EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace cairn
