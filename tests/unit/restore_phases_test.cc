// The restore's phases: reading `pg_restore --list`, and which list each item goes to so that
// restore-users can run while the rest of the dump restores.
#include "refresh/restore_phases.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "common/error.h"

namespace dbrefresh {
namespace {

// Catalog oids as PostgreSQL has them; the split only compares them.
constexpr unsigned long kConstraint = 2606, kClass = 1259, kTrigger = 2620;
// Tables of the source: users and its FK parent regions are preserved, padding and notes are not.
constexpr unsigned long kUsers = 100, kRegions = 101, kPadding = 200, kNotes = 201;

bool Has(const std::vector<std::string>& lines, const std::string& fragment) {
  return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) { return l.find(fragment) != std::string::npos; });
}

TEST(ParseTocList, ReadsIdCatalogOidAndTypeAndSkipsComments) {
  auto entries = ParseTocList(
      ";\n; Archive created at 2026-11-26\n;\n"
      "3519; 0 16524 TABLE DATA public users cas_admin\n"
      "3366; 2606 16592 FK CONSTRAINT public applications applications_created_by_user_id_fkey cas_admin\n"
      "3340; 1259 16617 INDEX public users_name_trgm_idx cas_admin\n"
      "3537; 0 0 SEQUENCE SET public notes_id_seq cas_admin\n"
      "3600; 0 0 COMMENT public INDEX \"odd name; with spaces\" cas_admin\n"
      "\n");
  ASSERT_EQ(entries.size(), 5u);
  EXPECT_EQ(entries[0].dump_id, 3519);
  EXPECT_EQ(entries[0].catalog, 0u);
  EXPECT_EQ(entries[0].oid, 16524u);
  EXPECT_EQ(entries[0].desc, "TABLE DATA");
  EXPECT_EQ(entries[0].line, "3519; 0 16524 TABLE DATA public users cas_admin");
  EXPECT_EQ(entries[1].desc, "FK CONSTRAINT");
  EXPECT_EQ(entries[1].catalog, 2606u);
  EXPECT_EQ(entries[2].desc, "INDEX");
  EXPECT_EQ(entries[3].desc, "SEQUENCE SET");
  EXPECT_EQ(entries[4].desc, "COMMENT");
}

TEST(ParseTocList, ALineItCannotReadIsAFailure) {
  EXPECT_THROW(ParseTocList("not a toc line\n"), Error);
  EXPECT_THROW(ParseTocList("12 0 100 TABLE DATA public users x\n"), Error);
}

TocSections SampleToc() {
  TocSections toc;
  toc.pre_data = ParseTocList("10; 1259 100 TABLE public users o\n11; 1259 200 TABLE public padding o\n");
  toc.data = ParseTocList(
      "20; 0 100 TABLE DATA public users o\n"
      "21; 0 101 TABLE DATA public regions o\n"
      "22; 0 200 TABLE DATA public padding o\n"
      "23; 0 0 SEQUENCE SET public padding_id_seq o\n");
  toc.post_data = ParseTocList(
      "30; 2606 300 CONSTRAINT public users users_pkey o\n"
      "31; 1259 301 INDEX public users_name_idx o\n"
      "32; 2606 302 FK CONSTRAINT public users users_region_fkey o\n"
      "33; 2606 303 CONSTRAINT public padding padding_pkey o\n"
      "34; 2606 304 FK CONSTRAINT public notes notes_author_fkey o\n"
      "35; 2606 305 FK CONSTRAINT public notes notes_padding_fkey o\n"
      "36; 0 400 MATERIALIZED VIEW DATA public user_counts o\n"
      "37; 0 0 COMMENT public INDEX users_name_idx o\n"
      "38; 3466 500 EVENT TRIGGER - audit_ddl o\n");
  return toc;
}

std::map<CatalogObject, ItemTables> SampleItems() {
  return {{{kConstraint, 300}, {kUsers, 0}},      {{kClass, 301}, {kUsers, 0}},
          {{kConstraint, 302}, {kUsers, kRegions}}, {{kConstraint, 303}, {kPadding, 0}},
          {{kConstraint, 304}, {kNotes, kUsers}},   {{kConstraint, 305}, {kNotes, kPadding}}};
}

