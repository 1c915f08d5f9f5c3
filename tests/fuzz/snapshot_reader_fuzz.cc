// libFuzzer target: any bytes as a snapshot file must give a SnapshotError or a readable snapshot,
// never a crash, a hang or a partial read.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "common/error.h"
#include "snapshot/snapshot_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/dbrefresh-fuzz-snapshot-" + std::to_string(::getpid()) + ".db";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    dbrefresh::SnapshotReader reader(path);
    for (const auto& table : reader.tables()) {
      reader.ForEachRow(table, [&](const dbrefresh::RowValues& row) {
        if (row.size() != table.info.columns.size()) __builtin_trap();  // rows must match the metadata
      });
    }
  } catch (const dbrefresh::Error& e) {
    if (e.code() != dbrefresh::ExitCode::kBadSnapshot) __builtin_trap();  // only exit 6 for bad files
  }
  return 0;
}
