// The snapshot step: COPY out of PostgreSQL, straight into the SQLite snapshot file.
#include "snapshot/take_snapshot.h"

#include <cstring>
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

// Records the text settings the rows are read under, as this transaction sees them (OpenSession
// pinned them; a pooler could still have handed the transaction another backend), so that a reader
// knows how to read the values back. Refuses to go on when they are not the pinned ones.
void WriteSessionSettings(SnapshotWriter& writer, pqxx::transaction_base& tx) {
  std::string query = "SELECT current_setting('row_security')";
  for (const auto& s : PinnedSessionSettings()) query += ", current_setting('" + s.name + "')";
  const auto row = tx.exec(query)[0];
  if (row[0].as<std::string>() != "off") throw Failure("the snapshot's session has row_security on: refusing to read");
  for (size_t i = 0; i < PinnedSessionSettings().size(); ++i) {
    const auto& s = PinnedSessionSettings()[i];
    const std::string now = row[static_cast<int>(i + 1)].as<std::string>();
    if (now != s.value) {
      throw Failure("the snapshot's session has " + s.name + " = " + now + ", not " + s.value +
                    " (a connection pooler dropping SET?): refusing to read values under it");
    }
    writer.SetMeta(s.meta_key, now);
  }
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

// Reader thread: COPY lines from PostgreSQL into the pipe, a few hundred kilobytes at a time.
void ReadCopyLines(pqxx::transaction_base& tx, const std::string& query, LinePipe& pipe) {
  constexpr size_t kBatchBytes = 256 * 1024;
  try {
    pqxx::stream_from stream(tx, query);
    LinePipe::Batch batch;
    std::string line;
    bool wanted = true;
    while (wanted && stream.get_raw_line(line)) {
      batch += line;
      if (line.empty() || line.back() != '\n') batch += '\n';  // libpqxx 6.4 keeps COPY's line end; be sure
      if (batch.size() >= kBatchBytes) {
        wanted = pipe.Push(std::move(batch));
        batch = {};
        batch.reserve(kBatchBytes + 4096);
      }
    }
    if (wanted) {
      stream.complete();
      if (!batch.empty()) pipe.Push(std::move(batch));
    }
    pipe.Close();
  } catch (...) {
    pipe.Close(std::current_exception());
  }
}

long long CopyTableRows(pqxx::transaction_base& tx, const TableInfo& table, SnapshotWriter& writer) {
  std::vector<std::string> names;
  for (const auto& c : table.columns) names.push_back(c.name);
  // COPY refuses generated columns in a column list, but a query may read them (the snapshot keeps
  // every column; restore-users never writes the generated ones). libpqxx 6.4's stream_from pastes
  // its "table" into COPY ... TO STDOUT as given, so a parenthesised query works there.
  const std::string query = "(SELECT " + sql::IdentList(names) + " FROM " +
                            sql::QualifiedName(table.schema, table.name) + ")";
  // PostgreSQL's side and SQLite's side overlap: one thread reads COPY, this one writes the file.
  LinePipe pipe;
  std::thread reader(ReadCopyLines, std::ref(tx), std::cref(query), std::ref(pipe));
  long long rows = 0;
  try {
    LinePipe::Batch batch;
    RowValues values;
    while (pipe.Pop(batch)) {
      const char* line = batch.data();
      const char* const end = line + batch.size();
      while (line < end) {
        const char* newline = static_cast<const char*>(std::memchr(line, '\n', static_cast<size_t>(end - line)));
        copy_text::DecodeLine(std::string_view(line, static_cast<size_t>(newline - line)), names.size(), values);
        writer.AddRow(values);
        if (++rows % 200000 == 0) log::Info("snapshot progress", {{"table", table.name}, {"rows", rows}});
        line = newline + 1;
      }
    }
  } catch (...) {
    pipe.Abandon();
    reader.join();
    throw;
  }
  reader.join();
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
  SnapshotSummary summary{out_path, "", {}};
  SnapshotWriter writer(out_path);
  writer.SetMeta("run_id", run_id.empty() ? NewRunId() : run_id);
  try {
    SnapshotTransaction tx(*session.conn);
    // A migration holding a preserved table's lock must not keep the 8 a.m. run waiting for ever.
    tx.exec("SET LOCAL lock_timeout = '" + std::to_string(config.lock_timeout_seconds) + "s'");
    WriteSourceMeta(writer, tx, *session.conn, config, summary);
    for (const auto& preserve : config.preserve) {
      auto table = catalog::ReadTable(tx, config.schema, preserve.table);
      if (!table) {
        throw BlockedError("table " + config.schema + "." + preserve.table + " not found in " + session.masked +
                           " (listed in the preserved tables)");
      }
      writer.BeginTable(*table);
      long long rows = CopyTableRows(tx, *table, writer);
      summary.row_counts.emplace_back(preserve.table, rows);
      log::Info("saved table", {{"table", preserve.table}, {"rows", rows}});
    }
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
