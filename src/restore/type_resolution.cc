// Resolving snapshot type names through the target's catalog (see type_resolution.h).
#include "restore/type_resolution.h"

#include "common/error.h"

namespace dbrefresh {

std::optional<std::string> ResolveTypeOnTarget(pqxx::transaction_base& tx, const std::string& type_text) {
  // A savepoint by hand: libpqxx 6.4's subtransaction skips its SAVEPOINT for exec_params.
  tx.exec("SAVEPOINT dbrefresh_resolve_type");
  try {
    auto r = tx.exec_params("SELECT format_type(to_regtype($1), NULL)", type_text);
    tx.exec("RELEASE SAVEPOINT dbrefresh_resolve_type");
    if (r.empty() || r[0][0].is_null()) return std::nullopt;
    return r[0][0].as<std::string>();
  } catch (const pqxx::sql_error& e) {
    if (e.sqlstate().rfind("08", 0) == 0) throw;
    tx.exec("ROLLBACK TO SAVEPOINT dbrefresh_resolve_type");
    tx.exec("RELEASE SAVEPOINT dbrefresh_resolve_type");
    return std::nullopt;
  }
}

void RequireTypesResolve(pqxx::transaction_base& tx, const SnapshotTable& table, const TableMapping& mapping,
                         const std::string& snapshot_path) {
  for (const auto& c : mapping.columns) {
    if (c.source != ColumnSource::kCopy || c.snapshot_index < 0) continue;
    const ColumnInfo& column = table.info.columns.at(static_cast<size_t>(c.snapshot_index));
    if (!ResolveTypeOnTarget(tx, column.type)) {
      throw SnapshotError("snapshot " + snapshot_path + ": the type of column " + table.info.name + "." + column.name +
                          " names no type on the target (edited?); nothing written");
    }
  }
}

}  // namespace dbrefresh
