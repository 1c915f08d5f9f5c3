// The process exit codes of SPEC section 6, in one place.
#pragma once

namespace dbrefresh {

enum class ExitCode : int {
  kOk = 0,            // success; warnings are in the log and the report
  kFailure = 1,       // any failure not listed below
  kUsage = 2,         // usage or config error, including no connection given
  kConnection = 3,    // connection or authentication error
  kBlocked = 4,       // blocking findings or a guard refusal; nothing changed
  kRowsToSeed = 5,    // finished, but some rows went to seed SQL instead of the database
  kBadSnapshot = 6,   // snapshot file missing, corrupt or of an unknown format
};

inline int ToInt(ExitCode code) { return static_cast<int>(code); }

}  // namespace dbrefresh
