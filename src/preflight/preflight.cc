// Preflight: read both sides' facts, check the client programs, judge (see preflight.h).
#include "preflight/preflight.h"

#include "common/error.h"
#include "common/log.h"
#include "connect/pg_session.h"
#include "preflight/analyze.h"
#include "preflight/schema_facts.h"

namespace dbrefresh {

std::vector<ToolCheck> CheckTools(ProcessRunner& runner, const PgTools& tools) {
  std::vector<ToolCheck> checks;
  for (const char* program : {"pg_dump", "pg_restore"}) {
    ToolCheck check{program, tools.Path(program), 0, ""};
    try {
      check.major = ToolMajor(runner, tools, program);
    } catch (const Error& e) {
      check.error = e.what();
    }
    checks.push_back(std::move(check));
  }
  return checks;
}

PreflightReport Preflight(const ConnectionSpec& source, const ConnectionSpec& target, const Config& config,
                          const PreflightOptions& options) {
  const std::string strategy = options.strategy.empty() ? config.strategy : options.strategy;
  PgSession source_session = OpenSession(source, Access::kReadOnly);
  PgSession target_session = OpenSession(target, Access::kReadOnly);
  log::Info("preflight: reading the catalogs", {{"source", source_session.masked}, {"target", target_session.masked}});
  SchemaFacts source_facts = ReadSchemaFacts(source_session, config);
  SchemaFacts target_facts = ReadSchemaFacts(target_session, config);
  std::vector<ToolCheck> tools;
  if (options.runner) tools = CheckTools(*options.runner, options.tools);
  PreflightReport report = AnalyzeSchemas(source_facts, target_facts, config, strategy, tools);
  log::Info("preflight: done", {{"verdict", VerdictName(report.verdict())}, {"findings", report.findings.size()}});
  return report;
}

}  // namespace dbrefresh
