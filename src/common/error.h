// The one exception type that crosses module boundaries: a message plus the exit code it maps to.
//
// Modules throw Error with the context a person needs (file, table, key); the command
// layer catches it once, prints "error: <message>" and exits with its code.
#pragma once

#include <stdexcept>
#include <string>

#include "common/exit_code.h"

namespace dbrefresh {

class Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

inline Error UsageError(const std::string& m) { return Error(ExitCode::kUsage, m); }
inline Error ConnectionError(const std::string& m) { return Error(ExitCode::kConnection, m); }
inline Error BlockedError(const std::string& m) { return Error(ExitCode::kBlocked, m); }
inline Error SnapshotError(const std::string& m) { return Error(ExitCode::kBadSnapshot, m); }
inline Error Failure(const std::string& m) { return Error(ExitCode::kFailure, m); }

}  // namespace dbrefresh
