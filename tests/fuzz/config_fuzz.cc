// libFuzzer target: any text as a config file must parse or give a usage error (exit 2).
#include <cstdint>
#include <string>

#include "common/error.h"
#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    dbrefresh::ParseConfig(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
  } catch (const dbrefresh::Error& e) {
    if (e.code() != dbrefresh::ExitCode::kUsage) __builtin_trap();
  }
  return 0;
}
