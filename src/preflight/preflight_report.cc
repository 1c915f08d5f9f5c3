// Rendering the preflight report: the stable JSON shape (see the header) and the human tables.
#include "preflight/preflight_report.h"

#include <algorithm>
#include <iomanip>

namespace dbrefresh {
namespace {

using nlohmann::json;

json MigrationsJson(const std::vector<catalog::Migration>& migrations) {
  json out = json::array();
  for (const auto& m : migrations) out.push_back({{"version", m.version}, {"description", m.description}, {"script", m.script}});
  return out;
}

json SideJson(const SideSummary& s) {
  return {{"connection", s.connection}, {"database", s.database}, {"server_version", s.server_version},
          {"server_major", s.server_major}, {"flyway_latest", s.flyway_latest}, {"migrations", s.migrations}};
}

json ColumnsJson(const std::vector<ColumnInfo>& columns) {
  json out = json::array();
  for (const auto& c : columns) out.push_back({{"column", c.name}, {"type", c.type}, {"not_null", c.not_null}});
  return out;
}

json DiffJson(const TableColumnDiff& d) {
  json changed = json::array();
  for (const auto& c : d.type_changed) {
    changed.push_back({{"column", c.column}, {"source_type", c.source_type}, {"target_type", c.target_type}});
  }
  return {{"table", d.table}, {"preserved", d.preserved}, {"only_on_source", ColumnsJson(d.only_on_source)},
          {"only_on_target", ColumnsJson(d.only_on_target)}, {"type_changed", changed}};
}

json PreservedJson(const PreservedTablePlan& p) {
  json out = {{"table", p.table}, {"on_source", p.on_source}, {"on_target", p.on_target},
              {"columns", json::array()}, {"dropped", json::array()}, {"warnings", json::array()}};
  if (!p.mapping) return out;
  for (const auto& c : p.mapping->columns) {
    json column = {{"column", c.column}, {"type", c.type}, {"action", ToString(c.source)}};
    if (c.literal) column["value"] = *c.literal;
    out["columns"].push_back(column);
  }
  out["dropped"] = p.mapping->snapshot_only;
  out["warnings"] = p.mapping->warnings;
  return out;
}

std::string ColumnText(const ColumnInfo& c) { return c.name + " " + c.type + (c.not_null ? " NOT NULL" : ""); }

std::string Joined(const std::vector<std::string>& items, const std::string& separator = ", ") {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

void PrintMigrations(const PreflightReport& r, std::ostream& out) {
  const auto& d = r.drift;
  out << "Migrations (successful versions, Flyway order)\n"
      << "  source latest: " << (d.source_latest.empty() ? "(no history)" : d.source_latest) << " (" << r.source.migrations
      << " migrations)\n  target latest: " << (d.target_latest.empty() ? "(no history)" : d.target_latest) << " ("
      << r.target.migrations << " migrations)\n";
  out << "  only on target (the refresh will undo them):" << (d.only_on_target.empty() ? " none" : "") << "\n";
  for (const auto& m : d.only_on_target) out << "    " << std::left << std::setw(22) << m.version << " " << m.script << "\n";
  out << "  only on source (the refresh brings them):" << (d.only_on_source.empty() ? " none" : "") << "\n";
  for (const auto& m : d.only_on_source) out << "    " << std::left << std::setw(22) << m.version << " " << m.script << "\n";
}

void PrintTargetOnly(const PreflightReport& r, std::ostream& out) {
  out << "\nTarget-only objects" << (r.target_only.empty() ? ": none" : "") << "\n";
  if (r.target_only.empty()) return;
  out << "  " << std::left << std::setw(18) << "KIND" << std::setw(36) << "NAME" << std::setw(14) << "BLOCKS CLEAN"
      << "WHY\n";
  for (const auto& o : r.target_only) {
    std::string why = o.chain.empty() ? "" : o.chain + " (" + Joined(o.how, "; ") + ")";
    out << "  " << std::left << std::setw(18) << o.object.kind << std::setw(36) << o.object.name << std::setw(14)
        << (o.blocks_clean ? "yes" : "no") << why << "\n";
  }
}

void PrintColumnDiffs(const PreflightReport& r, std::ostream& out) {
  out << "\nColumn differences (tables on both sides)" << (r.column_differences.empty() ? ": none" : "") << "\n";
  for (const auto& d : r.column_differences) {
    out << "  " << d.table << (d.preserved ? " (preserved)" : "") << "\n";
    std::vector<std::string> only_target, only_source, changed;
    for (const auto& c : d.only_on_target) only_target.push_back(ColumnText(c));
    for (const auto& c : d.only_on_source) only_source.push_back(ColumnText(c));
    for (const auto& c : d.type_changed) changed.push_back(c.column + " " + c.target_type + " -> " + c.source_type);
    if (!only_target.empty()) out << "    only on target: " << Joined(only_target) << "\n";
    if (!only_source.empty()) out << "    only on source: " << Joined(only_source) << "\n";
    if (!changed.empty()) out << "    type changes (target -> source): " << Joined(changed) << "\n";
  }
}

void PrintPreserved(const PreflightReport& r, std::ostream& out) {
  out << "\nPreserved tables: what restore-users will do after the restore\n";
  for (const auto& p : r.preserved) {
    if (!p.mapping) {
      out << "  " << p.table << ": " << (p.on_source ? "" : "missing on the source ") << (p.on_target ? "" : "missing on the target")
          << "\n";
      continue;
    }
    out << "  " << p.table << "\n";
    for (const auto& c : p.mapping->columns) {
      out << "    " << std::left << std::setw(40) << c.column << std::setw(30) << c.type << ToString(c.source)
          << (c.literal ? " '" + *c.literal + "'" : "") << "\n";
    }
    if (!p.mapping->snapshot_only.empty()) {
      out << "    not inserted now, kept in the snapshot: " << Joined(p.mapping->snapshot_only) << "\n";
    }
  }
}

void PrintFindings(const PreflightReport& r, std::ostream& out) {
  out << "\nFindings" << (r.findings.empty() ? ": none" : "") << "\n";
  for (const auto& f : r.findings) {
    out << "  " << std::left << std::setw(9) << ToString(f.severity) << f.message << "\n";
  }
  out << "\nVerdict: " << VerdictName(r.verdict()) << "\n";
}

}  // namespace

const char* ToString(Severity severity) {
  switch (severity) {
    case Severity::kInfo: return "info";
    case Severity::kWarning: return "warning";
    case Severity::kBlocking: return "blocking";
  }
  return "info";
}

Severity PreflightReport::verdict() const {
  Severity worst = Severity::kInfo;
  for (const auto& f : findings) worst = std::max(worst, f.severity);
  return worst;
}

std::vector<const Finding*> PreflightReport::Blocking() const {
  std::vector<const Finding*> out;
  for (const auto& f : findings) {
    if (f.severity == Severity::kBlocking) out.push_back(&f);
  }
  return out;
}

std::string VerdictName(Severity verdict) {
  switch (verdict) {
    case Severity::kInfo: return "ok";
    case Severity::kWarning: return "warnings";
    case Severity::kBlocking: return "blocking";
  }
  return "ok";
}

json ToJson(const PreflightReport& r) {
  json out = {{"verdict", VerdictName(r.verdict())}, {"strategy", r.strategy}, {"source", SideJson(r.source)},
              {"target", SideJson(r.target)}};
  out["migrations"] = {{"source_latest", r.drift.source_latest}, {"target_latest", r.drift.target_latest},
                       {"only_on_target", MigrationsJson(r.drift.only_on_target)},
                       {"only_on_source", MigrationsJson(r.drift.only_on_source)}};
  out["target_only_objects"] = json::array();
  for (const auto& o : r.target_only) {
    out["target_only_objects"].push_back({{"kind", o.object.kind}, {"name", o.object.name},
                                          {"blocks_clean", o.blocks_clean}, {"chain", o.chain}, {"how", o.how}});
  }
  out["column_differences"] = json::array();
  for (const auto& d : r.column_differences) out["column_differences"].push_back(DiffJson(d));
  out["preserved_tables"] = json::array();
  for (const auto& p : r.preserved) out["preserved_tables"].push_back(PreservedJson(p));
  out["tools"] = json::array();
  for (const auto& t : r.tools) out["tools"].push_back({{"program", t.program}, {"path", t.path}, {"major", t.major}, {"error", t.error}});
  out["findings"] = json::array();
  for (const auto& f : r.findings) {
    out["findings"].push_back({{"severity", ToString(f.severity)}, {"code", f.code}, {"message", f.message}});
  }
  return out;
}

void PrintReport(const PreflightReport& r, std::ostream& out) {
  out << "Preflight, strategy " << r.strategy << "\n"
      << "  source: " << r.source.connection << " (PostgreSQL " << r.source.server_version << ")\n"
      << "  target: " << r.target.connection << " (PostgreSQL " << r.target.server_version << ")\n\n";
  PrintMigrations(r, out);
  PrintTargetOnly(r, out);
  PrintColumnDiffs(r, out);
  PrintPreserved(r, out);
  PrintFindings(r, out);
}

}  // namespace dbrefresh
