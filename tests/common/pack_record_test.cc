// The pack-chunk record framing (common/pack_record.h).
#include "common/pack_record.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace cairn {
namespace {

using ::cairn::testing::StatusIs;

TEST(PackRecordTest, RecordsRoundTripAndExtentsCoverOnlyTheData) {
  std::string chunk;
  std::vector<std::string> files = {"hello", "", std::string(70000, 'x'), "\0\1\2"};
  std::vector<uint64_t> offsets;
  for (const std::string& f : files) offsets.push_back(AppendPackRecord(&chunk, f));
  auto records = ParsePackRecords(chunk);
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    EXPECT_EQ((*records)[i].offset, offsets[i]);
    EXPECT_EQ(chunk.substr((*records)[i].offset, (*records)[i].length), files[i]);
  }
  EXPECT_EQ(offsets[0], kPackRecordHeaderBytes);
}

TEST(PackRecordTest, EveryDamagedByteIsDataLossNamingTheRecord) {
  std::string chunk;
  AppendPackRecord(&chunk, "first");
  uint64_t second = chunk.size();
  AppendPackRecord(&chunk, "second record");
  for (size_t i = 0; i < chunk.size(); ++i) {
    std::string bad = chunk;
    bad[i] ^= 0x20;
    auto records = ParsePackRecords(bad);
    EXPECT_THAT(records, StatusIs(absl::StatusCode::kDataLoss)) << "byte " << i;
    std::string at = i < second ? "at 0" : "at " + std::to_string(second);
    EXPECT_NE(records.status().message().find(at), std::string::npos) << records.status();
  }
}

TEST(PackRecordTest, ACutChunkIsDataLoss) {
  std::string chunk;
  AppendPackRecord(&chunk, "some bytes");
  for (size_t n = 1; n < chunk.size(); ++n) {
    EXPECT_THAT(ParsePackRecords(chunk.substr(0, n)), StatusIs(absl::StatusCode::kDataLoss)) << n;
  }
  EXPECT_THAT(ParsePackRecord(chunk, chunk.size() + 5), StatusIs(absl::StatusCode::kDataLoss));
  auto none = ParsePackRecords("");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

}  // namespace
}  // namespace cairn
