// Seed SQL text generation (see seed_writer.h).
#include "seed/seed_writer.h"

#include "common/session_settings.h"
#include "common/sql_text.h"

namespace dbrefresh {
namespace {

std::optional<std::string> ColumnValue(const SeedColumn& column, const RowValues& row) {
  if (column.snapshot_index >= 0) return row[static_cast<size_t>(column.snapshot_index)];
  return column.literal;
}

const ParentLookup* LookupFor(const SeedTable& table, const std::string& column) {
  for (const auto& p : table.parents) {
    if (p.fk_column == column) return &p;
  }
  return nullptr;
}

}  // namespace

void SeedWriter::Begin(const std::vector<std::string>& header_lines) {
  for (const auto& line : header_lines) out_ << "-- " << sql::CommentText(line) << "\n";
  out_ << "-- Idempotent: run with psql -v ON_ERROR_STOP=1 -f FILE; a second run changes nothing.\n"
       << "SET standard_conforming_strings = on;\n"
       << "-- The values below are PostgreSQL's text under these settings, whatever the database's defaults.\n"
       << PinnedSettingsSql("\n") << "\n"
       << "BEGIN;\n";
}

void SeedWriter::Table(const SeedTable& table, long long rows) {
  out_ << "\n-- " << sql::CommentText(table.schema + "." + table.table) << ": " << rows << " row(s)\n";
}

std::string SeedWriter::ValueExpression(const SeedTable& table, const SeedColumn& column, const RowValues& row) const {
  const auto value = ColumnValue(column, row);
  const std::string literal = sql::TypedLiteral(value, column.type);
  const ParentLookup* parent = value ? LookupFor(table, column.name) : nullptr;
  if (!parent) return literal;
  const auto match = parent->find_parent(*value);
  if (!match) return literal;
  std::string where;
  for (size_t i = 0; i < parent->match_columns.size(); ++i) {
    if (!(*match)[i]) return literal;  // a NULL key matches nothing; keep the snapshot's id
    where += (where.empty() ? "" : " AND ") + std::string("p.") + sql::QuoteIdent(parent->match_columns[i]) + " = " +
             sql::TypedLiteral((*match)[i], parent->match_types[i]);
  }
  return "COALESCE((SELECT p." + sql::QuoteIdent(parent->parent_key_column) + " FROM " +
         sql::QualifiedName(table.schema, parent->parent_table) + " p WHERE " + where + "), " + literal + ")";
}

void SeedWriter::Row(const SeedTable& table, const RowValues& row, const std::string& reason) {
  if (!reason.empty()) out_ << "-- " << sql::CommentText(reason) << "\n";
  std::vector<std::string> names;
  std::string values;
  for (const auto& c : table.columns) {
    names.push_back(c.name);
    values += (values.empty() ? "" : ", ") + ValueExpression(table, c, row);
  }
  out_ << "INSERT INTO " << sql::QualifiedName(table.schema, table.table) << " (" << sql::IdentList(names) << ")"
       << (table.overriding_system_value ? " OVERRIDING SYSTEM VALUE" : "") << "\nSELECT " << sql::IdentList(names, "v")
       << " FROM (VALUES (" << values << ")) AS v(" << sql::IdentList(names) << ")";
  if (!table.duplicate_check.empty()) {
    std::string same;
    for (const auto& c : table.duplicate_check) {
      same += (same.empty() ? "" : " AND ") + std::string("d.") + sql::QuoteIdent(c) + " IS NOT DISTINCT FROM v." +
              sql::QuoteIdent(c);
    }
    out_ << "\nWHERE NOT EXISTS (SELECT 1 FROM " << sql::QualifiedName(table.schema, table.table) << " d WHERE " << same
         << ")";
  }
  out_ << "\nON CONFLICT DO NOTHING;\n";
}

void SeedWriter::TableDone(const SeedTable& table) {
  const std::string qualified = sql::QualifiedName(table.schema, table.table);
  for (const auto& column : table.sequence_columns) {
    out_ << "SELECT setval(s, m) FROM (SELECT pg_get_serial_sequence(" << sql::QuoteLiteral(qualified) << ", "
         << sql::QuoteLiteral(column) << ") AS s, (SELECT max(" << sql::QuoteIdent(column) << ")::bigint FROM " << qualified
         << ") AS m) x\nWHERE s IS NOT NULL AND m IS NOT NULL AND m >= coalesce(pg_sequence_last_value(s::regclass), 0);\n";
  }
}

void SeedWriter::End() { out_ << "\nCOMMIT;\n"; }

}  // namespace dbrefresh
