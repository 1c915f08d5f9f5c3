// The session settings under which dbrefresh reads and writes values as text (SPEC section 3).
//
// A date, an interval or a float printed by PostgreSQL reads back as the same value only under
// the settings it was printed with: DateStyle 'SQL, DMY' prints 13/08/2025, IntervalStyle
// sql_standard reads "-1 2:00:00" as minus one day minus two hours, and a float printed with
// fewer digits loses its last bits. Every session that moves values as text pins these, whatever
// the database's or role's defaults; the snapshot records them and its reader checks them.
#pragma once

#include <string>
#include <vector>

namespace dbrefresh {

struct PinnedSetting {
  std::string name;     // the GUC, as SET takes it
  std::string value;    // as SET takes it and SHOW prints it back
  std::string meta_key; // the snapshot's dbrefresh_meta key recording it
};

// DateStyle = 'ISO, MDY', IntervalStyle = postgres, extra_float_digits = 3, client_encoding = UTF8.
const std::vector<PinnedSetting>& PinnedSessionSettings();

// "SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; ..." (one statement per setting,
// each ending in ";"), for a live session and for the top of seed SQL.
std::string PinnedSettingsSql(const std::string& separator = " ");

}  // namespace dbrefresh