TEST(SplitRestore, PreservedTablesAndTheirParentsGoFirstTheRestAlongsideAndWhatTouchesBothLast) {
  RestorePhases p = SplitRestore(SampleToc(), {kUsers, kRegions}, SampleItems());
  ASSERT_TRUE(p.usable()) << p.why_not;
  EXPECT_EQ(p.schema.size(), 2u);
  // restore-users needs the preserved rows, their keys and the parents its foreign keys check
  EXPECT_TRUE(Has(p.preserved, "TABLE DATA public users"));
  EXPECT_TRUE(Has(p.preserved, "TABLE DATA public regions"));
  EXPECT_TRUE(Has(p.preserved, "users_pkey"));
  EXPECT_TRUE(Has(p.preserved, "users_name_idx o"));
  EXPECT_TRUE(Has(p.preserved, "users_region_fkey"));
  // every sequence value before restore-users moves the preserved tables' sequences past their rows
  EXPECT_TRUE(Has(p.preserved, "SEQUENCE SET"));
  // the other tables restore alongside, with their own keys
  EXPECT_TRUE(Has(p.rest, "TABLE DATA public padding"));
  EXPECT_TRUE(Has(p.rest, "padding_pkey"));
  EXPECT_TRUE(Has(p.rest, "notes_padding_fkey"));
  // a foreign key to a preserved table would lock it against restore-users; a materialized view may
  // read it; a comment and an unknown kind of item name no table
  EXPECT_TRUE(Has(p.last, "notes_author_fkey"));
  EXPECT_TRUE(Has(p.last, "MATERIALIZED VIEW DATA"));
  EXPECT_TRUE(Has(p.last, "COMMENT"));
  EXPECT_TRUE(Has(p.last, "EVENT TRIGGER"));
  EXPECT_EQ(p.schema.size() + p.preserved.size() + p.rest.size() + p.last.size(), 2u + 4u + 9u)
      << "every item in exactly one list";
  EXPECT_FALSE(Has(p.rest, "users"));
}

TEST(SplitRestore, RefusesWhenAPreservedTablesItemReferencesATableOutsideThem) {
  auto items = SampleItems();
  items[{kTrigger, 306}] = {kUsers, kPadding};  // a constraint trigger on users that checks padding
  TocSections toc = SampleToc();
  toc.post_data.push_back(ParseTocList("39; 2620 306 TRIGGER public users users_check o\n").front());
  RestorePhases p = SplitRestore(toc, {kUsers, kRegions}, items);
  EXPECT_FALSE(p.usable());
  EXPECT_NE(p.why_not.find("users_check"), std::string::npos) << p.why_not;
}

// ---- with streamed tables (table_streams.h): notes' data goes source -> target by COPY ------------

// SampleToc with notes streamed: its data is not in the dump, and more items on it and referring to it.
TocSections StreamedToc() {
  TocSections toc = SampleToc();
  toc.pre_data.push_back(ParseTocList("12; 1259 201 TABLE public notes o\n").front());
  for (const auto& e : ParseTocList("40; 2606 310 CONSTRAINT public notes notes_pkey o\n"
                                    "41; 1259 311 INDEX public notes_body_idx o\n"
                                    "42; 2606 312 FK CONSTRAINT public padding padding_note_fkey o\n"
                                    "43; 2620 313 TRIGGER public notes notes_audit o\n"
                                    "44; 1259 314 INDEX public padding_kind_idx o\n"
                                    "45; 2606 315 FK CONSTRAINT public padding padding_parent_fkey o\n"
                                    "46; 2620 316 TRIGGER public padding padding_checks_note o\n")) {
    toc.post_data.push_back(e);
  }
  return toc;
}

std::map<CatalogObject, ItemTables> StreamedItems() {
  auto items = SampleItems();
  items[{kConstraint, 310}] = {kNotes, 0};
  items[{kClass, 311}] = {kNotes, 0};
  items[{kConstraint, 312}] = {kPadding, kNotes};  // another table's key to the streamed table
  items[{kTrigger, 313}] = {kNotes, 0};
  items[{kClass, 314}] = {kPadding, 0};
  items[{kConstraint, 315}] = {kPadding, kPadding};
  items[{kTrigger, 316}] = {kPadding, kNotes};      // a constraint trigger on padding that checks notes
  return items;
}

// The lines of `lines` that contain none of `fragments`, in order.
std::vector<std::string> Without(const std::vector<std::string>& lines, const std::vector<std::string>& fragments) {
  std::vector<std::string> out;
  for (const auto& l : lines) {
    if (std::none_of(fragments.begin(), fragments.end(), [&](const std::string& f) { return l.find(f) != std::string::npos; })) {
      out.push_back(l);
    }
  }
  return out;
}

