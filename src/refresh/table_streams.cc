// Streaming the largest tables source -> target under one exported snapshot (see table_streams.h).
#include "refresh/table_streams.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>

#include <pqxx/stream_from>
#include <pqxx/tablewriter>

#include "common/error.h"
#include "common/log.h"
#include "common/sql_text.h"
#include "refresh/restore_phases.h"

namespace dbrefresh {
namespace {

using SnapshotTransaction = pqxx::transaction<pqxx::isolation_level::repeatable_read, pqxx::readwrite_policy::read_only>;

// Plain tables whose data pg_dump would dump (not an extension's) and that a COPY of the table
// reads whole (no row-level security), the largest first.
const char* const kCandidatesQuery = R"SQL(
SELECT c.oid, n.nspname, c.relname, pg_table_size(c.oid) AS bytes
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND c.relpersistence = 'p' AND NOT c.relrowsecurity
  AND n.nspname = ANY($1::text[])
  AND pg_table_size(c.oid) >= $2::bigint
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                  AND d.deptype = 'e')
ORDER BY bytes DESC, n.nspname, c.relname)SQL";

// COPY without a column list skips generated columns but follows the column order, which a table
// restored by pg_dump need not share with the source's (inheritance): name them, as pg_dump does.
const char* const kColumnsQuery = R"SQL(
SELECT attname FROM pg_attribute
WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
ORDER BY attnum)SQL";

std::string TextArray(const std::vector<std::string>& items) {
  std::string text = "{";
  for (const auto& item : items) {
    text += text.size() > 1 ? "," : "";
    text += '"';
    for (char c : item) {
      if (c == '"' || c == '\\') text += '\\';
      text += c;
    }
    text += '"';
  }
  return text + "}";
}

std::string ColumnList(const std::vector<std::string>& quoted) {
  std::string list;
  for (const auto& c : quoted) list += (list.empty() ? "" : ", ") + c;
  return list;
}

}  // namespace

std::string StreamedTable::Qualified() const { return sql::QuoteIdent(schema) + "." + sql::QuoteIdent(name); }

std::string StreamedTable::DumpPattern() const {
  // pg_dump's patterns: inside double quotes every character is literal and "" is a quote.
  auto quoted = [](const std::string& part) {
    std::string out = "\"";
    for (char c : part) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
  };
  return quoted(schema) + "." + quoted(name);
}

SourceSnapshot::SourceSnapshot(const ConnectionSpec& source) : session_(OpenSession(source, Access::kReadOnly)) {
  try {
    tx_ = std::make_unique<SnapshotTransaction>(*session_.conn, "dbrefresh_exported_snapshot");
    id_ = tx_->exec("SELECT pg_export_snapshot()")[0][0].as<std::string>();
  } catch (...) {
    RethrowDatabaseError("exporting a snapshot of the source", *session_.conn);
  }
}

SourceSnapshot::~SourceSnapshot() {
  try {
    Release();
  } catch (...) {
    // the session closes with the object: the transaction ends either way
  }
}

std::vector<StreamedTable> SourceSnapshot::ChooseTables(const Config& config, const std::vector<std::string>& schemas) {
  std::vector<StreamedTable> chosen;
  try {
    std::vector<std::string> preserved;
    for (const auto& p : config.preserve) preserved.push_back(p.table);
    const std::set<unsigned long> keep_out = PreservedSet(*tx_, config.schema, preserved);
    const long long min_bytes = static_cast<long long>(config.stream_min_table_mb) * 1024 * 1024;
    for (const auto& row : tx_->exec_params(kCandidatesQuery, TextArray(schemas), min_bytes)) {
      StreamedTable t;
      t.oid = row[0].as<unsigned long>();
      if (keep_out.count(t.oid)) continue;
      t.schema = row[1].as<std::string>();
      t.name = row[2].as<std::string>();
      t.bytes = row[3].as<long long>();
      for (const auto& c : tx_->exec_params(kColumnsQuery, t.oid)) t.columns.push_back(sql::QuoteIdent(c[0].as<std::string>()));
      if (t.columns.empty()) continue;  // nothing to copy: the dump has it
      chosen.push_back(std::move(t));
    }
    // Held until every stream holds them: prod cannot drop or rewrite a table in between.
    tx_->exec("SET LOCAL lock_timeout = " + tx_->quote(std::to_string(config.lock_timeout_seconds) + "s"));
    for (const auto& t : chosen) tx_->exec("LOCK TABLE " + t.Qualified() + " IN ACCESS SHARE MODE");
  } catch (...) {
    RethrowDatabaseError("choosing the source's tables to stream", *session_.conn);
  }
  return chosen;
}

void SourceSnapshot::Release() {
  if (!tx_) return;
  auto tx = std::move(tx_);
  tx->commit();
}

TableStreams::TableStreams(const ConnectionSpec& source, const ConnectionSpec& target, std::string snapshot_id,
                           std::vector<StreamedTable> tables, int jobs, int lock_timeout_seconds)
    : source_(source), target_(target), snapshot_id_(std::move(snapshot_id)), tables_(std::move(tables)),
      lock_timeout_seconds_(lock_timeout_seconds) {
  std::sort(tables_.begin(), tables_.end(), [](const auto& a, const auto& b) { return a.bytes > b.bytes; });
  workers_ = static_cast<int>(std::min<size_t>(static_cast<size_t>(std::max(jobs, 1)), tables_.size()));
  for (int i = 0; i < workers_; ++i) threads_.emplace_back([this] { Work(); });
}

