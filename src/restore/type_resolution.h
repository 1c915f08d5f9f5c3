// Snapshot type names checked against the target's catalog before any SQL is built from them.
#pragma once

#include <string>

#include <pqxx/pqxx>

#include "mapping/column_mapping.h"
#include "snapshot/snapshot_file.h"

namespace dbrefresh {

// The target's name for a snapshot's type text: format_type(to_regtype(text), NULL), with the text
// bound as a parameter and run inside a savepoint (servers before 16 raise on a syntax error where
// later ones return NULL). nullopt when it names no type there. Never runs the text as SQL.
std::optional<std::string> ResolveTypeOnTarget(pqxx::transaction_base& tx, const std::string& type_text);

// Refuses (SnapshotError, exit 6) a snapshot whose copied columns (those `mapping` writes from the
// snapshot) have a type the target does not resolve. Columns only in the snapshot are not written,
// so their types need not exist on the target.
void RequireTypesResolve(pqxx::transaction_base& tx, const SnapshotTable& table, const TableMapping& mapping,
                         const std::string& snapshot_path);

}  // namespace dbrefresh
