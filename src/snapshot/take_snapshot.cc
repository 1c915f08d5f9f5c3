// The snapshot step: COPY out of PostgreSQL, straight into the SQLite snapshot file.
#include "snapshot/take_snapshot.h"

#include <algorithm>
#include <cstring>
#include <future>
#include <mutex>
#include <random>
#include <string_view>
#include <thread>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "catalog/catalog.h"
#include "common/error.h"
#include "common/log.h"
#include "common/session_settings.h"
#include "common/sql_text.h"
#include "connect/pg_session.h"
#include "snapshot/copy_text.h"
#include "snapshot/line_pipe.h"
#include "snapshot/snapshot_file.h"

namespace dbrefresh {
namespace {

using SnapshotTransaction = pqxx::transaction<pqxx::isolation_level::repeatable_read, pqxx::readwrite_policy::read_only>;

// The text settings this transaction reads rows under (OpenSession pinned them; a pooler could
// still have handed the transaction another backend), in PinnedSessionSettings() order. Refuses to
// go on when they are not the pinned ones, or when row security is on.
std::vector<std::string> CheckSessionSettings(pqxx::transaction_base& tx) {
  std::string query = "SELECT current_setting('row_security')";
  for (const auto& s : PinnedSessionSettings()) query += ", current_setting('" + s.name + "')";
  const auto row = tx.exec(query)[0];
  if (row[0].as<std::string>() != "off") throw Failure("the snapshot's session has row_security on: refusing to read");
  std::vector<std::string> values;
  for (size_t i = 0; i < PinnedSessionSettings().size(); ++i) {
    const auto& s = PinnedSessionSettings()[i];
    const std::string now = row[static_cast<int>(i + 1)].as<std::string>();
    if (now != s.value) {
      throw Failure("the snapshot's session has " + s.name + " = " + now + ", not " + s.value +
                    " (a connection pooler dropping SET?): refusing to read values under it");
    }
    values.push_back(now);
  }
  return values;
}

// Records the settings the rows are read under, so that a reader knows how to read them back.
void WriteSessionSettings(SnapshotWriter& writer, pqxx::transaction_base& tx) {
  const std::vector<std::string> values = CheckSessionSettings(tx);
  for (size_t i = 0; i < values.size(); ++i) writer.SetMeta(PinnedSessionSettings()[i].meta_key, values[i]);
}

void WriteSourceMeta(SnapshotWriter& writer, pqxx::transaction_base& tx, pqxx::connection& conn,
                     const Config& config, SnapshotSummary& summary) {
  // The host libpq really used (PGHOST, service files, ...), not only what the conninfo said.
  const char* host = conn.hostname();
  auto server = tx.exec("SELECT current_database(), current_user, current_setting('server_version'), "
                        "coalesce(inet_server_port()::text, current_setting('port'))")[0];
  writer.SetMeta("dbrefresh_version", DBREFRESH_VERSION);
  writer.SetMeta("created_at", log::UtcNow());
  writer.SetMeta("source_host", host && *host ? (*host == '/' ? "local socket " + std::string(host) : host) : "local socket");
  writer.SetMeta("source_port", server[3].as<std::string>());
  writer.SetMeta("source_database", server[0].as<std::string>());
  writer.SetMeta("source_user", server[1].as<std::string>());
  writer.SetMeta("server_version", server[2].as<std::string>());
  writer.SetMeta("schema", config.schema);
  writer.SetMeta("migration_table", config.migration_table);
  auto migrations = catalog::ReadMigrations(tx, config.schema, config.migration_table);
  summary.flyway_version = migrations.empty() ? "" : migrations.back().version;
  writer.SetMeta("flyway_version", summary.flyway_version);
  writer.SetMeta("flyway_script", migrations.empty() ? "" : migrations.back().script);
  writer.SetMeta("flyway_migration_count", std::to_string(migrations.size()));
  nlohmann::json versions = nlohmann::json::array();
  for (const auto& m : migrations) versions.push_back(m.version);
  writer.SetMeta("flyway_versions", versions.dump());
  WriteSessionSettings(writer, tx);
}

// A few hundred kilobytes of one table's COPY lines; `last` ends that table.
struct TableBatch {
  size_t table = 0;
  std::string lines;
  bool last = false;
};
using BatchQueue = BatchPipe<TableBatch>;

// Batch buffers go back from the writer to the readers: a buffer freshly allocated for every
// batch cost the readers a page fault per 4 KB of rows (malloc returns big blocks to the kernel).
class BufferPool {
 public:
  static constexpr size_t kBatchBytes = 256 * 1024;
  std::string Take() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (free_.empty()) {
      std::string fresh;
      fresh.reserve(kBatchBytes + 4096);
      return fresh;
    }
    std::string buffer = std::move(free_.back());
    free_.pop_back();
    return buffer;
  }
  void Give(std::string buffer) {
    buffer.clear();
    std::lock_guard<std::mutex> lock(mutex_);
    free_.push_back(std::move(buffer));
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> free_;  // at most the queue's batches, one per reader and the writer's
};

struct TableRead {
  size_t table;       // the writer's number for it
  std::string query;  // for COPY ... TO STDOUT
};

// The COPY query of a table: every column, generated ones included. COPY refuses generated columns
// in a column list, but a query may read them (the snapshot keeps every column; restore-users never
// writes the generated ones). libpqxx 6.4's stream_from pastes its "table" into COPY ... TO STDOUT
// as given, so a parenthesised query works there.
std::string CopyQuery(const TableInfo& table) {
  std::vector<std::string> names;
  for (const auto& c : table.columns) names.push_back(c.name);
  return "(SELECT " + sql::IdentList(names) + " FROM " + sql::QualifiedName(table.schema, table.name) + ")";
}

// What the readers are told once the main session has exported its snapshot. An empty id: the
// snapshot was given up before it began, and the readers leave.
struct ReaderOrders {
  std::string snapshot_id;
  std::vector<std::vector<TableRead>> reads;  // per reader
};

// The sessions that read the preserved tables, each in a thread of its own, all in the main
// session's snapshot (SET TRANSACTION SNAPSHOT): every reader sees exactly what the others see.
// They connect as soon as they are made, while the main session reads the catalog: a connection
// is tens of milliseconds of SCRAM key derivation, and the snapshot is a second or two.
class SnapshotReaders {
 public:
  SnapshotReaders(const ConnectionSpec& target, int lock_timeout_seconds, size_t count, BatchQueue& queue,
                  BufferPool& buffers)
      : queue_(queue), orders_(promise_.get_future().share()) {
    try {
      for (size_t i = 0; i < count; ++i) {
        threads_.emplace_back([&target, lock_timeout_seconds, i, &queue, &buffers, orders = orders_] {
          ReadTables(target, lock_timeout_seconds, orders, i, queue, buffers);
        });
      }
    } catch (...) {
      Stop();  // the readers started so far leave
      throw;
    }
  }
  // Waits for every reader. Readers never given their orders leave without reading; readers the
  // writer gave up on (it failed) find their next Push refused, and leave.
  ~SnapshotReaders() { Stop(); }
  void Start(ReaderOrders orders) {
    started_ = true;
    promise_.set_value(std::move(orders));
  }

