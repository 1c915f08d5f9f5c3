// Logging to stderr, as human text or one JSON object per line (for Kubernetes pod logs).
//
// Data goes to stdout; everything a person reads about progress goes through here.
// Callers never pass a password: connections are rendered with MaskedConnection first.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace dbrefresh::log {

enum class Format { kText, kJson };
enum class Level { kDebug, kInfo, kWarn, kError };

// Set once by the command layer from --log-format / --quiet / --verbose.
void Configure(Format format, Level min_level);
Format CurrentFormat();

// Writes one line. `fields` (an object) appear as key=value in text and as keys in JSON.
void Write(Level level, const std::string& message, const nlohmann::json& fields = nlohmann::json::object());

inline void Debug(const std::string& m, const nlohmann::json& f = nlohmann::json::object()) { Write(Level::kDebug, m, f); }
inline void Info(const std::string& m, const nlohmann::json& f = nlohmann::json::object()) { Write(Level::kInfo, m, f); }
inline void Warn(const std::string& m, const nlohmann::json& f = nlohmann::json::object()) { Write(Level::kWarn, m, f); }
inline void Error(const std::string& m, const nlohmann::json& f = nlohmann::json::object()) { Write(Level::kError, m, f); }

// The current UTC time as ISO 8601 with a trailing Z, for logs, reports and snapshot metadata.
std::string UtcNow();

}  // namespace dbrefresh::log
