#include "master/metadata_store.h"

#include <algorithm>

#include "rocksdb/db.h"
#include "test_util.h"

namespace cairn::master {
namespace {

using ::cairn::testing::IsOk;
using ::cairn::testing::StatusIs;
using ::cairn::testing::TempDir;

constexpr uint64_t kChunk = 10;  // bytes in each chunk of these tests

// A file of the whole chunks `handles`, version 1, in order.
FileMeta File(std::vector<uint64_t> handles) {
  FileMeta f;
  f.set_replication(3);
  f.set_sha256("00");
  for (uint64_t h : handles) {
    Extent* x = f.add_extents();
    x->set_handle(h);
    x->set_version(1);
    x->set_length(kChunk);
  }
  f.set_length(handles.size() * kChunk);
  return f;
}

// The records of chunks `handles`, as the upload that wrote them commits them.
std::vector<std::pair<uint64_t, ChunkRecord>> Written(std::vector<uint64_t> handles) {
  std::vector<std::pair<uint64_t, ChunkRecord>> out;
  for (uint64_t h : handles) {
    ChunkRecord rec;
    rec.set_version(1);
    rec.set_size(kChunk);
    rec.set_replication(3);
    out.emplace_back(h, rec);
  }
  return out;
}

// A big-endian key with a one-letter tag, as doc/formats.md lays them out.
std::string U64Key(char tag, uint64_t v) {
  std::string key(1, tag);
  for (int i = 7; i >= 0; --i) key.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return key;
}

class MetadataStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    store_.reset();
    auto s = MetadataStore::Open(dir_.path());
    ASSERT_THAT(s, IsOk());
    store_ = std::move(*s);
  }
  std::vector<std::string> Names(const std::string& dir, bool recursive = false) {
    auto r = store_->List(dir, recursive, "", 1000);
    EXPECT_THAT(r, IsOk());
    std::vector<std::string> out;
    for (const Entry& e : r->entries) out.push_back(e.path());
    return out;
  }

  // Commits a file of new chunks `handles`, as an upload does.
  absl::StatusOr<Entry> Put(const std::string& path, std::vector<uint64_t> handles,
                            int64_t mtime = 1, bool if_none_match = false,
                            std::vector<uint64_t>* released = nullptr) {
    return store_->PutFile(path, File(handles), Written(handles), mtime, if_none_match, released);
  }
  uint64_t Refs(uint64_t handle) {
    auto rec = store_->GetChunk(handle);
    return rec.ok() ? rec->refs() : 0;
  }

  TempDir dir_;
  std::unique_ptr<MetadataStore> store_;
};