 private:
  void Stop() {
    if (!started_) promise_.set_value(ReaderOrders{});
    started_ = true;
    queue_.Abandon();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  static void ReadTables(const ConnectionSpec& target, int lock_timeout_seconds,
                         std::shared_future<ReaderOrders> orders, size_t reader, BatchQueue& queue,
                         BufferPool& buffers);
  BatchQueue& queue_;
  std::promise<ReaderOrders> promise_;
  std::shared_future<ReaderOrders> orders_;
  bool started_ = false;
  std::vector<std::thread> threads_;
};

// One reader: its tables' COPY lines into the queue, in the exported snapshot.
void SnapshotReaders::ReadTables(const ConnectionSpec& target, int lock_timeout_seconds,
                                 std::shared_future<ReaderOrders> orders, size_t reader, BatchQueue& queue,
                                 BufferPool& buffers) {
  try {
    PgSession session = OpenSession(target, Access::kReadOnly);
    const ReaderOrders& given = orders.get();
    if (given.snapshot_id.empty()) return queue.Close();
    try {
      SnapshotTransaction tx(*session.conn);
      tx.exec("SET TRANSACTION SNAPSHOT " + tx.quote(given.snapshot_id));
      tx.exec("SET LOCAL lock_timeout = '" + std::to_string(lock_timeout_seconds) + "s'");
      CheckSessionSettings(tx);
      for (const auto& read : given.reads.at(reader)) {
        pqxx::stream_from stream(tx, read.query);
        TableBatch batch{read.table, buffers.Take(), false};
        std::string line;
        bool wanted = true;
        while (wanted && stream.get_raw_line(line)) {
          batch.lines += line;
          if (line.empty() || line.back() != '\n') batch.lines += '\n';  // libpqxx 6.4 keeps COPY's line end; be sure
          if (batch.lines.size() >= BufferPool::kBatchBytes) {
            wanted = queue.Push(std::move(batch));
            batch = TableBatch{read.table, buffers.Take(), false};
          }
        }
        if (!wanted) break;
        stream.complete();
        batch.last = true;
        if (!queue.Push(std::move(batch))) break;
      }
      tx.commit();
    } catch (const Error&) {
      throw;
    } catch (const pqxx::sql_error&) {
      throw;  // TakeSnapshot tells a row-security refusal and a lock timeout apart
    } catch (...) {
      RethrowDatabaseError("snapshot of " + session.masked, *session.conn);
    }
    queue.Close();
  } catch (...) {
    queue.Close(std::current_exception());
  }
}

// The preserved tables are read at once, by up to this many sessions sharing the snapshot, while
// this thread writes the file: the server's COPY of one table overlaps SQLite's writing of another.
// Two keep the one writer fed: a third (one per table) was slower at scale 1 on 2 cores, its
// backend only taking CPU from the others (median 1.35 s against 1.26 s over 7 rounds).
constexpr size_t kReaders = 2;

// Shares the tables out among the readers, largest first to the reader with the fewest pages to
// read, so that they end together (users and qualifications against roles, at SPEC's sizes). The
// pages are pg_class's estimate: pg_relation_size would lock the tables in this session, and a
// migration's lock request queued behind that would then hold the readers up, undetected.
std::vector<std::vector<TableRead>> ShareOutTables(pqxx::transaction_base& tx, const std::vector<TableInfo>& tables,
                                                   size_t readers) {
  std::vector<std::pair<long long, size_t>> sizes;  // pages, table
  for (size_t i = 0; i < tables.size(); ++i) {
    const std::string name = sql::QualifiedName(tables[i].schema, tables[i].name);
    sizes.emplace_back(
        tx.exec_params("SELECT greatest(relpages, 0)::bigint FROM pg_class WHERE oid = $1::regclass", name)[0][0].as<long long>(), i);
  }
  std::stable_sort(sizes.begin(), sizes.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::vector<TableRead>> reads(readers);
  std::vector<long long> load(readers, 0);
  for (const auto& [pages, table] : sizes) {
    const size_t reader = static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    load[reader] += pages;
    reads[reader].push_back({table, CopyQuery(tables[table])});
  }
  return reads;
}

// Writes what the readers send, table by table as the rows come; returns the row counts.
std::vector<long long> WriteTableRows(BatchQueue& queue, BufferPool& buffers, const std::vector<TableInfo>& tables,
                                      SnapshotWriter& writer) {
  std::vector<long long> rows(tables.size(), 0);
  TableBatch batch;
  RowValues values;
  while (queue.Pop(batch)) {
    const TableInfo& table = tables[batch.table];
    const char* line = batch.lines.data();
    const char* const end = line + batch.lines.size();
    long long& count = rows[batch.table];
    while (line < end) {
      const char* newline = static_cast<const char*>(std::memchr(line, '\n', static_cast<size_t>(end - line)));
      copy_text::DecodeLine(std::string_view(line, static_cast<size_t>(newline - line)), table.columns.size(), values);
      writer.AddRow(batch.table, values);
      if (++count % 200000 == 0) log::Info("snapshot progress", {{"table", table.name}, {"rows", count}});
      line = newline + 1;
    }
    if (batch.last) log::Info("saved table", {{"table", table.name}, {"rows", count}});
    buffers.Give(std::move(batch.lines));
  }
  return rows;
}

}  // namespace

std::string NewRunId() {
  std::random_device random;
  std::string id;
  static const char* kHex = "0123456789abcdef";
  for (int i = 0; i < 32; ++i) id += kHex[random() % 16];
  return id;
}

SnapshotSummary TakeSnapshot(const ConnectionSpec& target, const Config& config, const std::string& out_path,
                             const std::string& run_id) {
  PgSession session = OpenSession(target, Access::kReadOnly);
  return TakeSnapshot(session, target, config, out_path, run_id);
}

SnapshotSummary TakeSnapshot(PgSession& session, const ConnectionSpec& target, const Config& config,
                             const std::string& out_path, const std::string& run_id) {
  SnapshotSummary summary{out_path, "", {}};
  SnapshotWriter writer(out_path);
  writer.SetMeta("run_id", run_id.empty() ? NewRunId() : run_id);
  try {
    const size_t reader_count = std::min(kReaders, config.preserve.size());
    BatchQueue queue(8 * reader_count, static_cast<int>(reader_count));
    BufferPool buffers;
    SnapshotReaders readers(target, config.lock_timeout_seconds, reader_count, queue, buffers);
    SnapshotTransaction tx(*session.conn);
    // A migration holding a preserved table's lock must not keep the 8 a.m. run waiting for ever.
    tx.exec("SET LOCAL lock_timeout = '" + std::to_string(config.lock_timeout_seconds) + "s'");
    WriteSourceMeta(writer, tx, *session.conn, config, summary);
    std::vector<TableInfo> tables;
    for (const auto& preserve : config.preserve) {
      auto table = catalog::ReadTable(tx, config.schema, preserve.table);
      if (!table) {
        throw BlockedError("table " + config.schema + "." + preserve.table + " not found in " + session.masked +
                           " (listed in the preserved tables)");
      }
      writer.BeginTable(*table);
      tables.push_back(*table);
    }
    readers.Start(ReaderOrders{tx.exec("SELECT pg_export_snapshot()")[0][0].as<std::string>(),
                               ShareOutTables(tx, tables, reader_count)});
    const std::vector<long long> rows = WriteTableRows(queue, buffers, tables, writer);
    for (size_t i = 0; i < tables.size(); ++i) summary.row_counts.emplace_back(tables[i].name, rows[i]);
    tx.commit();
  } catch (const pqxx::sql_error& e) {
    if (e.sqlstate() == "42501" && std::string(e.what()).find("row-level security") != std::string::npos) {
      // row_security = off makes a policy that would hide rows an error instead of a smaller file.
      throw Failure("snapshot of " + session.masked + ": a preserved table has a row-level security policy that the role " +
                    "cannot bypass, so the snapshot would miss rows; use the table's owner or a role with BYPASSRLS " +
                    "(nothing was written)");
    }
    if (e.sqlstate() != "55P03") RethrowDatabaseError("snapshot of " + session.masked, *session.conn);
    throw Failure("snapshot of " + session.masked + ": a preserved table stayed locked by another session for " +
                  std::to_string(config.lock_timeout_seconds) + " s (lock_timeout_seconds); nothing was written");
  } catch (...) {
    RethrowDatabaseError("snapshot of " + session.masked, *session.conn);
  }
  writer.Commit();
  return summary;
}

}  // namespace dbrefresh
