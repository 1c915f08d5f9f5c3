// How refresh clears the target before the restore (SPEC section 5, step 5).
#pragma once

#include <string>

namespace dbrefresh {

enum class Strategy {
  kSchema,  // drop and recreate the dumped schemas (default): no target-only object can block
  kClean,   // pg_restore --clean --if-exists, today's behaviour, for comparison
  kSwap,    // restore into a new database and rename it into place (needs CREATEDB)
};

// "schema" | "clean" | "swap"; anything else is a UsageError (exit 2) naming the option.
Strategy ParseStrategy(const std::string& text);
const char* ToString(Strategy strategy);

}  // namespace dbrefresh
