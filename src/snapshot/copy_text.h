// PostgreSQL's COPY text format: one line per row, tab-separated, \N for NULL, backslash escapes.
//
// libpqxx 6.4's stream_from hands out raw lines for tables of unknown shape; this decodes them
// into the exact text values PostgreSQL printed, and encodes values back for stream_to.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dbrefresh::copy_text {

// Splits one COPY line (without its trailing newline) into `fields` into `out`.
// Throws dbrefresh::Error when the field count differs from `expected_fields`.
void DecodeLine(std::string_view line, size_t expected_fields, std::vector<std::optional<std::string>>& out);

// Escapes one value for a COPY text line; nullopt becomes \N.
std::string EncodeField(const std::optional<std::string>& value);
// The same, appended to `line` (the hot path of staging rows).
void AppendField(std::string& line, const std::optional<std::string>& value);

}  // namespace dbrefresh::copy_text
