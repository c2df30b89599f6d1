#include <string>

#include "common/crc32c.h"
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
  for (std::string p : std::vector<std::string>{"", "a", "a/b", "//", "/a//b", "/a/", "/.", "/a/./b", "/..", "/a/../b",
                        std::string("/a\0b", 4), "/\xff", "/\xc0\xaf", "/\xed\xa0\x80"}) {
    EXPECT_THAT(ValidatePath(p), StatusIs(absl::StatusCode::kInvalidArgument)) << p;
  }
  EXPECT_THAT(ValidatePath("/" + std::string(256, 'a')), StatusIs(absl::StatusCode::kInvalidArgument));
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

}  // namespace
}  // namespace cairn
