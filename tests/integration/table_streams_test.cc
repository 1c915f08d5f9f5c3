// `dbrefresh refresh` streaming tables source -> target (issue 15, table_streams.h) on the test bed:
// with `stream_min_table_mb: 0` every eligible table streams, and the target must still be prod's
// rows, keys, indexes, triggers and sequence values, plus preprod's people; odd names and hostile
// values arrive intact; partitions stream without their parent's trigger firing or its keys failing;
// the dump and the streams read one state of a prod that keeps writing; swap streams too, clean, -1
// and pg_dump_args do not; a stream that dies mid-copy fails the run naming the table (exit 3), and
// the same command then completes it; a preprod session on a table not yet streamed holds the run up
// only for --lock-timeout.
#include <gtest/gtest.h>

#include <atomic>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "live_preprod_support.h"
#include "table_streams_support.h"

namespace dbrefresh::testing {
namespace {

// The ordinary tables of the prod testdata outside the preserved set (users, its roles and
// qualifications, and the tables they reference): what streams with stream_min_table_mb 0.
const std::set<std::string> kTestdataStreamed = {"public.applications", "public.assessments", "public.bookings",
                                                 "public.flyway_schema_history", "public.notes"};

// A text log line "streamed table rows=N seconds=S table=schema.name".
bool LogsStreamed(const std::string& err, const std::string& table) {
  for (const auto& line : Lines(err)) {
    if (line.rfind("streamed table ", 0) == 0 && Contains(line, " table=" + table)) return true;
  }
  return false;
}

class TableStreams : public DatabasePair {
 protected:
  // dbrefresh refresh with the config {"stream_min_table_mb": mb} plus `config`, the report at report_.
  std::vector<std::string> RefreshArgs(const std::vector<std::string>& extra = {}, int mb = 0,
                                       nlohmann::json config = nlohmann::json::object()) const {
    config["stream_min_table_mb"] = mb;
    std::vector<std::string> args = {DBREFRESH_BINARY, "refresh", "--confirm-target", preprod().name(),
                                     "--snapshot-dir", snapshots_.path(), "--report", report_,
                                     "--config", ConfigFile(files_, config)};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  std::map<std::string, std::string> Connections() const {
    return {{"DBREFRESH_SOURCE_URL", prod().url()}, {"DBREFRESH_TARGET_URL", preprod().url()}};
  }
  CommandResult RunRefresh(const std::vector<std::string>& extra = {}, int mb = 0,
                           nlohmann::json config = nlohmann::json::object()) const {
    CommandResult r = RunProgram(RefreshArgs(extra, mb, std::move(config)), Connections());
    ExpectNoPassword(r.all(), "refresh output");
    return r;
  }
  nlohmann::json Report() const { return nlohmann::json::parse(ReadBytes(report_)); }

  TempDir snapshots_, files_;
  std::string report_ = files_.File("report.json");
};

// ---- strategy schema: every eligible table streams, and the target is prod plus the people ----------

TEST_F(TableStreams, SchemaStrategyStreamsEveryEligibleTableAndTheTargetIsProdPlusEveryPreprodPerson) {
  ScopedDatabase original(Cluster::kPreprod, "ts_original");  // an untouched copy of preprod to compare with

  auto r = RunRefresh();

  ASSERT_EQ(r.exit_code, 0) << r.all();
  const auto doc = Report();
  EXPECT_EQ(doc["exit_code"], 0);
  EXPECT_EQ(StreamedTables(doc), kTestdataStreamed) << ReportStep(doc, "restore").dump();
  for (const auto& s : doc["steps"]) EXPECT_EQ(s["status"], "ok") << s.dump();
  EXPECT_TRUE(Contains(r.err, "restore: the preserved tables first")) << "the phased restore ran:\n" << r.err;
  for (const auto& table : kTestdataStreamed) {
    EXPECT_TRUE(LogsStreamed(r.err, table)) << "the log tells " << table << ":\n" << r.err;
  }
  ExpectTargetIsProdBesidesThePreservedTables(prod().url(), preprod().url());
  ExpectProdRowsAndEveryPreprodPerson(prod().url(), original.url(), preprod().url());
  EXPECT_EQ(RefreshMark(Cluster::kPreprod, preprod().name()), "") << "the mark is cleared";
}

// ---- odd names and hostile values ---------------------------------------------------------------------

// Tables whose names and columns hold a double quote, a space, a star, a question mark, a dot and
// Unicode, in a schema so named too; a generated column, an identity, a dropped column; an inheritance
// child whose column order differs from its parent's once restored; a table with no columns; values
// that COPY's text format escapes (quotes, backslashes, tabs, newlines, "\N" as text, "\." , NULL,
// Unicode, control characters); and, left to the dump, a table with row-level security and an unlogged
// one, each with a foreign key to a streamed table.
const char* const kOddTables = R"SQL(
CREATE SCHEMA "odd ""schema"" *.ü";
CREATE TABLE "odd ""schema"" *.ü"."parent *?" (id int PRIMARY KEY, "naïve ""name""" text NOT NULL);
INSERT INTO "odd ""schema"" *.ü"."parent *?" VALUES (1, 'one'), (2, E'two\ttabbed'), (3, E'\\N');

CREATE TABLE public."wëird ""table"" *?.x" (
  "id col" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  "quote""d col" text,
  "to drop" int,
  "star * col" text,
  "ünï ✓ 列" text,
  "parent id" int REFERENCES "odd ""schema"" *.ü"."parent *?" (id),
  amount numeric,
  "doubled ""amount""" numeric GENERATED ALWAYS AS (amount * 2) STORED,
  payload jsonb, tags text[], raw bytea, at timestamptz, f float8, during interval);
ALTER TABLE public."wëird ""table"" *?.x" DROP COLUMN "to drop";
CREATE INDEX "wëird ""idx"" *" ON public."wëird ""table"" *?.x" ("star * col", "ünï ✓ 列");
INSERT INTO public."wëird ""table"" *?.x"
  ("quote""d col", "star * col", "ünï ✓ 列", "parent id", amount, payload, tags, raw, at, f, during) VALUES
  (E'it''s a "quote"', E'back\\slash \\ and \\\\ two', E'tab\there', 1, 1.5, '{"k": "v \"q\" \u00e9 \\\\"}',
   ARRAY['a,b', 'c"d', NULL, E'e\\f', 'NULL', ''], '\x00ff5c0a0d'::bytea, '2024-02-29 23:59:59.999999+05:30', 0.1,
   '1 year 2 mons -3 days 04:05:06.789'),
  (E'\\N', 'N', E'new\nline\r\ncrlf', 2, -0.0, '[]', '{}', '', 'infinity', 'NaN', '-177999999 years'),
  (NULL, E'\\.', '😀 ünï 列 ✓ ', NULL, NULL, NULL, NULL, NULL, NULL, '-Infinity', NULL),
  ('', E'ends with a backslash\\', E'\\\\N', 1, 12345678901234567890.123456789, 'null', ARRAY[]::text[], '\x'::bytea,
   '-infinity', 1e-310, '0'),
  (E'\\t is not a tab', E'\u0001 control \u007f', E'zero\u200Bwidth', 3, 'NaN', '"str"', ARRAY[E'\n'], '\x5c4e'::bytea,
   '1999-12-31 23:59:59+00', 1.7976931348623157e308, '-1 days +02:03:04'),
  (E'.\n\\.\n', E'\t', E'\r', 2, 0, '{"a": [1, 2.50, null, "\\u0000"]}', ARRAY['{', '}'], '\x5c2e0a'::bytea,
   '0001-01-01 00:00:00+00 BC', -1.5e-7, '00:00:00.000001');
INSERT INTO public."wëird ""table"" *?.x" ("quote""d col", "star * col", "ünï ✓ 列", "parent id", amount, f)
  SELECT E'row\t' || g, E'\\' || g, repeat('ü', g % 7), 1 + g % 3, g / 7.0, g * 0.1 FROM generate_series(1, 3000) g;

CREATE TABLE public."inh parent" (id int, label text);
CREATE TABLE public."inh child" ("child only" text) INHERITS (public."inh parent");
ALTER TABLE public."inh parent" ADD COLUMN "added later" text;
INSERT INTO public."inh parent" (id, label, "added later") VALUES (1, 'parent row', 'P-later');
INSERT INTO public."inh child" (id, label, "child only", "added later")
  VALUES (2, E'child\trow', 'C-only', 'C-later'), (3, E'\\N', NULL, E'x\ny'), (4, NULL, E'\\', '');

CREATE TABLE public."no columns" ();
INSERT INTO public."no columns" DEFAULT VALUES;
INSERT INTO public."no columns" DEFAULT VALUES;

CREATE TABLE public.guarded_notes (id int PRIMARY KEY, weird_id bigint REFERENCES public."wëird ""table"" *?.x" ("id col"),
                                   body text);
ALTER TABLE public.guarded_notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY nobody ON public.guarded_notes USING (false);
INSERT INTO public.guarded_notes SELECT g, g, E'guarded\t' || g FROM generate_series(1, 50) g;
CREATE UNLOGGED TABLE public.scratch_cache (k text PRIMARY KEY, parent int REFERENCES "odd ""schema"" *.ü"."parent *?" (id));
INSERT INTO public.scratch_cache VALUES ('a', 1), (E'b\\N', 3);
)SQL";

const std::set<std::string> kOddStreamed = {"public.wëird \"table\" *?.x", "odd \"schema\" *.ü.parent *?",
                                            "public.inh parent", "public.inh child"};

std::string ColumnOrder(const std::string& url, const std::string& quoted_table) {
  return Scalar(url, "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = '" + quoted_table +
                         "'::regclass AND attnum > 0 AND NOT attisdropped");
}

TEST_F(TableStreams, OddNamesAndHostileValuesArriveIdentical) {
  Query(prod().url(), kOddTables);
  ScopedDatabase original(Cluster::kPreprod, "ts_original");

  auto r = RunRefresh();

  ASSERT_EQ(r.exit_code, 0) << r.all();
  const auto streamed = StreamedTables(Report());
  for (const auto& t : kOddStreamed) EXPECT_TRUE(streamed.count(t)) << t << " not streamed: " << ::testing::PrintToString(streamed);
  for (const auto& t : kTestdataStreamed) EXPECT_TRUE(streamed.count(t)) << t;
  EXPECT_FALSE(streamed.count("public.guarded_notes")) << "row-level security: COPY could not read it whole";
  EXPECT_FALSE(streamed.count("public.scratch_cache")) << "unlogged";
  EXPECT_FALSE(streamed.count("public.no columns")) << "nothing to copy";
  // The premise of the inheritance case: the restored child's columns are in another order than prod's.
  EXPECT_NE(ColumnOrder(prod().url(), "public.\"inh child\""), ColumnOrder(preprod().url(), "public.\"inh child\""));

  ExpectTargetIsProdBesidesThePreservedTables(prod().url(), preprod().url());
  ExpectProdRowsAndEveryPreprodPerson(prod().url(), original.url(), preprod().url());
  // A few values by hand, so that a digest mistake on both sides could not hide a loss.
  const std::string weird = "public.\"wëird \"\"table\"\" *?.x\"";
  EXPECT_EQ(Count(preprod().url(), "SELECT count(*) FROM " + weird + " WHERE \"quote\"\"d col\" = E'\\\\N'"), 1)
      << "\\N as text is not NULL";
  EXPECT_EQ(Count(preprod().url(), "SELECT count(*) FROM " + weird + " WHERE \"quote\"\"d col\" IS NULL"), 1);
  EXPECT_EQ(Scalar(preprod().url(), "SELECT \"ünï ✓ 列\" FROM " + weird + " WHERE \"star * col\" = E'\\\\.'"), "😀 ünï 列 ✓ ");
  EXPECT_EQ(Scalar(preprod().url(), "SELECT \"doubled \"\"amount\"\"\"::text FROM " + weird + " WHERE amount = 1.5"), "3.0")
      << "the generated column is computed in the target";
  EXPECT_EQ(Scalar(preprod().url(), "SELECT \"child only\" || '|' || \"added later\" FROM ONLY public.\"inh child\" WHERE id = 2"),
            "C-only|C-later");
  EXPECT_EQ(Count(preprod().url(), "SELECT count(*) FROM public.\"no columns\""), 2);
  // The identity goes on from prod's value.
  EXPECT_EQ(Scalar(preprod().url(), "INSERT INTO " + weird + " (amount) VALUES (1) RETURNING \"id col\""),
            Scalar(prod().url(), "INSERT INTO " + weird + " (amount) VALUES (1) RETURNING \"id col\""));
}

// ---- the other strategies and stream_min_table_mb -1 ------------------------------------------------

TEST_F(TableStreams, SwapStrategyStreamsIntoTheNewDatabase) {
  ScopedDatabase original(Cluster::kPreprod, "ts_original");

  auto r = RunRefresh({"--strategy", "swap"});

  const std::string postgres = TestBed::Get().SuperUrl(Cluster::kPreprod, "postgres");
  const std::string old_db =
      Scalar(postgres, "SELECT datname FROM pg_database WHERE datname LIKE '" + preprod().name() + "\\_before\\_%'");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  const auto doc = Report();
  EXPECT_EQ(StreamedTables(doc), kTestdataStreamed) << ReportStep(doc, "restore").dump();
  EXPECT_NE(ReportStep(doc, "restore")["counts"]["database"], preprod().name()) << "restored into the new database";
  ExpectTargetIsProdBesidesThePreservedTables(prod().url(), preprod().url());
  ExpectProdRowsAndEveryPreprodPerson(prod().url(), original.url(), preprod().url());
  ASSERT_FALSE(old_db.empty());
  EXPECT_EQ(Count(TestBed::Get().Url(Cluster::kPreprod, old_db), "SELECT count(*) FROM users"),
            Expected()["preprod"]["users"].get<long long>())
      << "the old database is kept as it was";
  TestBed::Get().DropDatabase(Cluster::kPreprod, old_db);
}

TEST_F(TableStreams, CleanStrategyStreamsNothingAndSucceeds) {
  // Strategy clean is refused while preprod-only objects would block it.
  ASSERT_EQ(PsqlFile(preprod(), std::string(DBREFRESH_SOURCE_DIR) + "/testdata/scenarios/no-blocking-objects.sql").exit_code, 0);

  auto r = RunRefresh({"--strategy", "clean"});

  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_FALSE(HasStreamedTables(Report())) << ReportStep(Report(), "restore").dump();
  EXPECT_FALSE(Contains(r.err, "streamed table")) << r.err;
  EXPECT_EQ(CountUserTables(preprod().url()), AfterCorrectRefresh());
  const auto prod_rows = RowsDigests(prod().url(), DefaultPreservedTables());
  for (const auto& table : kTestdataStreamed) {
    EXPECT_EQ(RowsDigests(preprod().url(), DefaultPreservedTables())[table], prod_rows.at(table)) << table;
  }
}

// What turns streaming off: stream_min_table_mb -1, and pg_dump_args (the dump's contents are then the
// user's to choose). The refresh still succeeds, with every table through the dump.
struct StreamsOff {
  const char* name;
  int mb;
  nlohmann::json config;
};

void PrintTo(const StreamsOff& off, std::ostream* os) { *os << off.name; }

class TableStreamsOff : public TableStreams, public ::testing::WithParamInterface<StreamsOff> {};

TEST_P(TableStreamsOff, NothingStreamsAndTheRefreshSucceeds) {
  ScopedDatabase original(Cluster::kPreprod, "ts_original");

  auto r = RunRefresh({}, GetParam().mb, GetParam().config);

  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_FALSE(HasStreamedTables(Report())) << ReportStep(Report(), "restore").dump();
  EXPECT_FALSE(Contains(r.err, "streamed table")) << r.err;
  EXPECT_FALSE(Contains(r.err, "--snapshot=")) << "pg_dump takes no exported snapshot";
  ExpectTargetIsProdBesidesThePreservedTables(prod().url(), preprod().url());
  ExpectProdRowsAndEveryPreprodPerson(prod().url(), original.url(), preprod().url());
}

INSTANTIATE_TEST_SUITE_P(
    Switches, TableStreamsOff,
    ::testing::Values(StreamsOff{"MinusOne", -1, nlohmann::json::object()},
                      StreamsOff{"PgDumpArgs", 0, {{"pg_dump_args", {"--no-comments"}}}}),
    [](const ::testing::TestParamInfo<StreamsOff>& info) { return std::string(info.param.name); });

// ---- the restore without phases, and partitions -------------------------------------------------------

TEST_F(TableStreams, APreservedTableWithATriggerRestoresTheWholeDumpWithTheStreamsThenRestoreUsers) {
  // What a trigger writes could be a table still restoring: no phases (SectionPhases), the streams still run.
  Query(prod().url(), kUsersTouchTrigger);
  ScopedDatabase original(Cluster::kPreprod, "ts_original");

  auto r = RunRefresh();

  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(Contains(r.err, "restore: the whole dump with the streamed tables, then restore-users")) << r.err;
  EXPECT_EQ(StreamedTables(Report()), kTestdataStreamed);
  ExpectTargetIsProdBesidesThePreservedTables(prod().url(), preprod().url());
  ExpectProdRowsAndEveryPreprodPerson(prod().url(), original.url(), preprod().url());
}

// A partitioned table whose partitions stream (they are ordinary tables; the parent has no data of
// its own), 40 rows that say "as in prod". Two larger tables keep both streams busy meanwhile, so that
// the rest of the dump is restored before the partitions start.
const char* const kPartitionedReadings = R"SQL(
  CREATE TABLE public.filler_a (id bigint PRIMARY KEY, body text);
  CREATE TABLE public.filler_b (id bigint PRIMARY KEY, body text);
  INSERT INTO public.filler_a SELECT g, md5(g::text) FROM generate_series(1, 300000) g;
  INSERT INTO public.filler_b SELECT g, md5(g::text) FROM generate_series(1, 300000) g;
  CREATE TABLE public.readings (id bigint, at date, v text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
  CREATE TABLE public.readings_2024 PARTITION OF public.readings FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
  CREATE TABLE public.readings_2025 PARTITION OF public.readings FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
  INSERT INTO public.readings SELECT g, date '2024-01-01' + g % 700, 'as in prod ' || g FROM generate_series(1, 40) g;
  CREATE INDEX readings_v_idx ON public.readings (v);
)SQL";

TEST_F(TableStreams, ATriggerOnAPartitionedTableDoesNotFireOnTheRowsStreamedIntoItsPartitions) {
  // A row trigger on the parent is cloned onto every partition when it is made: made while a partition
  // streams, it would rewrite prod's rows on their way in.
  Query(prod().url(), std::string(kPartitionedReadings) + R"SQL(
    CREATE FUNCTION public.rewrite_reading() RETURNS trigger LANGUAGE plpgsql AS
      $$ BEGIN NEW.v := 'rewritten by the trigger'; RETURN NEW; END $$;
    CREATE TRIGGER readings_rewrite BEFORE INSERT ON public.readings FOR EACH ROW EXECUTE FUNCTION public.rewrite_reading();
  )SQL");
  ScopedDatabase original(Cluster::kPreprod, "ts_original");

  auto r = RunRefresh();

  ASSERT_EQ(r.exit_code, 0) << r.all();
  const auto streamed = StreamedTables(Report());
  EXPECT_TRUE(streamed.count("public.readings_2024") && streamed.count("public.readings_2025"))
      << ::testing::PrintToString(streamed);
  EXPECT_EQ(Count(preprod().url(), "SELECT count(*) FROM public.readings WHERE v LIKE 'as in prod%'"), 40)
      << "the trigger fired on the streamed rows";
  ExpectTargetIsProdBesidesThePreservedTables(prod().url(), preprod().url());
  ExpectProdRowsAndEveryPreprodPerson(prod().url(), original.url(), preprod().url());
}

// A key to a partitioned table can be added only once every partition's index is attached to the
// parent's unique index: pg_restore lists those attachments (INDEX ATTACH) without a table. With or
// without streams (the phased restore placed the key before them either way), the refresh succeeds.
class TableStreamsPartitionKey : public TableStreams, public ::testing::WithParamInterface<int> {};

TEST_P(TableStreamsPartitionKey, AKeyFromATableLeftToTheDumpToAPartitionedTableIsRestored) {
  Query(prod().url(), std::string(kPartitionedReadings) + R"SQL(
    CREATE UNLOGGED TABLE public.reading_flags (id int PRIMARY KEY, reading_id bigint, reading_at date,
                                               FOREIGN KEY (reading_id, reading_at) REFERENCES public.readings);
    INSERT INTO public.reading_flags SELECT g, g, date '2024-01-01' + g % 700 FROM generate_series(1, 40) g;
  )SQL");
  ScopedDatabase original(Cluster::kPreprod, "ts_original");

  auto r = RunRefresh({}, GetParam());

  ASSERT_EQ(r.exit_code, 0) << r.all();
  const auto streamed = StreamedTables(Report());
  EXPECT_EQ(streamed.count("public.readings_2024") == 1, GetParam() == 0) << ::testing::PrintToString(streamed);
  EXPECT_FALSE(streamed.count("public.reading_flags")) << "unlogged: left to the dump";
  EXPECT_EQ(Scalar(preprod().url(), "SELECT convalidated::text FROM pg_constraint WHERE conrelid = 'reading_flags'::regclass "
                                    "AND contype = 'f' AND conparentid = 0"), "true");
  ExpectTargetIsProdBesidesThePreservedTables(prod().url(), preprod().url());
  ExpectProdRowsAndEveryPreprodPerson(prod().url(), original.url(), preprod().url());
}

INSTANTIATE_TEST_SUITE_P(StreamMinTableMb, TableStreamsPartitionKey, ::testing::Values(0, -1),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return info.param == 0 ? std::string("EveryTableStreams") : std::string("NothingStreams");
                         });

// ---- one state of prod -----------------------------------------------------------------------------

TEST_F(TableStreams, ProdWritingDuringTheRefreshStillGivesOneStateOfProd) {
  // Orders are left to the dump (row-level security), their lines stream; prod commits an order with
  // its line every few milliseconds for the whole run. The dump and the streams read one snapshot: every
  // streamed line's order is in the dump (else the key fails), and every order's line is streamed.
  Query(prod().url(), "CREATE TABLE public.orders (id bigint PRIMARY KEY);"
                      "ALTER TABLE public.orders ENABLE ROW LEVEL SECURITY;"
                      "CREATE TABLE public.order_lines (id bigint PRIMARY KEY, order_id bigint NOT NULL REFERENCES public.orders);");
  std::atomic<bool> stop{false};
  std::atomic<long long> committed{0};
  std::thread writer([&] {
    pqxx::connection conn(prod().url());
    for (long long n = 1; !stop; ++n) {
      pqxx::work tx(conn);
      tx.exec("INSERT INTO public.orders VALUES (" + std::to_string(n) + ");"
              "INSERT INTO public.order_lines VALUES (" + std::to_string(n) + ", " + std::to_string(n) + ")");
      tx.commit();
      ++committed;
      std::this_thread::sleep_for(milliseconds(5));  // paces the load on prod; synchronises nothing
    }
  });
  ASSERT_TRUE(WaitUntil([&] { return committed >= 20; }, seconds(30)));

  auto r = RunRefresh();
  stop = true;
  writer.join();

  ASSERT_EQ(r.exit_code, 0) << r.all();
  const auto streamed = StreamedTables(Report());
  EXPECT_TRUE(streamed.count("public.order_lines") && !streamed.count("public.orders")) << ::testing::PrintToString(streamed);
  const long long orders = Count(preprod().url(), "SELECT count(*) FROM public.orders");
  EXPECT_GE(orders, 20);
  EXPECT_EQ(Count(preprod().url(), "SELECT count(*) FROM public.order_lines"), orders) << "the streams read another state";
  EXPECT_LT(orders, Count(prod().url(), "SELECT count(*) FROM public.orders")) << "prod wrote after the snapshot";
  EXPECT_EQ(Scalar(preprod().url(), "SELECT convalidated::text FROM pg_constraint WHERE conname = 'order_lines_order_id_fkey'"),
            "true");
}

// ---- a stream that dies mid-copy ----------------------------------------------------------------------

enum class Side { kTarget, kSource };
void PrintTo(Side side, std::ostream* os) { *os << (side == Side::kTarget ? "target" : "source"); }

class TableStreamsKill : public TableStreams, public ::testing::WithParamInterface<Side> {
 protected:
  // What a run whose stream lost its backend says: exit 3, an error line naming the table, no password.
  void ExpectALostConnectionNamingTheTable(int code, const std::string& err, const std::string& last) const {
    ::testing::Test::RecordProperty("exit_code", code);
    ::testing::Test::RecordProperty("last_line", last);
    ExpectNoPassword(err, "the failed run's log");
    EXPECT_EQ(code, 3) << "a lost connection is exit 3 (SPEC section 6):\n" << err;
    EXPECT_EQ(last.rfind("error:", 0), 0u) << err;
    EXPECT_TRUE(Contains(last, "big_events")) << "names the table: " << last;
  }
};

// 3,000,000 narrow rows: long enough a COPY to be caught in the middle.
constexpr long long kBigRows = 3000000;

void AddBigTable(const std::string& url) {
  Query(url, "CREATE TABLE public.big_events (id bigint PRIMARY KEY, n int NOT NULL);"
             "INSERT INTO public.big_events SELECT g, g % 1000 FROM generate_series(1, " + std::to_string(kBigRows) + ") g");
}

// Waits (bounded) until the stream of big_events has moved rows (pg_stat_progress_copy) out of database
// `source_db` or into `target_db`, as `side` says, then ends that session as an administrator would.
void EndTheBigStreamMidCopy(BackgroundProcess& run, Side side, const std::string& source_db, const std::string& target_db) {
  const bool target_side = side == Side::kTarget;
  const std::string super = TestBed::Get().SuperUrl(target_side ? Cluster::kPreprod : Cluster::kProd, "postgres");
  const std::string where = target_side ? "a.datname = '" + target_db + "' AND a.query LIKE "
                                          "'COPY \"public\".\"big_events\" (%) FROM STDIN WITH (FREEZE)%'"
                                        : "a.datname = '" + source_db + "' AND a.query LIKE "
                                          "'COPY \"public\".\"big_events\" (%) TO STDOUT%'";
  std::string pid;
  const bool caught = WaitUntil([&] {
    pid = Scalar(super, "SELECT a.pid FROM pg_stat_activity a JOIN pg_stat_progress_copy p ON p.pid = a.pid "
                        "WHERE a.state = 'active' AND p.tuples_processed > 0 AND " + where);
    return !pid.empty() || run.Exited();
  }, seconds(180));
  ASSERT_TRUE(caught && !pid.empty()) << "the stream of big_events was never seen copying (make the table larger?):\n"
                                      << run.Err();
  ASSERT_EQ(Scalar(super, "SELECT pg_terminate_backend(" + pid + ")"), "t");
}

TEST_P(TableStreamsKill, ABackendEndedMidCopyFailsNamingTheTableAndTheSameCommandCompletesTheRefresh) {
  AddBigTable(prod().url());
  ScopedDatabase original(Cluster::kPreprod, "ts_original");
  const auto args = RefreshArgs();

  BackgroundProcess run(args, Connections());
  ASSERT_NO_FATAL_FAILURE(EndTheBigStreamMidCopy(run, GetParam(), prod().name(), preprod().name()));
  const int code = run.Wait(seconds(240));
  const std::string err = run.Err(), last = LastLine(err);

  ExpectALostConnectionNamingTheTable(code, err, last);
  EXPECT_TRUE(Contains(last, "dbrefresh refresh")) << "says which command resumes: " << last;
  EXPECT_EQ(Count(TestBed::Get().SuperUrl(Cluster::kPreprod, preprod().name()), "SELECT count(*) FROM dbrefresh.refresh_mark"), 1)
      << "the target is marked as being refreshed";
  const auto failed_report = Report();
  EXPECT_EQ(failed_report["exit_code"], 3);
  const std::string killed_runs_snapshot = failed_report["paths"]["snapshot"].get<std::string>();
  const std::string target_super = TestBed::Get().SuperUrl(Cluster::kPreprod, "postgres");
  EXPECT_TRUE(WaitUntil([&] { return DbrefreshSessions(target_super, preprod().name()) == 0; }, seconds(10)))
      << "a session of the failed run is left on the target";

  // Next Monday's job: the same command.
  auto again = RunProgram(args, Connections());

  ASSERT_EQ(again.exit_code, 0) << again.all();
  const auto doc = Report();
  ASSERT_FALSE(doc["resumed_from"].is_null()) << doc.dump();
  EXPECT_EQ(doc["resumed_from"]["path"], killed_runs_snapshot) << "resumed from the failed run's snapshot";
  EXPECT_TRUE(StreamedTables(doc).count("public.big_events")) << ReportStep(doc, "restore").dump();
  EXPECT_EQ(RefreshMark(Cluster::kPreprod, preprod().name()), "") << "the mark is cleared";
  EXPECT_EQ(Count(preprod().url(), "SELECT count(*) FROM public.big_events"), kBigRows);
  ExpectTargetIsProdBesidesThePreservedTables(prod().url(), preprod().url());
  ExpectProdRowsAndEveryPreprodPerson(prod().url(), original.url(), preprod().url());
}

TEST_P(TableStreamsKill, UnderSwapAStreamEndedMidCopyLeavesTheTargetAsItWasAndTheSameCommandCompletesTheRefresh) {
  // Swap streams into the new database: a failed stream drops it, and the target was never touched.
  AddBigTable(prod().url());
  ScopedDatabase original(Cluster::kPreprod, "ts_original");
  const std::string before = UserTablesDigest(preprod().url());
  const auto objects = ObjectNames(preprod().url());
  const std::string fresh = preprod().name() + "_dbrefresh_new";
  const auto args = RefreshArgs({"--strategy", "swap"});

  BackgroundProcess run(args, Connections());
  ASSERT_NO_FATAL_FAILURE(EndTheBigStreamMidCopy(run, GetParam(), prod().name(), fresh));
  const int code = run.Wait(seconds(240));
  const std::string err = run.Err(), last = LastLine(err);

  ExpectALostConnectionNamingTheTable(code, err, last);
  EXPECT_TRUE(Contains(last, "The target is unchanged")) << last;
  EXPECT_EQ(UserTablesDigest(preprod().url()), before);
  EXPECT_EQ(ObjectNames(preprod().url()), objects);
  EXPECT_EQ(RefreshMark(Cluster::kPreprod, preprod().name()), "") << "a run that left the target as it was takes its mark back";
  const std::string postgres = TestBed::Get().SuperUrl(Cluster::kPreprod, "postgres");
  EXPECT_EQ(Count(postgres, "SELECT count(*) FROM pg_database WHERE datname = '" + fresh + "'"), 0) << "the new database is dropped";

  auto again = RunProgram(args, Connections());

  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_TRUE(StreamedTables(Report()).count("public.big_events"));
  EXPECT_EQ(Count(preprod().url(), "SELECT count(*) FROM public.big_events"), kBigRows);
  ExpectTargetIsProdBesidesThePreservedTables(prod().url(), preprod().url());
  ExpectProdRowsAndEveryPreprodPerson(prod().url(), original.url(), preprod().url());
  const std::string old_db =
      Scalar(postgres, "SELECT datname FROM pg_database WHERE datname LIKE '" + preprod().name() + "\\_before\\_%'");
  if (!old_db.empty()) TestBed::Get().DropDatabase(Cluster::kPreprod, old_db);
}

// Preprod is live while the job runs: once the schema is back, its application may read a table that
// has not streamed yet, in a transaction it keeps open. The stream empties the table first (TRUNCATE, for
// COPY FREEZE), which waits for that reader: for --lock-timeout, not for as long as the reader likes.
TEST_F(TableStreams, APreprodSessionReadingATableNotYetStreamedHoldsTheRefreshUpOnlyForTheLockTimeout) {
  AddBigTable(prod().url());
  const auto args = RefreshArgs({"--lock-timeout", "2"}, 0, {{"jobs", 1}});  // one stream: big_events, then the rest

  BackgroundProcess run(args, Connections());
  const std::string super = TestBed::Get().SuperUrl(Cluster::kPreprod, "postgres");
  ASSERT_TRUE(WaitUntil([&] {
    return Count(super, "SELECT count(*) FROM pg_stat_activity WHERE datname = '" + preprod().name() +
                            "' AND query LIKE 'COPY \"public\".\"big_events\" (%) FROM STDIN%'") > 0 || run.Exited();
  }, seconds(180))) << run.Err();
  ASSERT_FALSE(run.Exited()) << run.Err();
  pqxx::connection application(preprod().url());
  pqxx::work reading(application);
  reading.exec("SELECT count(*) FROM public.notes");  // ACCESS SHARE on notes until the transaction ends
  const bool ended_while_held = WaitUntil([&] { return run.Exited(); }, seconds(120));
  reading.abort();
  const int code = run.Wait(seconds(240));
  const std::string err = run.Err(), last = LastLine(err);

  RecordProperty("exit_code", code);
  RecordProperty("last_line", last);
  EXPECT_TRUE(ended_while_held) << "the refresh waited for preprod's reader beyond --lock-timeout 2:\n" << err;
  EXPECT_EQ(code, 1) << err;
  EXPECT_EQ(last.rfind("error:", 0), 0u) << err;
  EXPECT_TRUE(Contains(last, "notes")) << "names the table: " << last;
  EXPECT_TRUE(Contains(last, "another session on the target held the table for 2 s")) << "names the side: " << last;
  EXPECT_TRUE(Contains(last, "--terminate-connections")) << "says what to do: " << last;
  EXPECT_EQ(Count(TestBed::Get().SuperUrl(Cluster::kPreprod, preprod().name()), "SELECT count(*) FROM dbrefresh.refresh_mark"), 1);

  auto again = RunProgram(args, Connections());
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_EQ(Count(preprod().url(), "SELECT count(*) FROM public.big_events"), kBigRows);
  ExpectTargetIsProdBesidesThePreservedTables(prod().url(), preprod().url());
}

INSTANTIATE_TEST_SUITE_P(Sides, TableStreamsKill, ::testing::Values(Side::kTarget, Side::kSource),
                         [](const ::testing::TestParamInfo<Side>& info) {
                           return info.param == Side::kTarget ? "TargetCopyFrom" : "SourceCopyTo";
                         });

}  // namespace
}  // namespace dbrefresh::testing
