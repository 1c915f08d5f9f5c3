// Preflight's classification rules (see analyze.h and SPEC section 5 "What blocks").
#include "preflight/analyze.h"

#include "process/pg_tools.h"

namespace dbrefresh {
namespace {

std::string Joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

void Add(PreflightReport& r, Severity severity, const std::string& code, const std::string& message) {
  r.findings.push_back({severity, code, message});
}

void JudgeDrift(PreflightReport& r) {
  const auto& d = r.drift;
  if (d.target_ahead()) {
    std::vector<std::string> versions;
    for (const auto& m : d.only_on_target) versions.push_back(m.version);
    Add(r, Severity::kWarning, "migrations_only_on_target",
        std::to_string(versions.size()) + " migration(s) only on the target, the refresh will undo them: " + Joined(versions) +
            "; re-apply them after the restore (post_restore_command), then restore-users --on-conflict update fills "
            "their columns from the snapshot");
  }
  if (!d.only_on_source.empty()) {
    std::vector<std::string> versions;
    for (const auto& m : d.only_on_source) versions.push_back(m.version);
    Add(r, Severity::kInfo, "migrations_only_on_source",
        std::to_string(versions.size()) + " migration(s) only on the source, the refresh brings them: " + Joined(versions));
  }
}

std::string ObjectFate(const TargetOnlyObject& o, const std::string& strategy) {
  std::string why = o.chain.empty() ? "" : " (" + o.chain + ")";
  if (strategy == "swap") return Describe(o.object) + why + " is not in the refreshed database; the old database keeps it";
  return Describe(o.object) + why + " will be dropped with its schema; its DDL goes to the .dropped.sql file";
}

void JudgeTargetOnly(PreflightReport& r) {
  for (const auto& o : r.target_only) {
    if (r.strategy != "clean") {
      Add(r, Severity::kWarning, o.blocks_clean ? "target_only_object_blocks_clean" : "target_only_object",
          ObjectFate(o, r.strategy));
    } else if (o.blocks_clean) {
      Add(r, Severity::kBlocking, "target_only_object_blocks_clean",
          Describe(o.object) + " blocks pg_restore --clean: " + o.chain + " (" + o.how.front() +
              "); use --strategy schema (the default) or drop it first");
    } else {
      Add(r, Severity::kInfo, "target_only_object", Describe(o.object) + " stays in place: pg_restore --clean does not touch it");
    }
  }
}

void JudgeMapping(PreflightReport& r, const TableMapping& m) {
  if (!m.snapshot_only.empty()) {
    Add(r, Severity::kWarning, "preserved_columns_dropped",
        m.table + ": column(s) " + Joined(m.snapshot_only) +
            " only on the target: not inserted after the restore, kept in the snapshot for restore-users "
            "--on-conflict update once the migrations that add them are re-applied");
  }
  for (const auto& c : m.columns) {
    const std::string column = m.table + "." + c.column + " (" + c.type + ", NOT NULL, no default on the source)";
    if (c.source == ColumnSource::kConfigDefault) {
      Add(r, Severity::kInfo, "preserved_column_defaulted", column + " gets the configured value '" + *c.literal + "'");
    } else if (c.source == ColumnSource::kTypeDefault) {
      Add(r, Severity::kWarning, "preserved_column_defaulted",
          column + " gets '" + *c.literal + "' for its type; set preserve[].defaults." + c.column + " in the config to choose");
    } else if (c.source == ColumnSource::kUnfillable) {
      Add(r, Severity::kWarning, "preserved_rows_to_seed",
          column + ": no value fits, so its rows would go to the seed SQL; set preserve[].defaults." + c.column);
    }
  }
}

void PlanPreserved(PreflightReport& r, const SchemaFacts& source, const SchemaFacts& target, const Config& config) {
  for (const auto& spec : config.preserve) {
    PreservedTablePlan plan;
    plan.table = spec.table;
    auto src = source.tables.find(spec.table);
    auto tgt = target.tables.find(spec.table);
    plan.on_source = src != source.tables.end();
    plan.on_target = tgt != target.tables.end();
    const std::string name = config.schema + "." + spec.table;
    if (!plan.on_source) {
      Add(r, Severity::kBlocking, "preserved_table_missing_on_source",
          "preserved table " + name + " is missing on the source: its rows would have nowhere to go after the restore");
    }
    if (!plan.on_target) {
      Add(r, Severity::kBlocking, "preserved_table_missing_on_target",
          "preserved table " + name + " is missing on the target: there is nothing to snapshot (check preserve in the config)");
    }
    if (plan.on_source && plan.on_target) {
      plan.mapping = PlanTableMapping(tgt->second, src->second, spec.defaults);
      JudgeMapping(r, *plan.mapping);
    }
    r.preserved.push_back(std::move(plan));
  }
}

void JudgeTools(PreflightReport& r) {
  for (const auto& t : r.tools) {
    if (!t.error.empty()) {
      Add(r, Severity::kBlocking, "tool_unavailable", t.program + " (" + t.path + "): " + t.error);
      continue;
    }
    for (const auto& [role, side] : {std::pair{"source", &r.source}, std::pair{"target", &r.target}}) {
      if (auto problem = ToolTooOld(t.program, t.major, role, side->server_major)) {
        Add(r, Severity::kBlocking, "tool_too_old", *problem);
      }
    }
  }
}

}  // namespace

TableColumnDiff DiffColumns(const TableInfo& source, const TableInfo& target) {
  TableColumnDiff diff;
  diff.table = target.name;
  for (const auto& c : source.columns) {
    const ColumnInfo* other = target.FindColumn(c.name);
    if (!other) {
      diff.only_on_source.push_back(c);
    } else if (other->type != c.type) {
      diff.type_changed.push_back({c.name, c.type, other->type});
    }
  }
  for (const auto& c : target.columns) {
    if (!source.FindColumn(c.name)) diff.only_on_target.push_back(c);
  }
  return diff;
}

PreflightReport AnalyzeSchemas(const SchemaFacts& source, const SchemaFacts& target, const Config& config,
                               const std::string& strategy, const std::vector<ToolCheck>& tools) {
  PreflightReport r;
  r.strategy = strategy;
  r.source = source.summary;
  r.target = target.summary;
  r.tools = tools;
  r.drift = ComputeDrift(source.migrations, target.migrations);
  r.target_only = FindTargetOnlyObjects(source.objects, target.objects, target.dependencies);
  for (const auto& [name, table] : target.tables) {
    auto src = source.tables.find(name);
    if (src == source.tables.end()) continue;
    TableColumnDiff diff = DiffColumns(src->second, table);
    diff.preserved = config.FindPreserve(name) != nullptr;
    if (!diff.only_on_source.empty() || !diff.only_on_target.empty() || !diff.type_changed.empty()) {
      r.column_differences.push_back(std::move(diff));
    }
  }
  JudgeTools(r);
  PlanPreserved(r, source, target, config);
  JudgeDrift(r);
  JudgeTargetOnly(r);
  return r;
}

}  // namespace dbrefresh
