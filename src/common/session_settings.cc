// The pinned text settings (see session_settings.h).
#include "common/session_settings.h"

namespace dbrefresh {

const std::vector<PinnedSetting>& PinnedSessionSettings() {
  static const std::vector<PinnedSetting> kSettings = {
      {"DateStyle", "ISO, MDY", "session_datestyle"},
      {"IntervalStyle", "postgres", "session_intervalstyle"},
      {"extra_float_digits", "3", "session_extra_float_digits"},
      {"client_encoding", "UTF8", "session_client_encoding"},
  };
  return kSettings;
}

std::string PinnedSettingsSql(const std::string& separator) {
  std::string sql;
  for (const auto& s : PinnedSessionSettings()) {
    if (!sql.empty()) sql += separator;
    sql += "SET " + s.name + " = '" + s.value + "';";
  }
  return sql;
}

}  // namespace dbrefresh