TEST(SplitRestore, WithoutStreamedTablesNothingWaitsForTheStreams) {
  RestorePhases p = SplitRestore(StreamedToc(), {kUsers, kRegions}, StreamedItems());
  ASSERT_TRUE(p.usable()) << p.why_not;
  EXPECT_TRUE(p.after_streams.empty()) << ::testing::PrintToString(p.after_streams);
  EXPECT_TRUE(Has(p.rest, "notes_pkey"));
  EXPECT_TRUE(Has(p.rest, "padding_note_fkey"));
}

TEST(SplitRestore, AStreamedTablesKeysIndexesTriggersAndTheKeysToItWaitForTheStreams) {
  const TocSections toc = StreamedToc();
  const auto items = StreamedItems();
  RestorePhases plain = SplitRestore(toc, {kUsers, kRegions}, items);
  RestorePhases p = SplitRestore(toc, {kUsers, kRegions}, items, {kNotes});
  ASSERT_TRUE(p.usable()) << p.why_not;

  // Built on the streamed table's rows, or checking them: once the streams are in, in the TOC's order.
  const std::vector<std::string> waiting = {"notes_padding_fkey", "notes_pkey", "notes_body_idx", "padding_note_fkey",
                                            "notes_audit", "padding_checks_note"};
  ASSERT_EQ(p.after_streams.size(), waiting.size()) << ::testing::PrintToString(p.after_streams);
  for (size_t i = 0; i < waiting.size(); ++i) EXPECT_TRUE(Has({p.after_streams[i]}, waiting[i])) << p.after_streams[i];
  // Its key to a preserved table still waits for restore-users, which it would lock out.
  EXPECT_TRUE(Has(p.last, "notes_author_fkey"));
  EXPECT_FALSE(Has(p.after_streams, "notes_author_fkey"));
  // Everything else is where it was without streams: the rest keeps its own items, in order.
  EXPECT_EQ(p.schema, plain.schema);
  EXPECT_EQ(p.preserved, plain.preserved);
  EXPECT_EQ(p.last, plain.last);
  EXPECT_EQ(p.rest, Without(plain.rest, waiting));
  EXPECT_TRUE(Has(p.rest, "TABLE DATA public padding"));
  EXPECT_TRUE(Has(p.rest, "padding_pkey"));
  EXPECT_TRUE(Has(p.rest, "padding_kind_idx"));
  EXPECT_TRUE(Has(p.rest, "padding_parent_fkey"));
  EXPECT_EQ(p.schema.size() + p.preserved.size() + p.rest.size() + p.after_streams.size() + p.last.size(),
            toc.pre_data.size() + toc.data.size() + toc.post_data.size())
      << "every item in exactly one list";
}

TEST(SplitRestore, AStreamedTableNeverMovesAPreservedTablesItems) {
  // Streamed tables are outside the preserved set; the preserved list is the same with or without them.
  RestorePhases p = SplitRestore(StreamedToc(), {kUsers, kRegions}, StreamedItems(), {kNotes, kPadding});
  ASSERT_TRUE(p.usable()) << p.why_not;
  EXPECT_EQ(p.preserved, SplitRestore(StreamedToc(), {kUsers, kRegions}, StreamedItems()).preserved);
  EXPECT_TRUE(Has(p.after_streams, "padding_pkey"));
  EXPECT_TRUE(Has(p.after_streams, "padding_parent_fkey"));
  EXPECT_TRUE(Has(p.rest, "TABLE DATA public padding")) << "a TABLE DATA item left in the dump still restores with the rest";
  EXPECT_FALSE(Has(p.rest, "CONSTRAINT"));
}

TEST(SectionPhases, TheSchemaThenTheDataAlongsideTheStreamsThenEveryPostDataItemAndNothingAfterRestoreUsers) {
  const TocSections toc = StreamedToc();
  RestorePhases p = SectionPhases(toc);
  ASSERT_TRUE(p.usable());
  auto lines = [](const std::vector<TocEntry>& entries) {
    std::vector<std::string> out;
    for (const auto& e : entries) out.push_back(e.line);
    return out;
  };
  EXPECT_EQ(p.schema, lines(toc.pre_data));
  EXPECT_EQ(p.rest, lines(toc.data));
  EXPECT_EQ(p.after_streams, lines(toc.post_data));
  EXPECT_TRUE(p.preserved.empty());
  EXPECT_TRUE(p.last.empty());
}

TEST(SectionPhases, AnEmptyDumpGivesEmptyPhases) {
  RestorePhases p = SectionPhases(TocSections{});
  EXPECT_TRUE(p.usable());
  EXPECT_TRUE(p.schema.empty() && p.preserved.empty() && p.rest.empty() && p.after_streams.empty() && p.last.empty());
}

}  // namespace
}  // namespace dbrefresh
