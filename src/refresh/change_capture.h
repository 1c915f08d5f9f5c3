// Change capture on a live target: which preserved rows preprod's application wrote while a
// refresh ran, so that the snapshot can be brought up to date before the old contents go away.
//
// Before the snapshot begins, a row trigger on each preserved table logs the key of every row
// that an insert, update or delete touches into a table of the schema dbrefresh_capture (same
// name as the preserved table, typed like its primary key). A write committed before the
// snapshot's transaction began is in the snapshot; any later one is in the log. Catching up reads
// the logged keys and the rows' current versions (absent: deleted) and replaces them in the
// snapshot file. The log belongs to the snapshot taken after it was installed: a killed run's
// successor resumes from that snapshot with that log.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "snapshot/snapshot_file.h"
#include "snapshot/snapshot_update.h"

namespace dbrefresh {

constexpr const char* kCaptureSchema = "dbrefresh_capture";

// Creates the capture anew (an earlier run's log is dropped) for each of `tables` in `schema`
// that has a primary key, in one transaction with lock_timeout (a trigger locks its table against
// writes for a moment); returns warnings for the tables it cannot capture (no primary key). Must
// commit before the snapshot's transaction begins. Three attempts, `before_attempt` before each
// (ending other sessions, with --terminate-connections); Failure (1) when all three time out.
std::vector<std::string> InstallCapture(pqxx::connection& target, const std::string& schema,
                                        const std::vector<std::string>& tables, int lock_timeout_seconds,
                                        const std::function<void()>& before_attempt = {});

// Whether the target has a capture (installed by this run, or by the killed run it resumes).
bool HasCapture(pqxx::transaction_base& tx);

// Drops the capture: its schema, and with it the triggers on the tables that still exist.
void DropCapture(pqxx::transaction_base& tx);

// The logged changes of one preserved table.
struct TableChanges {
  std::string table;
  std::vector<std::string> key;  // the key columns, as the log has them
  std::vector<ChangedRow> rows;  // one per distinct logged key: its current version, or gone
};

// Reads what the log holds, for the tables of the snapshot that the capture covers, each row
// with the snapshot's columns. With `consume`, the log rows read are deleted in `tx`, so that
// the next read returns only newer ones. Needs row_security off (set in `tx`).
std::vector<TableChanges> ReadCapturedChanges(pqxx::transaction_base& tx, const std::string& schema,
                                              const std::vector<SnapshotTable>& tables, bool consume);

// Reads what the log holds and deletes it (ReadCapturedChanges with `consume`), handing the changes
// to `apply` before the deletes commit: should `apply` throw, they stay logged. Returns what `apply`
// returns. One repeatable-read transaction, so the changes are those of one moment of the target.
// Read committed, each table's read saw a later moment than the one before: a person whose user,
// role and qualification were committed together between two reads arrived as a role and a
// qualification without their user, and swap's restore-users, reading the file at that point, sent
// them to the seed SQL.
long long ConsumeCapturedChanges(pqxx::connection& target, const std::string& schema,
                                 const std::vector<SnapshotTable>& tables,
                                 const std::function<long long(const std::vector<TableChanges>&)>& apply);

// `EXCLUSIVE` locks on the preserved tables that exist: writes wait, reads (logins) go on.
void LockPreservedTables(pqxx::transaction_base& tx, const std::string& schema, const std::vector<std::string>& tables);

// Replaces the changed rows in the snapshot and commits the file durably. Returns rows changed.
long long ApplyToSnapshot(SnapshotUpdater& snapshot, const std::vector<TableChanges>& changes);

}  // namespace dbrefresh