TableStreams::~TableStreams() {
  stop_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void TableStreams::WaitUntilImported() {
  std::unique_lock<std::mutex> lock(mutex_);
  imported_cv_.wait(lock, [this] { return imported_ >= workers_ || failure_; });
}

void TableStreams::Wait() {
  for (auto& t : threads_) t.join();
  threads_.clear();
  if (failure_) std::rethrow_exception(failure_);
}

// One worker: a source session holding the snapshot and the tables' locks, then table after table.
void TableStreams::Work() {
  std::string context = "importing the source's snapshot for streaming";
  try {
    PgSession source = OpenSession(source_, Access::kReadOnly);
    try {
      SnapshotTransaction tx(*source.conn, "dbrefresh_stream");
      tx.exec("SET TRANSACTION SNAPSHOT " + tx.quote(snapshot_id_));
      // The exporter holds these locks already; a lock queued behind them (a migration on prod)
      // would hold ours up, and the exporter waits for us: give up as pg_dump does.
      tx.exec("SET LOCAL lock_timeout = " + tx.quote(std::to_string(lock_timeout_seconds_) + "s"));
      for (const auto& t : tables_) tx.exec("LOCK TABLE " + t.Qualified() + " IN ACCESS SHARE MODE");
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ++imported_;
      }
      imported_cv_.notify_all();
      for (;;) {
        const StreamedTable* table = nullptr;
        {
          std::lock_guard<std::mutex> lock(mutex_);
          if (failure_ || next_ >= tables_.size()) break;
          table = &tables_[next_++];
        }
        context = "streaming table " + table->Qualified() + " from the source into the target";
        StreamOne(tx, *table);
      }
      tx.commit();
    } catch (const Error&) {
      throw;
    } catch (...) {
      RethrowDatabaseError(context, *source.conn);
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!failure_) failure_ = std::current_exception();
    stop_ = true;
  }
  imported_cv_.notify_all();
}

// COPY out of the source into COPY into the target, a few hundred kilobytes per message; the
// target's transaction commits only a whole table.
void TableStreams::StreamOne(pqxx::dbtransaction& source_tx, const StreamedTable& table) {
  constexpr size_t kBatchBytes = 256 * 1024;
  const auto started = std::chrono::steady_clock::now();
  PgSession target = OpenSession(target_, Access::kReadWrite);
  long long rows = 0;
  try {
    pqxx::work tx(*target.conn, "dbrefresh_stream");
    // Preprod is live: a session reading the new, empty table would hold the TRUNCATE (and the run) up
    // for as long as its transaction lasts. Wait --lock-timeout, as the clear step does, then fail.
    tx.exec("SET LOCAL lock_timeout = " + tx.quote(std::to_string(lock_timeout_seconds_) + "s"));
    // Emptied in the same transaction (it is empty: only the schema is restored, and nothing
    // refers to it yet), the table takes its rows frozen: no later pass rewrites every page to set
    // hint bits or freeze them (15% faster at SPEC scale). ONLY: an inheritance child may be
    // restoring meanwhile. libpqxx 6.4's tablewriter has no COPY options and pastes the name it
    // is given before " FROM STDIN": the options go in the name, and a comment ends the statement.
    tx.exec("TRUNCATE ONLY " + table.Qualified());
    pqxx::stream_from reader(source_tx, table.Qualified() + " (" + ColumnList(table.columns) + ")");
    try {
      pqxx::tablewriter writer(tx, table.Qualified() + " (" + ColumnList(table.columns) + ") FROM STDIN WITH (FREEZE) --");
      std::string line, batch;
      batch.reserve(kBatchBytes + 4096);
      while (reader.get_raw_line(line)) {
        if (stop_) throw Failure("stopped: another stream failed or the run is ending");
        if (!line.empty() && line.back() == '\n') line.pop_back();  // libpqxx 6.4 may keep COPY's line end
        if (!batch.empty()) batch += '\n';
        batch += line;
        ++rows;
        if (batch.size() >= kBatchBytes) {
          writer.write_raw_line(batch);  // several rows: the writer ends the last with a newline
          batch.clear();
        }
      }
      reader.complete();
      if (!batch.empty()) writer.write_raw_line(batch);
      writer.complete();
    } catch (...) {
      // Left as it is, the source's COPY would be read to its end by the reader's destructor (a
      // whole table: minutes at prod scale) before anyone hears of the failure: stop it at the source.
      try {
        source_tx.conn().cancel_query();
      } catch (...) {
        // a source already gone has nothing left to send
      }
      throw;
    }
    tx.commit();
  } catch (const Error&) {
    throw;
  } catch (const pqxx::sql_error& e) {
    // The TRUNCATE waited out --lock-timeout behind a preprod session (or deadlocked with one): say
    // so, and what to do.
    if ((e.sqlstate() == "55P03" || e.sqlstate() == "40P01") && target.conn->is_open()) {
      const std::string what = e.sqlstate() == "55P03" ? "held the table for " + std::to_string(lock_timeout_seconds_) +
                                                             " s (lock_timeout_seconds)"
                                                       : "deadlocked with this stream over the table";
      throw Failure("streaming table " + table.Qualified() + " into the target " + target.dbname +
                    ": another session on the target " + what + ". The target is marked; stop that session, or " +
                    "re-run the same command with --terminate-connections to end every other session on the target database");
    }
    if (!target.conn->is_open()) RethrowDatabaseError("streaming table " + table.Qualified() + " into the target", *target.conn);
    throw;
  } catch (...) {
    // A lost target is named here (a connection error, exit 3, as a lost source is); anything else is
    // told with the source's session (Work).
    if (!target.conn->is_open()) RethrowDatabaseError("streaming table " + table.Qualified() + " into the target", *target.conn);
    throw;
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  log::Info("streamed table", {{"table", table.schema + "." + table.name}, {"rows", rows},
                               {"seconds", took.count()}});
}

}  // namespace dbrefresh
