#include "master/metadata_store.h"

#include "test_util.h"

namespace cairn::master {
namespace {

using ::cairn::testing::IsOk;
using ::cairn::testing::StatusIs;
using ::cairn::testing::TempDir;

FileMeta File(std::vector<uint64_t> handles, uint64_t chunk_size = 10) {
  FileMeta f;
  f.set_replication(3);
  f.set_sha256("00");
  for (uint64_t h : handles) {
    ChunkRef* c = f.add_chunks();
    c->set_handle(h);
    c->set_version(1);
    c->set_size(chunk_size);
  }
  f.set_length(handles.size() * chunk_size);
  return f;
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

  TempDir dir_;
  std::unique_ptr<MetadataStore> store_;
};

TEST_F(MetadataStoreTest, MkdirCreatesParentsAndIsIdempotent) {
  ASSERT_THAT(store_->Mkdir("/a/b/c", 1), IsOk());
  ASSERT_THAT(store_->Mkdir("/a/b/c", 2), IsOk());
  EXPECT_EQ(store_->Get("/a/b")->type(), Entry::DIR);
  ASSERT_THAT(store_->PutFile("/a/f", File({1}), 1, false, nullptr), IsOk());
  EXPECT_THAT(store_->Mkdir("/a/f", 1), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(store_->Mkdir("/a/f/g", 1), StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST_F(MetadataStoreTest, ListsChildrenInOrderSkippingGrandchildren) {
  for (const char* p : {"/d/b", "/d/a/x", "/d/a-b", "/d/a/y/z", "/d/c"}) {
    ASSERT_THAT(store_->PutFile(p, File({}), 1, false, nullptr), IsOk()) << p;
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
    ASSERT_THAT(store_->PutFile("/p/f" + std::to_string(i), File({}), 1, false, nullptr), IsOk());
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
  ASSERT_THAT(store_->PutFile("/f", File({1, 2}), 1, false, nullptr), IsOk());
  std::vector<ChunkRef> replaced;
  ASSERT_THAT(store_->PutFile("/f", File({3}), 2, false, &replaced), IsOk());
  ASSERT_EQ(replaced.size(), 2u);
  EXPECT_EQ(store_->Get("/f")->file().chunks(0).handle(), 3u);
  EXPECT_THAT(store_->PutFile("/f", File({4}), 3, true, nullptr),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_THAT(store_->Mkdir("/dir", 1), IsOk());
  EXPECT_THAT(store_->PutFile("/dir", File({5}), 3, false, nullptr),
              StatusIs(absl::StatusCode::kAlreadyExists));
  // Only chunk 3 is referenced now.
  std::vector<uint64_t> handles;
  ASSERT_THAT(store_->ForEachChunk([&](uint64_t h, const ChunkRecord&) { handles.push_back(h); }),
              IsOk());
  EXPECT_EQ(handles, std::vector<uint64_t>{3});
}

TEST_F(MetadataStoreTest, RenameMovesWholeSubtree) {
  ASSERT_THAT(store_->PutFile("/a/b/f1", File({1}), 1, false, nullptr), IsOk());
  ASSERT_THAT(store_->PutFile("/a/f2", File({2}), 1, false, nullptr), IsOk());
  ASSERT_THAT(store_->PutFile("/ab", File({3}), 1, false, nullptr), IsOk());
  ASSERT_THAT(store_->Rename("/a", "/x/y", 5), IsOk());
  EXPECT_EQ(Names("/", true),
            (std::vector<std::string>{"/ab", "/x", "/x/y", "/x/y/b", "/x/y/b/f1", "/x/y/f2"}));
  EXPECT_EQ(store_->Get("/x/y/b/f1")->file().chunks(0).handle(), 1u);
  EXPECT_THAT(store_->Rename("/x", "/x/y/z", 1), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->Rename("/ab", "/x/y", 1), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(store_->Rename("/missing", "/m", 1), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->Rename("/ab", "/x/y/f2/under-file", 1),
              StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST_F(MetadataStoreTest, DeleteRequiresRecursiveForNonEmptyDirs) {
  ASSERT_THAT(store_->PutFile("/d/e/f", File({1, 2}), 1, false, nullptr), IsOk());
  ASSERT_THAT(store_->PutFile("/d/g", File({3}), 1, false, nullptr), IsOk());
  EXPECT_THAT(store_->Delete("/d", false, nullptr), StatusIs(absl::StatusCode::kAborted));
  std::vector<ChunkRef> removed;
  ASSERT_THAT(store_->Delete("/d", true, &removed), IsOk());
  EXPECT_EQ(removed.size(), 3u);
  EXPECT_THAT(store_->Get("/d/g"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_TRUE(Names("/").empty());
  EXPECT_THAT(store_->Delete("/", true, nullptr), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(MetadataStoreTest, SurvivesRestart) {
  ASSERT_THAT(store_->PutFile("/k/f", File({11, 12}), 1, false, nullptr), IsOk());
  NodeRecord node;
  node.set_address("h:1");
  node.set_zone("z");
  ASSERT_THAT(store_->PutNode(4, node), IsOk());
  auto mark = store_->ReserveHandles(100);
  ASSERT_THAT(mark, IsOk());
  Reopen();
  EXPECT_EQ(store_->Get("/k/f")->file().chunks_size(), 2);
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
  ASSERT_THAT(store_->PutFile("/t1/a", File({1, 2}), 1, false, nullptr), IsOk());
  ASSERT_THAT(store_->PutFile("/t1/sub/b", File({3}), 1, false, nullptr), IsOk());
  ASSERT_THAT(store_->PutFile("/t2/c", File({4}), 1, false, nullptr), IsOk());
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
  ASSERT_THAT(store_->PutFile("/a/x", File({1}), 1, false, nullptr), IsOk());
  ASSERT_THAT(store_->PutFile("/a/y", File({2}), 1, false, nullptr), IsOk());
  ASSERT_THAT(store_->PutFile("/a.b", File({3}), 1, false, nullptr), IsOk());
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

}  // namespace
}  // namespace cairn::master
