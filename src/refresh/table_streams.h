// The largest tables' data, streamed from the source straight into the target (issue 15).
//
// A table's data that goes through the dump is written to disk by pg_dump and read back by
// pg_restore, and the target cannot be cleared before the whole dump is done. The large tables
// outside the preserved set are instead left out of the dump's data (--exclude-table-data) and
// copied by `COPY ... TO STDOUT` on the source into `COPY ... FROM STDIN` on the target, once the
// target has the schema: the source is read while the target is written.
//
// Every reader of the source shares one snapshot: a REPEATABLE READ transaction exports it
// (pg_export_snapshot), pg_dump takes it with --snapshot, and each stream's session imports it,
// so the schema, the dumped data and the streamed data are the same state of prod. The exporting
// transaction also holds ACCESS SHARE on the streamed tables until every stream holds it, so prod
// cannot drop or rewrite one in between.
//
// The trade: the target is cleared before the streamed tables have been read. A source that fails
// mid-stream leaves the target incomplete and marked; the same command then resumes from the
// snapshot (strategy swap streams into the new database, and leaves the target untouched).
#pragma once

#include <atomic>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "connect/connection_spec.h"
#include "connect/pg_session.h"

namespace dbrefresh {

struct StreamedTable {
  unsigned long oid = 0;             // in the source
  std::string schema, name;
  long long bytes = 0;               // pg_table_size in the source when chosen
  std::vector<std::string> columns;  // stored (not generated) columns, by name, quoted

  std::string Qualified() const;     // "schema"."name"
  std::string DumpPattern() const;   // the same, as a pg_dump pattern (quotes make * and ? literal)
};

// The source's exported snapshot, held open until every stream has imported it.
class SourceSnapshot {
 public:
  // Opens a read-only session on the source, begins REPEATABLE READ and exports the snapshot.
  explicit SourceSnapshot(const ConnectionSpec& source);
  ~SourceSnapshot();
  SourceSnapshot(const SourceSnapshot&) = delete;
  SourceSnapshot& operator=(const SourceSnapshot&) = delete;

  const std::string& id() const { return id_; }

  // The tables worth streaming, in this snapshot: ordinary tables of `schemas` of at least
  // config.stream_min_table_mb, outside the preserved set of config (restore_phases.h), not an
  // extension's, without row-level security. Locks them (ACCESS SHARE) until Release.
  std::vector<StreamedTable> ChooseTables(const Config& config, const std::vector<std::string>& schemas);

  // Ends the exporting transaction (the importers keep the snapshot). Idempotent.
  void Release();

 private:
  PgSession session_;
  std::unique_ptr<pqxx::dbtransaction> tx_;
  std::string id_;
};

// Streams `tables` on `jobs` threads, each with a source session that imported `snapshot_id` and a
// target session; the biggest tables first. Starts on construction.
class TableStreams {
 public:
  TableStreams(const ConnectionSpec& source, const ConnectionSpec& target, std::string snapshot_id,
               std::vector<StreamedTable> tables, int jobs, int lock_timeout_seconds);
  // Abandoned before Wait: the streams stop at their next row, and their transactions roll back.
  ~TableStreams();
  TableStreams(const TableStreams&) = delete;
  TableStreams& operator=(const TableStreams&) = delete;

  // Returns once every stream's source session holds the snapshot and its locks (the exporter
  // may then let go), or one of them failed (Wait says which).
  void WaitUntilImported();

  // Waits for every table; rethrows the first failure. Once only.
  void Wait();

 private:
  void Work();
  void StreamOne(pqxx::dbtransaction& source_tx, const StreamedTable& table);

  const ConnectionSpec& source_;
  const ConnectionSpec& target_;
  std::string snapshot_id_;
  std::vector<StreamedTable> tables_;
  int lock_timeout_seconds_;
  std::mutex mutex_;
  std::condition_variable imported_cv_;
  size_t next_ = 0;            // the next table to take, under mutex_
  int imported_ = 0;           // sessions holding the snapshot, under mutex_
  int workers_ = 0;
  std::exception_ptr failure_; // the first, under mutex_
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

}  // namespace dbrefresh
