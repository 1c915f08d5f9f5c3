// The set-based restore of one table, with row-by-row fallback (see table_restore.h).
#include "restore/table_restore.h"

#include <algorithm>
#include <functional>
#include <optional>

#include <pqxx/tablewriter>

#include "common/error.h"
#include "common/log.h"
#include "common/sql_text.h"
#include "snapshot/copy_text.h"

namespace dbrefresh {
namespace {

using sql::IdentList;
using sql::QuoteIdent;

// PostgreSQL's message with its DETAIL (which names the key), as one line for logs and seed comments.
std::string OneLine(const std::string& text) {
  std::string line;
  for (char c : text) {
    if (c == '\n' || c == '\r') {
      if (!line.empty() && line.back() != ' ') line += ' ';
    } else {
      line += c;
    }
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

std::string StageColumn(size_t i) { return "c" + std::to_string(i); }

std::vector<std::string> WrittenNames(const TableMapping& mapping) {
  std::vector<std::string> names;
  for (const ColumnPlan* c : mapping.Written()) names.push_back(c->column);
  return names;
}

// Only errors caused by the data are narrowed down to rows: invalid values and constraint violations
// (SQLSTATE classes 22 and 23), an exception a trigger raises for a row (P0001), a value too big for
// an index (54000). A lock or statement timeout, a deadlock, a full disk or a shutdown says nothing
// about the rows: it stops restore-users (see restore_users.cc), it never sends rows to the seed SQL.
bool IsDataError(const pqxx::sql_error& e) {
  const std::string& state = e.sqlstate();
  return state.rfind("22", 0) == 0 || state.rfind("23", 0) == 0 || state == "P0001" || state == "54000";
}

// The log gets PostgreSQL's first line only: its DETAIL lines carry row values (personal data),
// which go to the seed SQL's comments, and to the log only with --verbose.
void LogRefusal(const std::string& message, const pqxx::sql_error& e, nlohmann::json fields) {
  const std::string text = e.what();
  fields["reason"] = OneLine(text.substr(0, text.find('\n')));
  log::Info(message, fields);
  if (text.find('\n') != std::string::npos && text.find_first_not_of(" \n", text.find('\n')) != std::string::npos) {
    log::Debug("PostgreSQL's detail of that refusal", {{"table", fields.value("table", "")}, {"detail", OneLine(text)}});
  }
}

// Runs one statement inside a savepoint (a libpqxx subtransaction): when PostgreSQL refuses it,
// the outer transaction carries on without it. Plain exec only: in libpqxx 6.4, exec_params on a
// subtransaction skips its lazy SAVEPOINT, so a failure would abort the outer transaction.
pqxx::result ExecInSavepoint(pqxx::work& tx, const std::string& sql) {
  pqxx::subtransaction attempt(tx, "dbrefresh_attempt");
  pqxx::result r = attempt.exec(sql);
  attempt.commit();
  return r;
}

// Runs `sql` over the rows _row in [lo, hi] inside a savepoint. When PostgreSQL refuses, the range
// is split in halves and each retried, down to single rows; a single refused row is set aside in
// Failed() with the reason. k bad rows among n cost about 2k·log2(n/k) statements, not n.
long long RunRange(pqxx::work& tx, const TableRestorePlan& plan, const std::string& sql, long long lo, long long hi,
                   const std::string& what) {
  try {
    // lo and hi are our own row numbers, not user data.
    return ExecInSavepoint(tx, sql + " AND _row BETWEEN " + std::to_string(lo) + " AND " + std::to_string(hi))
        .affected_rows();
  } catch (const pqxx::sql_error& e) {
    if (!IsDataError(e)) throw;
    if (lo == hi) {
      tx.exec_params("INSERT INTO " + plan.Failed() + " VALUES ($1, $2)", lo, what + ": " + OneLine(e.what()));
      return 0;
    }
  }
  const long long mid = lo + (hi - lo) / 2;
  return RunRange(tx, plan, sql, lo, mid, what) + RunRange(tx, plan, sql, mid + 1, hi, what);
}

// Runs `sql` (ending in a WHERE clause) once for all rows, followed by `order` (an ORDER BY, for
// speed only); only if PostgreSQL refuses does it fall back to RunRange, so the common case stays
// one set-based statement.
long long RunWithRowFallback(pqxx::work& tx, const TableRestorePlan& plan, const std::string& sql,
                             const std::string& rows_table, const std::string& what, const std::string& order = "") {
  try {
    return ExecInSavepoint(tx, sql + order).affected_rows();
  } catch (const pqxx::sql_error& e) {
    if (!IsDataError(e)) throw;
    LogRefusal("a set-based step was refused; narrowing it down to the rows that cause it", e,
               {{"table", plan.target.name}, {"step", what}});
  }
  tx.exec("CREATE INDEX ON " + rows_table + " (_row)");
  auto bounds = tx.exec("SELECT min(_row), max(_row) FROM " + rows_table)[0];
  if (bounds[0].is_null()) return 0;
  return RunRange(tx, plan, sql, bounds[0].as<long long>(), bounds[1].as<long long>(), what);
}

void CreateTempTables(pqxx::work& tx, const TableRestorePlan& plan) {
  std::string stage = "CREATE TEMP TABLE " + plan.Stage() + " (_row bigint";
  for (size_t i = 0; i < plan.snapshot->info.columns.size(); ++i) stage += ", " + StageColumn(i) + " text";
  tx.exec(stage + ") ON COMMIT DROP");
  std::string typed = "CREATE TEMP TABLE " + plan.Typed() + " (_row bigint, _class text";
  if (plan.pk.size() == 1) typed += ", _match " + plan.target.FindColumn(plan.pk[0])->type;
  for (const ColumnPlan* c : plan.mapping.Written()) typed += ", " + QuoteIdent(c->column) + " " + c->type;
  tx.exec(typed + ") ON COMMIT DROP");
  tx.exec("CREATE TEMP TABLE " + plan.Failed() + " (_row bigint, reason text) ON COMMIT DROP");
}

// Rows are sent by COPY. libpqxx 6.4's stream_to only takes fixed-size tuples, so rows of any width
// go through tablewriter::write_raw_line, with the escaping done by copy_text::AppendField.
// `fields` appends a row's fields after its number.
using RowFields = std::function<void(std::string& line, const RowValues& values)>;

// Row numbers are read from the server this many at a time (bounded memory, whatever the table's size).
constexpr int kRowsPerBatch = 50000;

// Sends the snapshot rows to restore into `table`: all of them, or, with `only_lacking`, those whose
// numbers are in Lacking() (see KeepOnlyRowsTheTargetLacks), read from the snapshot by number.
// Those go in batches, one COPY each: while a COPY is open the connection cannot read the next numbers.
void CopySnapshotRows(pqxx::transaction_base& tx, const SnapshotReader& snapshot, const TableRestorePlan& plan,
                      bool only_lacking, const std::string& table, const std::vector<std::string>& columns,
                      const RowFields& fields) {
  std::string line;
  auto copy = [&](const std::function<void(const SnapshotReader::NumberedRowVisitor&)>& for_each_row) {
    pqxx::tablewriter writer(tx, table, columns.begin(), columns.end());
    for_each_row([&](long long row, const RowValues& values) {
      line = std::to_string(row);
      fields(line, values);
      writer.write_raw_line(line);
    });
    writer.complete();
  };
  if (!only_lacking) {
    copy([&](const auto& visit) { snapshot.ForEachNumberedRow(*plan.snapshot, visit); });
    return;
  }
  // A cursor, read between the COPYs: one sort of the numbers, whatever the number of batches.
  tx.exec("DECLARE dbrefresh_rows NO SCROLL CURSOR FOR SELECT _row FROM " + plan.Lacking() + " ORDER BY _row");
  std::vector<long long> rows;
  for (;;) {
    rows.clear();
    for (const auto& r : tx.exec("FETCH " + std::to_string(kRowsPerBatch) + " FROM dbrefresh_rows")) {
      rows.push_back(r[0].as<long long>());
    }
    if (rows.empty()) break;
    copy([&](const auto& visit) { snapshot.ForRows(*plan.snapshot, rows, visit); });
  }
  tx.exec("CLOSE dbrefresh_rows");
}

// COPY the snapshot's text values into the all-text staging table.
void StageRows(pqxx::work& tx, const SnapshotReader& snapshot, const TableRestorePlan& plan, bool only_lacking) {
  std::vector<std::string> columns = {"_row"};
  for (size_t i = 0; i < plan.snapshot->info.columns.size(); ++i) columns.push_back(StageColumn(i));
  CopySnapshotRows(tx, snapshot, plan, only_lacking, plan.Stage(), columns,
                   [](std::string& line, const RowValues& values) {
                     for (const auto& v : values) {
                       line += '\t';
                       copy_text::AppendField(line, v);
                     }
                   });
}

// The fast path: the snapshot's text straight into the typed table by COPY. COPY reads each value
// with the type's input function, as the casts of the slow path do, and like an INSERT it refuses a
// value that does not fit (too long for a varchar(n)). Any refused value throws, the savepoint takes
// the partial COPY back, and the caller falls back to the all-text staging, which finds the rows to
// blame one by one. Defaults and config values go in as the same text their literals hold.
bool CopyTypedRows(pqxx::work& tx, const SnapshotReader& snapshot, const TableRestorePlan& plan,
                   bool only_lacking) {
  const auto written = plan.mapping.Written();
  std::vector<std::string> columns = {"_row"};
  for (const ColumnPlan* c : written) columns.push_back(QuoteIdent(c->column));  // tablewriter pastes names as given
  try {
    pqxx::subtransaction attempt(tx, "dbrefresh_typed_copy");
    CopySnapshotRows(attempt, snapshot, plan, only_lacking, plan.Typed(), columns,
                     [&](std::string& line, const RowValues& values) {
                       for (const ColumnPlan* c : written) {
                         line += '\t';
                         copy_text::AppendField(line, c->source == ColumnSource::kCopy
                                                          ? values[static_cast<size_t>(c->snapshot_index)]
                                                          : c->literal);
                       }
                     });
    attempt.commit();
    return true;
  } catch (const pqxx::sql_error& e) {
    if (!IsDataError(e)) throw;
    LogRefusal("a value does not go straight into its column; staging the table as text to find the rows", e,
               {{"table", plan.target.name}});
    return false;
  }
}

// The cast leaves the typmod to the typed column's assignment: see sql::WithoutTypmod.
std::string CastExpression(const ColumnPlan& c) {
  if (c.source == ColumnSource::kCopy) {
    return "s." + StageColumn(static_cast<size_t>(c.snapshot_index)) + "::" + sql::WithoutTypmod(c.type);
  }
  return sql::TypedLiteral(c.literal, c.type);
}

void CastRows(pqxx::work& tx, const TableRestorePlan& plan) {
  std::string exprs;
  for (const ColumnPlan* c : plan.mapping.Written()) exprs += ", " + CastExpression(*c);
  const auto names = WrittenNames(plan.mapping);
  const std::string sql = "INSERT INTO " + plan.Typed() + " (_row" + (names.empty() ? "" : ", " + IdentList(names)) +
                          ") SELECT s._row" + exprs + " FROM " + plan.Stage() + " s WHERE NOT EXISTS (SELECT 1 FROM " +
                          plan.Failed() + " f WHERE f._row = s._row)";
  RunWithRowFallback(tx, plan, sql, plan.Stage(), "cannot convert");
  tx.exec("ANALYZE " + plan.Typed());
}

// Re-points the child FK columns of `table` that are among `columns` (all of them when empty).
void RepointChildren(pqxx::work& tx, const TableRestorePlan& plan, const std::string& table,
                     const std::vector<std::string>& columns = {}) {
  for (const auto& r : plan.repoints) {
    if (!columns.empty() && std::find(columns.begin(), columns.end(), r.column) == columns.end()) continue;
    tx.exec("UPDATE " + table + " y SET " + QuoteIdent(r.column) + " = m.new_key FROM " + r.idmap_table +
            " m WHERE y." + QuoteIdent(r.column) + " = m.old_key");
  }
}

// Types without an equality operator (json, xml, geometric types) are compared as text.
std::string Comparable(const TableRestorePlan& plan, const std::string& alias, const std::string& column) {
  static const char* const kNoEquality[] = {"json", "xml", "point", "line", "lseg", "box", "path", "polygon", "circle"};
  const ColumnInfo* info = plan.target.FindColumn(column);
  std::string expr = alias + "." + QuoteIdent(column);
  if (!info) return expr;
  std::string base = info->type.substr(0, info->type.find('['));
  for (const char* type : kNoEquality) {
    if (base == type) return expr + "::text";
  }
  return expr;
}

std::string ComparableList(const TableRestorePlan& plan, const std::string& alias, const std::vector<std::string>& cols) {
  std::string out;
  for (const auto& c : cols) out += (out.empty() ? "" : ", ") + Comparable(plan, alias, c);
  return out;
}

std::string EqualOn(const std::vector<std::string>& columns, const std::string& a, const std::string& b) {
  std::string out;
  for (const auto& c : columns) out += (out.empty() ? "" : " AND ") + a + "." + QuoteIdent(c) + " = " + b + "." + QuoteIdent(c);
  return out;
}

const ColumnPlan* WrittenColumn(const TableRestorePlan& plan, const std::string& name) {
  for (const ColumnPlan* c : plan.mapping.Written()) {
    if (c->column == name) return c;
  }
  return nullptr;
}

// Under --on-conflict skip a row whose primary key the target has stays out whatever its other
// columns hold, and in a refresh that is most rows (prod has most of preprod's people: in
// scripts/bench.sh, 1.44 of 1.6 million). So the keys go first, alone: COPY (_row, key) into Keys(),
// keep in Lacking() the numbers of the keys the target lacks, and only those rows are read from the
// snapshot and sent whole. Returns how many rows the target has, or nothing when every row must go
// the usual way: another policy, a key not copied from the snapshot, or a key value that does not
// fit its column (the usual way finds the row to blame), or an empty target.
std::optional<long long> KeepOnlyRowsTheTargetLacks(pqxx::work& tx, const SnapshotReader& snapshot,
                                                    const TableRestorePlan& plan, OnConflict policy) {
  if (policy != OnConflict::kSkip || plan.pk.empty()) return std::nullopt;
  // An empty target lacks every row: the keys would only be sent for nothing.
  if (!tx.exec("SELECT EXISTS (SELECT FROM " + plan.QualifiedTarget() + ")")[0][0].as<bool>()) return std::nullopt;
  std::vector<size_t> key_values;
  std::vector<std::string> columns = {"_row"};
  std::string create = "CREATE TEMP TABLE " + plan.Keys() + " (_row bigint";
  for (const auto& name : plan.pk) {
    const ColumnPlan* c = WrittenColumn(plan, name);
    if (!c || c->source != ColumnSource::kCopy) return std::nullopt;
    key_values.push_back(static_cast<size_t>(c->snapshot_index));
    columns.push_back(QuoteIdent(name));
    create += ", " + QuoteIdent(name) + " " + c->type;
  }
  long long sent = 0;
  try {
    pqxx::subtransaction attempt(tx, "dbrefresh_keys_copy");
    attempt.exec(create + ") ON COMMIT DROP");
    {
      pqxx::tablewriter writer(attempt, plan.Keys(), columns.begin(), columns.end());
      std::string line;
      snapshot.ForEachNumberedRow(*plan.snapshot, key_values, [&](long long row, const RowValues& values) {
        ++sent;
        line = std::to_string(row);
        for (const auto& v : values) {
          line += '\t';
          copy_text::AppendField(line, v);
        }
        writer.write_raw_line(line);
      });
      writer.complete();
    }
    attempt.commit();
  } catch (const pqxx::sql_error& e) {
    if (!IsDataError(e)) throw;
    LogRefusal("a key value does not go straight into its column; sending every row whole", e,
               {{"table", plan.target.name}});
    return std::nullopt;
  }
  RepointChildren(tx, plan, plan.Keys(), plan.pk);
  // An anti-join into a table of its own: it writes only the rows to send, where a DELETE from the
  // keys would write every present one again (0.9 s against 1.4 s for a million role keys).
  const long long lacking = tx.exec("CREATE TEMP TABLE " + plan.Lacking() + " ON COMMIT DROP AS SELECT _row FROM " +
                                    plan.Keys() + " y WHERE NOT EXISTS (SELECT 1 FROM " + plan.QualifiedTarget() +
                                    " t WHERE " + EqualOn(plan.pk, "t", "y") + ")")
                                .affected_rows();
  return sent - lacking;
}

// Rows the target already has and that nothing later touches leave the typed table instead of being
// marked: a DELETE only stamps each row where an UPDATE writes it again (for a million role rows,
// 2.2 s against 3.5 s), and every later scan reads fewer rows. Marked ('pk', 'key') are only the rows
// still needed: by --on-conflict update or fail, and for the id map of the children.
struct Classification {
  long long same_pk_removed = 0;  // under --on-conflict skip
  long long duplicates_removed = 0;
};

// `present`: rows with a primary key the target has, when KeepOnlyRowsTheTargetLacks left them out.
Classification Classify(pqxx::work& tx, const TableRestorePlan& plan, OnConflict policy,
                        std::optional<long long> present) {
  Classification result;
  const std::string target = plan.QualifiedTarget();
  if (present) {
    result.same_pk_removed = *present;
  } else if (!plan.pk.empty()) {
    const std::string same_pk = " y USING " + target + " t WHERE " + EqualOn(plan.pk, "t", "y");
    if (policy == OnConflict::kSkip) {
      result.same_pk_removed = tx.exec("DELETE FROM " + plan.Typed() + same_pk).affected_rows();
    } else {
      tx.exec("UPDATE " + plan.Typed() + " y SET _class = 'pk' FROM " + target + " t WHERE " + EqualOn(plan.pk, "t", "y"));
    }
  }
  for (const auto& key : plan.match_keys) {
    const std::string match = plan.pk.size() == 1 ? ", _match = t." + QuoteIdent(plan.pk[0]) : "";
    tx.exec("UPDATE " + plan.Typed() + " y SET _class = 'key'" + match + " FROM " + target +
            " t WHERE y._class IS NULL AND " + EqualOn(key, "t", "y"));
  }
  if (!plan.duplicate_check.empty()) {
    std::string same;
    for (const auto& c : plan.duplicate_check) {
      const ColumnInfo* info = plan.target.FindColumn(c);
      const std::string op = info && info->not_null ? " = " : " IS NOT DISTINCT FROM ";
      same += (same.empty() ? "" : " AND ") + Comparable(plan, "t", c) + op + Comparable(plan, "y", c);
    }
    // The join hashes the typed rows, usually far fewer than the target's: an EXISTS would hash
    // the whole target table (0.7 s against 1.6 s for 100,000 role rows against a million).
    result.duplicates_removed = tx.exec("DELETE FROM " + plan.Typed() + " y USING (SELECT DISTINCT y._row FROM " +
                                        plan.Typed() + " y JOIN " + target + " t ON " + same +
                                        " WHERE y._class IS NULL) d WHERE y._row = d._row")
                                    .affected_rows();
  }
  if (plan.pk.size() == 1) {
    tx.exec("CREATE TEMP TABLE " + plan.IdMap() + " ON COMMIT DROP AS SELECT " + QuoteIdent(plan.pk[0]) +
            " AS old_key, _match AS new_key FROM " + plan.Typed() + " WHERE _class = 'key'");
  }
  return result;
}

long long CountClass(pqxx::work& tx, const TableRestorePlan& plan, const std::string& cls) {
  return tx.exec_params("SELECT count(*) FROM " + plan.Typed() + " WHERE _class = $1", cls)[0][0].as<long long>();
}

// Under --on-conflict update: the snapshot's copied values over the existing row (its key stays).
long long UpdateExisting(pqxx::work& tx, const TableRestorePlan& plan, const std::string& cls, const std::string& join) {
  if (plan.update_columns.empty()) return 0;
  const auto& cols = plan.update_columns;
  const std::string sql = "UPDATE " + plan.QualifiedTarget() + " t SET (" + IdentList(cols) + ") = ROW(" +
                          IdentList(cols, "y") + ") FROM " + plan.Typed() + " y WHERE y._class = '" + cls + "' AND " +
                          join + " AND (" + ComparableList(plan, "t", cols) + ") IS DISTINCT FROM (" + ComparableList(plan, "y", cols) + ")";
  return tx.exec(sql).affected_rows();
}

void ResolveConflicts(pqxx::work& tx, const TableRestorePlan& plan, const Classification& classes, OnConflict policy,
                      TableOutcome& outcome) {
  const long long same_pk = classes.same_pk_removed + CountClass(tx, plan, "pk");
  outcome.matched_by_key = CountClass(tx, plan, "key");
  outcome.already_present = same_pk + classes.duplicates_removed;
  if (policy == OnConflict::kFail && same_pk > 0) {
    auto first = tx.exec("SELECT " + QuoteIdent(plan.pk[0]) + "::text FROM " + plan.Typed() + " WHERE _class = 'pk' LIMIT 1");
    throw BlockedError("table " + plan.target.name + ": " + std::to_string(same_pk) + " row(s) already in the target (first " +
                       plan.pk[0] + " = " + first[0][0].as<std::string>() + ") and --on-conflict is fail; nothing written");
  }
  if (policy != OnConflict::kUpdate) return;
  long long by_pk = plan.pk.empty() ? 0 : UpdateExisting(tx, plan, "pk", EqualOn(plan.pk, "t", "y"));
  long long by_key = plan.pk.size() == 1 ? UpdateExisting(tx, plan, "key", "t." + QuoteIdent(plan.pk[0]) + " = y._match") : 0;
  outcome.updated = by_pk + by_key;
  outcome.already_present -= by_pk;
}

// The order the new rows go in: by the columns of the table's first foreign key, so that the key's
// checks and its index are visited in order rather than at random (100,000 role rows: 2.4 s instead
// of 3.5 s), else by the primary key. Only columns that are written count.
std::string InsertOrder(const TableRestorePlan& plan) {
  const auto names = WrittenNames(plan.mapping);
  auto written = [&](const std::vector<std::string>& columns) {
    for (const auto& c : columns) {
      if (std::find(names.begin(), names.end(), c) == names.end()) return false;
    }
    return !columns.empty();
  };
  for (const auto& c : plan.target.constraints) {
    if (c.kind == 'f' && written(c.columns)) return " ORDER BY " + IdentList(c.columns, "y");
  }
  return written(plan.pk) ? " ORDER BY " + IdentList(plan.pk, "y") : "";
}

long long CountNewRows(pqxx::work& tx, const TableRestorePlan& plan) {
  return tx.exec("SELECT count(*) FROM " + plan.Typed() + " y WHERE y._class IS NULL AND NOT EXISTS (SELECT 1 FROM " +
                 plan.Failed() + " f WHERE f._row = y._row)")[0][0].as<long long>();
}

// An INSERT that reports fewer rows than it was given lost some without an error: a BEFORE INSERT
// trigger returning NULL, a DO INSTEAD NOTHING rule. Those rows are neither in the target nor
// refused, so they go to the seed SQL with that reason, found by their primary key; without one
// to find them by, restore-users stops (rolled back) rather than report them inserted.
void AccountForSwallowedRows(pqxx::work& tx, const TableRestorePlan& plan, long long swallowed) {
  const std::string reason = "cannot insert: the INSERT into " + plan.target.name +
                             " reported the row as not inserted, without an error (a trigger returning NULL or a " +
                             "DO INSTEAD rule on the table?)";
  long long found = 0;
  if (!plan.pk.empty()) {
    found = tx.exec_params("INSERT INTO " + plan.Failed() + " SELECT y._row, $1 FROM " + plan.Typed() +
                               " y WHERE y._class IS NULL AND NOT EXISTS (SELECT 1 FROM " + plan.Failed() +
                               " f WHERE f._row = y._row) AND NOT EXISTS (SELECT 1 FROM " + plan.QualifiedTarget() +
                               " t WHERE " + EqualOn(plan.pk, "t", "y") + ")",
                           reason)
                .affected_rows();
  }
  if (found != swallowed) {
    throw Failure("table " + plan.target.name + ": " + std::to_string(swallowed) +
                  " row(s) were not inserted and PostgreSQL gave no error (a trigger returning NULL or a DO INSTEAD "
                  "rule on the table?), and they cannot be told apart by a primary key; rolled back, nothing written");
  }
  log::Warn("rows the INSERT did not insert, without an error, go to the seed SQL",
            {{"table", plan.target.name}, {"rows", swallowed}});
}

void InsertNewRows(pqxx::work& tx, const TableRestorePlan& plan, TableOutcome& outcome) {
  const auto names = WrittenNames(plan.mapping);
  const std::string sql = "INSERT INTO " + plan.QualifiedTarget() + " (" + IdentList(names) + ")" +
                          (plan.mapping.overriding_system_value ? " OVERRIDING SYSTEM VALUE" : "") + " SELECT " +
                          IdentList(names, "y") + " FROM " + plan.Typed() + " y WHERE y._class IS NULL";
  const long long given = CountNewRows(tx, plan);
  outcome.inserted = RunWithRowFallback(tx, plan, sql, plan.Typed(), "cannot insert", InsertOrder(plan));
  // Every row given is inserted or refused (in Failed()); any other is swallowed.
  if (outcome.inserted == given) return;
  const long long swallowed = given - outcome.inserted - (given - CountNewRows(tx, plan));
  if (swallowed > 0) AccountForSwallowedRows(tx, plan, swallowed);
}

// Identity and serial sequences must end past the highest value now in the table.
void MoveSequencesPastMax(pqxx::work& tx, const TableRestorePlan& plan) {
  for (const auto& c : plan.target.columns) {
    const bool serial = c.default_expr && c.default_expr->rfind("nextval(", 0) == 0;
    if (!c.is_identity() && !serial) continue;
    auto seq = tx.exec_params("SELECT pg_get_serial_sequence($1, $2)", plan.QualifiedTarget(), c.name);
    if (seq.empty() || seq[0][0].is_null()) continue;
    // pg_sequence_last_value is NULL for a sequence never used: then any restored value counts.
    tx.exec_params("SELECT setval($1::regclass, m) FROM (SELECT max(" + QuoteIdent(c.name) + ")::bigint AS m FROM " +
                       plan.QualifiedTarget() + ") x WHERE m IS NOT NULL AND m >= coalesce(pg_sequence_last_value($1::regclass), 0)",
                   seq[0][0].as<std::string>());
  }
}

}  // namespace

std::string TableRestorePlan::QualifiedTarget() const { return sql::QualifiedName(target.schema, target.name); }

void RestoreTable(pqxx::work& tx, const SnapshotReader& snapshot, const TableRestorePlan& plan, OnConflict on_conflict,
                  TableOutcome& outcome, std::vector<std::string>& warnings) {
  CreateTempTables(tx, plan);
  if (plan.mapping.Unfillable()) {
    StageRows(tx, snapshot, plan, false);
    const std::string reason = "column(s) " + IdentList(plan.mapping.Names(ColumnSource::kUnfillable)) +
                               " are NOT NULL without a default in the target and no value fits";
    tx.exec_params("INSERT INTO " + plan.Failed() + " SELECT _row, $1 FROM " + plan.Stage(), reason);
  } else {
    const std::optional<long long> present = KeepOnlyRowsTheTargetLacks(tx, snapshot, plan, on_conflict);
    if (CopyTypedRows(tx, snapshot, plan, present.has_value())) {
      tx.exec("ANALYZE " + plan.Typed());
    } else {
      StageRows(tx, snapshot, plan, present.has_value());
      CastRows(tx, plan);
    }
    RepointChildren(tx, plan, plan.Typed());
    const Classification classes = Classify(tx, plan, on_conflict, present);
    ResolveConflicts(tx, plan, classes, on_conflict, outcome);
    InsertNewRows(tx, plan, outcome);
    if (outcome.inserted > 0) MoveSequencesPastMax(tx, plan);
  }
  outcome.to_seed_sql = CountFailedRows(tx, plan);
  for (const auto& w : plan.mapping.warnings) warnings.push_back(w);
}

long long CountFailedRows(pqxx::work& tx, const TableRestorePlan& plan) {
  return tx.exec("SELECT count(*) FROM " + plan.Failed())[0][0].as<long long>();
}

void ForEachFailedRow(pqxx::work& tx, const SnapshotReader& snapshot, const TableRestorePlan& plan,
                      const FailedRowVisitor& visit) {
  // The values come from the snapshot itself, by row number: the text staging table only exists
  // when the fast path was refused. A batch of numbers at a time, through a cursor: when a column
  // no value fits sends all of a table's rows here, they never are in memory together.
  tx.exec("DECLARE dbrefresh_failed_rows NO SCROLL CURSOR FOR SELECT _row, reason FROM " + plan.Failed() +
          " ORDER BY _row");
  std::vector<long long> numbers;
  std::vector<std::string> reasons;
  for (;;) {
    numbers.clear();
    reasons.clear();
    for (const auto& r : tx.exec("FETCH " + std::to_string(kRowsPerBatch) + " FROM dbrefresh_failed_rows")) {
      numbers.push_back(r[0].as<long long>());
      reasons.push_back(r[1].as<std::string>());
    }
    if (numbers.empty()) break;
    size_t next = 0;
    snapshot.ForRows(*plan.snapshot, numbers, [&](long long row, const RowValues& values) {
      while (next < numbers.size() && numbers[next] != row) ++next;  // a number the file lacks is skipped
      if (next < numbers.size()) visit(values, reasons[next++]);
    });
  }
  tx.exec("CLOSE dbrefresh_failed_rows");
}

}  // namespace dbrefresh
