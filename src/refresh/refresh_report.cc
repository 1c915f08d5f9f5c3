// The refresh report: JSON for machines, a summary for the log (see refresh_report.h).
#include "refresh/refresh_report.h"

#include <cmath>
#include <sstream>

#include "common/log.h"

namespace dbrefresh {
namespace {

using nlohmann::json;

json PathOrNull(bool written, const std::string& path) { return written ? json(path) : json(); }

json StepJson(const StepRecord& s) {
  return {{"name", s.name}, {"status", s.status}, {"started_at", s.started_at},
          {"seconds", std::round(s.seconds * 1000) / 1000}, {"warnings", s.warnings}, {"counts", s.counts}};
}

std::string Seconds(double seconds) {
  std::ostringstream out;
  out.precision(seconds < 10 ? 2 : 1);
  out << std::fixed << seconds << " s";
  return out.str();
}

}  // namespace

json ToJson(const RefreshReport& r) {
  json out = {{"dbrefresh_version", DBREFRESH_VERSION}, {"started_at", r.started_at}, {"finished_at", r.finished_at},
              {"exit_code", r.exit_code}, {"strategy", r.strategy}, {"source", r.source}, {"target", r.target}};
  out["steps"] = json::array();
  std::vector<std::string> warnings;
  for (const auto& s : r.steps) {
    out["steps"].push_back(StepJson(s));
    warnings.insert(warnings.end(), s.warnings.begin(), s.warnings.end());
  }
  out["tables"] = json::array();
  for (const auto& t : r.tables) out["tables"].push_back(ToJson(t));
  out["paths"] = {{"snapshot", r.files.snapshot}, {"seed_sql", PathOrNull(r.seed_written, r.files.seed_sql)},
                  {"dropped_sql", PathOrNull(r.dropped_written, r.files.dropped_sql)}, {"report", r.files.report}};
  out["snapshot"] = out["paths"]["snapshot"];
  out["seed_sql"] = out["paths"]["seed_sql"];
  out["dropped_sql"] = out["paths"]["dropped_sql"];
  out["warnings"] = warnings;
  out["error"] = r.error.empty() ? json() : json(r.error);
  out["resume"] = r.resume.empty() ? json() : json(r.resume);
  out["resumed_from"] = r.resumed_from;
  return out;
}

void WriteReport(const RefreshReport& report, const std::string& path) {
  WritePrivateFile(path, ToJson(report).dump(2) + "\n");
}

void LogSummary(const RefreshReport& r) {
  log::Info("summary: refresh " + std::string(r.exit_code == 0 || r.exit_code == 5 ? "finished" : "failed"),
            {{"exit_code", r.exit_code}, {"strategy", r.strategy}, {"target", r.target}});
  for (const auto& s : r.steps) {
    log::Info("summary: step " + s.name + " " + s.status + " in " + Seconds(s.seconds),
              {{"warnings", s.warnings.size()}});
  }
  for (const auto& t : r.tables) {
    log::Info("summary: table " + t.table,
              {{"inserted", t.inserted}, {"updated", t.updated}, {"matched_by_key", t.matched_by_key},
               {"already_present", t.already_present}, {"to_seed_sql", t.to_seed_sql}});
  }
  for (const auto& s : r.steps) {
    for (const auto& w : s.warnings) log::Warn("summary: " + s.name + ": " + w);
  }
}

void PrintPaths(const RefreshReport& r, std::ostream& out) {
  out << "snapshot     " << r.files.snapshot << "\n";
  if (r.seed_written) out << "seed_sql     " << r.files.seed_sql << "\n";
  if (r.dropped_written) out << "dropped_sql  " << r.files.dropped_sql << "\n";
  out << "report       " << r.files.report << "\n";
  out.flush();
}

}  // namespace dbrefresh