TEST_F(MetadataStoreTest, MkdirCreatesParentsAndIsIdempotent) {
  ASSERT_THAT(store_->Mkdir("/a/b/c", 1), IsOk());
  ASSERT_THAT(store_->Mkdir("/a/b/c", 2), IsOk());
  EXPECT_EQ(store_->Get("/a/b")->type(), Entry::DIR);
  ASSERT_THAT(Put("/a/f", {1}, 1, false, nullptr), IsOk());
  EXPECT_THAT(store_->Mkdir("/a/f", 1), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(store_->Mkdir("/a/f/g", 1), StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST_F(MetadataStoreTest, ListsChildrenInOrderSkippingGrandchildren) {
  for (const char* p : {"/d/b", "/d/a/x", "/d/a-b", "/d/a/y/z", "/d/c"}) {
    ASSERT_THAT(Put(p, {}, 1, false, nullptr), IsOk()) << p;
  }
  EXPECT_EQ(Names("/d"), (std::vector<std::string>{"/d/a", "/d/a-b", "/d/b", "/d/c"}));
  // Recursive listings are in byte order of the full path, as S3 lists keys.
  EXPECT_EQ(Names("/d", true), (std::vector<std::string>{"/d/a", "/d/a-b", "/d/a/x", "/d/a/y",
                                                         "/d/a/y/z", "/d/b", "/d/c"}));
  EXPECT_EQ(Names("/"), (std::vector<std::string>{"/d"}));
  EXPECT_THAT(store_->List("/nope", false, "", 10), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->List("/d/b", false, "", 10), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(MetadataStoreTest, ListPagesWithStartAfter) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_THAT(Put("/p/f" + std::to_string(i), {}, 1, false, nullptr), IsOk());
  }
  auto page = store_->List("/p", false, "", 2);
  ASSERT_THAT(page, IsOk());
  EXPECT_TRUE(page->truncated);
  ASSERT_EQ(page->entries.size(), 2u);
  page = store_->List("/p", false, page->entries.back().path(), 10);
  ASSERT_EQ(page->entries.size(), 3u);
  EXPECT_EQ(page->entries[0].path(), "/p/f2");
  EXPECT_FALSE(page->truncated);
}

TEST_F(MetadataStoreTest, PutFileReplacesAtomicallyAndHonoursIfNoneMatch) {
  ASSERT_THAT(Put("/f", {1, 2}, 1, false, nullptr), IsOk());
  std::vector<uint64_t> replaced;
  ASSERT_THAT(Put("/f", {3}, 2, false, &replaced), IsOk());
  ASSERT_EQ(replaced.size(), 2u);
  EXPECT_EQ(store_->Get("/f")->file().extents(0).handle(), 3u);
  EXPECT_THAT(Put("/f", {4}, 3, true, nullptr), StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_THAT(store_->Mkdir("/dir", 1), IsOk());
  EXPECT_THAT(Put("/dir", {5}, 3, false, nullptr), StatusIs(absl::StatusCode::kAlreadyExists));
  // Only chunk 3 is referenced now.
  std::vector<uint64_t> handles;
  ASSERT_THAT(store_->ForEachChunk([&](uint64_t h, const ChunkRecord&) { handles.push_back(h); }),
              IsOk());
  EXPECT_EQ(handles, std::vector<uint64_t>{3});
}

TEST_F(MetadataStoreTest, RenameMovesWholeSubtree) {
  ASSERT_THAT(Put("/a/b/f1", {1}, 1, false, nullptr), IsOk());
  ASSERT_THAT(Put("/a/f2", {2}, 1, false, nullptr), IsOk());
  ASSERT_THAT(Put("/ab", {3}, 1, false, nullptr), IsOk());
  ASSERT_THAT(store_->Rename("/a", "/x/y", 5), IsOk());
  EXPECT_EQ(Names("/", true),
            (std::vector<std::string>{"/ab", "/x", "/x/y", "/x/y/b", "/x/y/b/f1", "/x/y/f2"}));
  EXPECT_EQ(store_->Get("/x/y/b/f1")->file().extents(0).handle(), 1u);
  EXPECT_THAT(store_->Rename("/x", "/x/y/z", 1), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->Rename("/ab", "/x/y", 1), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(store_->Rename("/missing", "/m", 1), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->Rename("/ab", "/x/y/f2/under-file", 1),
              StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST_F(MetadataStoreTest, DeleteRequiresRecursiveForNonEmptyDirs) {
  ASSERT_THAT(Put("/d/e/f", {1, 2}, 1, false, nullptr), IsOk());
  ASSERT_THAT(Put("/d/g", {3}, 1, false, nullptr), IsOk());
  EXPECT_THAT(store_->Delete("/d", false, nullptr), StatusIs(absl::StatusCode::kAborted));
  std::vector<uint64_t> removed;
  ASSERT_THAT(store_->Delete("/d", true, &removed), IsOk());
  EXPECT_EQ(removed.size(), 3u);
  EXPECT_THAT(store_->Get("/d/g"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_TRUE(Names("/").empty());
  EXPECT_THAT(store_->Delete("/", true, nullptr), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(MetadataStoreTest, SurvivesRestart) {
  ASSERT_THAT(Put("/k/f", {11, 12}, 1, false, nullptr), IsOk());
  NodeRecord node;
  node.set_address("h:1");
  node.set_zone("z");
  ASSERT_THAT(store_->PutNode(4, node), IsOk());
  auto mark = store_->ReserveHandles(100);
  ASSERT_THAT(mark, IsOk());
  Reopen();
  EXPECT_EQ(store_->Get("/k/f")->file().extents_size(), 2);
  int nodes = 0;
  ASSERT_THAT(store_->ForEachNode([&](uint64_t id, const NodeRecord& r) {
    EXPECT_EQ(id, 4u);
    EXPECT_EQ(r.address(), "h:1");
    ++nodes;
  }),
              IsOk());
  EXPECT_EQ(nodes, 1);
  auto mark2 = store_->ReserveHandles(100);
  EXPECT_EQ(*mark2, *mark + 100);  // never hands out a handle twice
}

TEST_F(MetadataStoreTest, UsageCountsPerChild) {
  ASSERT_THAT(Put("/t1/a", {1, 2}, 1, false, nullptr), IsOk());
  ASSERT_THAT(Put("/t1/sub/b", {3}, 1, false, nullptr), IsOk());
  ASSERT_THAT(Put("/t2/c", {4}, 1, false, nullptr), IsOk());
  auto u = store_->Usage("/");
  ASSERT_THAT(u, IsOk());
  EXPECT_EQ(u->files(), 3u);
  EXPECT_EQ(u->bytes(), 40u);
  ASSERT_EQ(u->children_size(), 2);
  EXPECT_EQ(u->children(0).name(), "t1");
  EXPECT_EQ(u->children(0).files(), 2u);
  EXPECT_EQ(u->children(0).bytes(), 30u);
}

TEST_F(MetadataStoreTest, UsageKeepsAChildWhoseKeysASiblingInterleaves) {
  // "/a.b" sorts between "/a" and "/a/x" ('.' < '/').
  ASSERT_THAT(Put("/a/x", {1}, 1, false, nullptr), IsOk());
  ASSERT_THAT(Put("/a/y", {2}, 1, false, nullptr), IsOk());
  ASSERT_THAT(Put("/a.b", {3}, 1, false, nullptr), IsOk());
  auto u = store_->Usage("/");
  ASSERT_THAT(u, IsOk());
  ASSERT_EQ(u->children_size(), 2) << u->DebugString();
  EXPECT_EQ(u->children(0).name(), "a");
  EXPECT_TRUE(u->children(0).is_dir());
  EXPECT_EQ(u->children(0).files(), 2u);
  EXPECT_EQ(u->children(1).name(), "a.b");
  EXPECT_FALSE(u->children(1).is_dir());
  EXPECT_EQ(u->children(1).files(), 1u);
}

TEST_F(MetadataStoreTest, SharedChunkIsReleasedOnlyWhenNoFileReferencesIt) {
  ASSERT_THAT(Put("/a", {1, 2}), IsOk());
  // /b takes bytes [2, 7) of chunk 1 and all of chunk 2, writing nothing new.
  FileMeta b = File({2});
  Extent* x = b.add_extents();
  x->set_handle(1);
  x->set_version(1);
  x->set_offset(2);
  x->set_length(5);
  b.set_length(kChunk + 5);
  ASSERT_THAT(store_->PutFile("/b", b, {}, 1, false, nullptr), IsOk());
  EXPECT_EQ(Refs(1), 2u);
  EXPECT_EQ(Refs(2), 2u);
  std::vector<uint64_t> released;
  ASSERT_THAT(store_->Delete("/a", false, &released), IsOk());
  EXPECT_TRUE(released.empty());
  EXPECT_EQ(Refs(1), 1u);
  // Replacing /b by a file over the same chunk 1 releases chunk 2 only.
  FileMeta c;
  *c.add_extents() = *x;
  c.set_length(5);
  ASSERT_THAT(store_->PutFile("/b", c, {}, 2, false, &released), IsOk());
  EXPECT_EQ(released, std::vector<uint64_t>{2});
  EXPECT_EQ(Refs(1), 1u);
  Reopen();  // the counts are persistent
  EXPECT_EQ(Refs(1), 1u);
  released.clear();
  ASSERT_THAT(store_->Delete("/b", false, &released), IsOk());
  EXPECT_EQ(released, std::vector<uint64_t>{1});
  EXPECT_THAT(store_->GetChunk(1), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(MetadataStoreTest, RecursiveDeleteCountsEveryReferenceInTheSubtree) {
  ASSERT_THAT(Put("/d/a", {1}), IsOk());
  ASSERT_THAT(store_->PutFile("/d/sub/b", File({1}), {}, 1, false, nullptr), IsOk());
  ASSERT_THAT(store_->PutFile("/keep", File({1}), {}, 1, false, nullptr), IsOk());
  EXPECT_EQ(Refs(1), 3u);
  std::vector<uint64_t> released;
  ASSERT_THAT(store_->Delete("/d", true, &released), IsOk());
  EXPECT_TRUE(released.empty());
  EXPECT_EQ(Refs(1), 1u);
}

// One extent of chunk `handle` (version 1): bytes [offset, offset+length).
FileMeta Slice(uint64_t handle, uint64_t offset, uint64_t length) {
  FileMeta f;
  f.set_replication(3);
  f.set_length(length);
  Extent* x = f.add_extents();
  x->set_handle(handle);
  x->set_version(1);
  x->set_offset(offset);
  x->set_length(length);
  return f;
}

TEST_F(MetadataStoreTest, PutFilesCommitsAPackChunkSharedByManyFilesEachOnItsOwn) {
  ASSERT_THAT(Put("/old", {1}), IsOk());
  ASSERT_THAT(Put("/taken", {2}), IsOk());
  ASSERT_THAT(store_->Mkdir("/dir", 1), IsOk());
  using FilePut = MetadataStore::FilePut;
  std::vector<FilePut> files = {
      {"/p/a", Slice(9, 0, 3), false},
      {"/old", Slice(9, 3, 2), false},        // replaces /old: chunk 1 released
      {"/taken", Slice(9, 5, 1), true},       // If-None-Match on an existing file
      {"/dir", Slice(9, 6, 1), false},        // a directory is there
      {"/p/a", Slice(9, 7, 1), false},        // the same path again in this commit
      {"/p/a/under", Slice(9, 7, 1), false},  // below a file of this commit
      {"/p", Slice(9, 7, 1), false},          // above a file of this commit
      {"/p/b", Slice(9, 8, 5), false},        // past the chunk's end
      {"/q/c", Slice(9, 8, 2), false},
  };
  std::vector<absl::StatusOr<Entry>> results;
  std::vector<uint64_t> released;
  ASSERT_THAT(store_->PutFiles(files, Written({9}), 5, &results, &released), IsOk());
  ASSERT_EQ(results.size(), files.size());
  EXPECT_THAT(results[0], IsOk());
  EXPECT_THAT(results[1], IsOk());
  EXPECT_THAT(results[2], StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(results[3], StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(results[4], StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(results[5], StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(results[6], StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(results[7], StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(results[8], IsOk());
  EXPECT_EQ(released, std::vector<uint64_t>{1});
  Reopen();  // one synced batch: all of it is there after a restart
  EXPECT_EQ(Refs(9), 3u);
  EXPECT_EQ(Refs(1), 0u);
  EXPECT_EQ(Refs(2), 1u);
  EXPECT_EQ(store_->Get("/p/a")->file().extents(0).offset(), 0u);
  EXPECT_EQ(store_->Get("/old")->file().extents(0).offset(), 3u);
  EXPECT_EQ(store_->Get("/q/c")->file().length(), 2u);
  EXPECT_EQ(store_->Get("/taken")->file().extents(0).handle(), 2u);
  EXPECT_EQ(store_->Get("/dir")->type(), Entry::DIR);
  EXPECT_EQ(store_->Get("/p")->type(), Entry::DIR);
  EXPECT_THAT(store_->Get("/p/b"), StatusIs(absl::StatusCode::kNotFound));
  // Deleting the files one by one releases the pack chunk with the last.
  ASSERT_THAT(store_->Delete("/p", true, &released), IsOk());
  ASSERT_THAT(store_->Delete("/old", false, &released), IsOk());
  released.clear();
  ASSERT_THAT(store_->Delete("/q/c", false, &released), IsOk());
  EXPECT_EQ(released, std::vector<uint64_t>{9});
}

// A pack chunk 9 of 100 bytes holding /a [16,+10), /b [42,+20) and /c [78,+22).
class PackedStoreTest : public MetadataStoreTest {
 protected:
  void SetUp() override {
    MetadataStoreTest::SetUp();
    ChunkRecord rec;
    rec.set_version(1);
    rec.set_size(100);
    rec.set_replication(3);
    rec.set_packed(true);
    std::vector<absl::StatusOr<Entry>> results;
    std::vector<uint64_t> released;
    ASSERT_THAT(store_->PutFiles({{"/a", Slice(9, 16, 10), false},
                                  {"/b", Slice(9, 42, 20), false},
                                  {"/c", Slice(9, 78, 22), false}},
                                 {{9, rec}}, 5, &results, &released),
                IsOk());
    for (const auto& r : results) ASSERT_THAT(r, IsOk());
  }
  uint64_t Live(uint64_t handle) {
    auto rec = store_->GetChunk(handle);
    return rec.ok() ? rec->live_bytes() : 0;
  }
  static CompactionMove Move(const std::string& path, uint64_t offset, uint64_t length,
                             uint64_t new_offset) {
    CompactionMove m;
    m.set_path(path);
    m.set_offset(offset);
    m.set_length(length);
    m.set_new_offset(new_offset);
    return m;
  }
  static ChunkRecord NewPack(uint64_t size) {
    ChunkRecord rec;
    rec.set_version(1);
    rec.set_size(size);
    rec.set_replication(3);
    return rec;
  }
  static ChunkRef Ref(uint64_t handle) {
    ChunkRef c;
    c.set_handle(handle);
    c.set_version(1);
    return c;
  }
};

TEST_F(PackedStoreTest, LiveBytesFollowEveryMutationAndScanFindsMostlyDeadPacks) {
  EXPECT_EQ(Live(9), 52u);
  auto scan = store_->ScanCompaction(0.5, 10, {});
  ASSERT_THAT(scan, IsOk());
  EXPECT_EQ(scan->pack_chunks, 1u);
  EXPECT_EQ(scan->reclaimable_bytes, 48u);
  EXPECT_TRUE(scan->candidates.empty());  // 52% live
  std::vector<uint64_t> released;
  ASSERT_THAT(store_->Delete("/c", false, &released), IsOk());
  ASSERT_THAT(store_->Rename("/a", "/d/a", 6), IsOk());  // renames keep the bytes live
  EXPECT_EQ(Live(9), 30u);
  Reopen();
  scan = store_->ScanCompaction(0.5, 10, {});
  ASSERT_THAT(scan, IsOk());
  EXPECT_EQ(scan->reclaimable_bytes, 70u);
  ASSERT_EQ(scan->candidates.size(), 1u);
  const auto& c = scan->candidates[0];
  EXPECT_EQ(c.handle, 9u);
  ASSERT_EQ(c.moves.size(), 2u);  // by offset
  EXPECT_EQ(c.moves[0].path(), "/d/a");
  EXPECT_EQ(c.moves[0].offset(), 16u);
  EXPECT_EQ(c.moves[1].path(), "/b");
  EXPECT_EQ(c.moves[1].length(), 20u);
  // Excluded (leased), or not a pack chunk: not a candidate.
  EXPECT_TRUE(store_->ScanCompaction(0.5, 10, {9})->candidates.empty());
  ASSERT_THAT(Put("/whole", {3}), IsOk());
  EXPECT_EQ(store_->ScanCompaction(0.99, 10, {})->candidates.size(), 1u);
  EXPECT_EQ(Live(3), kChunk);
}

TEST_F(PackedStoreTest, SwitchExtentsMovesOnlyFilesStillOnTheirOldExtent) {
  std::vector<uint64_t> released;
  ASSERT_THAT(store_->Delete("/c", false, &released), IsOk());
  // Meanwhile /b was replaced: its move is left alone.
  ASSERT_THAT(Put("/b", {4}), IsOk());
  released.clear();
  auto moved = store_->SwitchExtents(Ref(9), 20, NewPack(62),
                                     {Move("/a", 16, 10, 16), Move("/b", 42, 20, 42)}, &released);
  ASSERT_THAT(moved, IsOk());
  EXPECT_EQ(*moved, 1u);
  EXPECT_EQ(released, std::vector<uint64_t>{9});  // nothing is left on the old chunk
  Reopen();
  auto a = store_->Get("/a");
  ASSERT_THAT(a, IsOk());
  EXPECT_EQ(a->file().extents(0).handle(), 20u);
  EXPECT_EQ(a->file().extents(0).offset(), 16u);
  EXPECT_EQ(a->mtime_ms(), 5);  // compaction is not a change of the file
  EXPECT_EQ(store_->Get("/b")->file().extents(0).handle(), 4u);
  EXPECT_THAT(store_->GetChunk(9), StatusIs(absl::StatusCode::kNotFound));
  auto rec = store_->GetChunk(20);
  ASSERT_THAT(rec, IsOk());
  EXPECT_EQ(rec->refs(), 1u);
  EXPECT_EQ(rec->live_bytes(), 10u);
  EXPECT_TRUE(rec->packed());
}

TEST_F(PackedStoreTest, SwitchExtentsKeepsTheOldChunkForFilesNotMovedAndRefusesBadMoves) {
  std::vector<uint64_t> released;
  EXPECT_THAT(store_->SwitchExtents(Ref(9), 20, NewPack(30), {Move("/a", 16, 10, 25)}, &released),
              StatusIs(absl::StatusCode::kInvalidArgument));  // past the new chunk's end
  EXPECT_THAT(store_->GetChunk(20), StatusIs(absl::StatusCode::kNotFound));
  auto moved = store_->SwitchExtents(Ref(9), 20, NewPack(30), {Move("/a", 16, 10, 16)}, &released);
  ASSERT_THAT(moved, IsOk());
  EXPECT_EQ(*moved, 1u);
  EXPECT_TRUE(released.empty());  // /b and /c are still on chunk 9
  EXPECT_EQ(Refs(9), 2u);
  EXPECT_EQ(Live(9), 42u);
  // Nothing left to move (a second gateway's late commit): the new chunk is released.
  released.clear();
  moved = store_->SwitchExtents(Ref(9), 21, NewPack(30), {Move("/a", 16, 10, 16)}, &released);
  ASSERT_THAT(moved, IsOk());
  EXPECT_EQ(*moved, 0u);
  EXPECT_EQ(released, std::vector<uint64_t>{21});
  EXPECT_THAT(store_->GetChunk(21), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(MetadataStoreTest, MigratesFormatTwoCountingLiveBytesAndFindingPackChunks) {
  // Format 2: refs counted, no live bytes, pack chunks unmarked.
  ASSERT_THAT(Put("/whole", {3}), IsOk());
  ChunkRecord rec;
  rec.set_version(1);
  rec.set_size(100);
  rec.set_replication(3);
  std::vector<absl::StatusOr<Entry>> results;
  std::vector<uint64_t> released;
  ASSERT_THAT(
      store_->PutFiles({{"/p/a", Slice(9, 16, 10), false}, {"/p/b", Slice(9, 42, 20), false}},
                       {{9, rec}}, 5, &results, &released),
      IsOk());
  store_.reset();
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir_.path(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put({}, "m/format", U64Key('x', 2).substr(1)).ok());
    for (uint64_t h : {3, 9}) {
      std::string value;
      ASSERT_TRUE(db->Get({}, U64Key('c', h), &value).ok());
      ChunkRecord r;
      ASSERT_TRUE(r.ParseFromString(value));
      r.clear_live_bytes();
      r.clear_packed();
      ASSERT_TRUE(db->Put({}, U64Key('c', h), r.SerializeAsString()).ok());
    }
  }
  Reopen();
  auto pack = store_->GetChunk(9);
  ASSERT_THAT(pack, IsOk());
  EXPECT_EQ(pack->refs(), 2u);
  EXPECT_EQ(pack->live_bytes(), 30u);
  EXPECT_TRUE(pack->packed());
  auto whole = store_->GetChunk(3);
  ASSERT_THAT(whole, IsOk());
  EXPECT_EQ(whole->live_bytes(), kChunk);
  EXPECT_FALSE(whole->packed());
  ASSERT_THAT(store_->Delete("/p/a", false, &released), IsOk());
  EXPECT_EQ(store_->GetChunk(9)->live_bytes(), 20u);
}

TEST_F(MetadataStoreTest, PutFilesWritesNoChunkRecordWhenEveryFileIsRefused) {
  ASSERT_THAT(Put("/taken", {2}), IsOk());
  std::vector<absl::StatusOr<Entry>> results;
  std::vector<uint64_t> released;
  ASSERT_THAT(
      store_->PutFiles({{"/taken", Slice(9, 0, 2), true}}, Written({9}), 5, &results, &released),
      IsOk());
  EXPECT_THAT(results[0], StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(released, std::vector<uint64_t>{9});
  EXPECT_THAT(store_->GetChunk(9), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(Refs(2), 1u);
}

TEST_F(MetadataStoreTest, PutFileRefusesExtentsOutsideTheirChunksAndWritesNothing) {
  ASSERT_THAT(Put("/a", {1}), IsOk());
  auto refused = [&](FileMeta f) {
    EXPECT_THAT(store_->PutFile("/bad", f, {}, 1, false, nullptr),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << f.DebugString();
    EXPECT_THAT(store_->Get("/bad"), StatusIs(absl::StatusCode::kNotFound));
    EXPECT_EQ(Refs(1), 1u);
  };
  refused(File({7}));  // a chunk no file references
  FileMeta f = File({1});
  f.mutable_extents(0)->set_version(2);  // a stale or future version
  refused(f);
  f = File({1});
  f.mutable_extents(0)->set_offset(4);  // past the chunk's end
  refused(f);
  f = File({1});
  f.mutable_extents(0)->set_length(0);
  f.set_length(0);
  refused(f);
  f = File({1});
  f.set_length(kChunk + 1);  // extents do not add up to the length
  refused(f);
  f = File({1});
  f.mutable_extents(0)->set_offset(UINT64_MAX);  // no overflow
  refused(f);
}

TEST_F(MetadataStoreTest, MigratesFormatOneMetadataOnce) {
  // What the releases before extents wrote: files with whole-chunk lists,
  // chunk records without counts, no format record.
  store_.reset();
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir_.path(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Delete({}, "m/format").ok());  // SetUp's open wrote the current one
    Entry dir;
    dir.set_type(Entry::DIR);
    ASSERT_TRUE(db->Put({}, "n/old", dir.SerializeAsString()).ok());
    for (uint64_t i = 0; i < 3; ++i) {
      Entry e;
      e.set_type(Entry::FILE);
      FileMeta* f = e.mutable_file();
      f->set_replication(3);
      for (uint64_t h : {10 * i + 1, 10 * i + 2}) {
        ChunkRef* c = f->add_chunks();
        c->set_handle(h);
        c->set_version(1);
        c->set_size(h == 10 * i + 1 ? 64 : 3);
        ChunkRecord rec;
        rec.set_version(1);
        rec.set_size(c->size());
        rec.set_replication(3);
        ASSERT_TRUE(db->Put({}, U64Key('c', h), rec.SerializeAsString()).ok());
      }
      f->set_length(67);
      ASSERT_TRUE(db->Put({}, "n/old/f" + std::to_string(i), e.SerializeAsString()).ok());
    }
    ChunkRecord orphan;  // named by no file
    orphan.set_version(1);
    ASSERT_TRUE(db->Put({}, U64Key('c', 99), orphan.SerializeAsString()).ok());
  }
  Reopen();
  auto f = store_->Get("/old/f1");
  ASSERT_THAT(f, IsOk());
  EXPECT_EQ(f->file().chunks_size(), 0);
  ASSERT_EQ(f->file().extents_size(), 2);
  EXPECT_EQ(f->file().extents(0).handle(), 11u);
  EXPECT_EQ(f->file().extents(0).offset(), 0u);
  EXPECT_EQ(f->file().extents(0).length(), 64u);
  EXPECT_EQ(f->file().extents(1).length(), 3u);
  EXPECT_EQ(Refs(11), 1u);
  EXPECT_EQ(Refs(22), 1u);
  EXPECT_THAT(store_->GetChunk(99), StatusIs(absl::StatusCode::kNotFound));
  // Migrated metadata behaves as new: replacing a file releases its chunks.
  std::vector<uint64_t> released;
  ASSERT_THAT(Put("/old/f0", {5}, 2, false, &released), IsOk());
  std::sort(released.begin(), released.end());
  EXPECT_EQ(released, (std::vector<uint64_t>{1, 2}));
  Reopen();  // a second open migrates nothing
  EXPECT_EQ(Refs(11), 1u);
  EXPECT_EQ(store_->Get("/old/f2")->file().extents_size(), 2);
}

TEST_F(MetadataStoreTest, RefusesMetadataOfANewerFormat) {
  store_.reset();
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir_.path(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put({}, "m/format", U64Key('x', 4).substr(1)).ok());
  }
  auto s = MetadataStore::Open(dir_.path());
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace cairn::master
