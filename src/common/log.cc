// Logging to stderr: text for people, JSON lines for log collectors.
#include "common/log.h"

#include <chrono>
#include <ctime>
#include <iostream>
#include <mutex>

namespace dbrefresh::log {
namespace {

Format g_format = Format::kText;
Level g_min_level = Level::kInfo;
std::mutex g_mutex;  // the process runner logs from its reader thread too

const char* LevelName(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warning";
    case Level::kError: return "error";
  }
  return "info";
}

std::string FieldText(const nlohmann::json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

}  // namespace

void Configure(Format format, Level min_level) {
  g_format = format;
  g_min_level = min_level;
}

Format CurrentFormat() { return g_format; }

std::string UtcNow() {
  auto now = std::chrono::system_clock::now();
  std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

void Write(Level level, const std::string& message, const nlohmann::json& fields) {
  if (level < g_min_level) return;
  std::string line;
  if (g_format == Format::kJson) {
    nlohmann::json record = {{"time", UtcNow()}, {"level", LevelName(level)}, {"msg", message}};
    for (auto it = fields.begin(); it != fields.end(); ++it) record[it.key()] = it.value();
    line = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = message;
    if (level == Level::kWarn) line = "warning: " + line;
    if (level == Level::kError) line = "error: " + line;
    for (auto it = fields.begin(); it != fields.end(); ++it) line += " " + it.key() + "=" + FieldText(it.value());
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  std::cerr << line << '\n';
}

}  // namespace dbrefresh::log
