// Strategy names (see strategy.h).
#include "refresh/strategy.h"

#include "common/error.h"

namespace dbrefresh {

Strategy ParseStrategy(const std::string& text) {
  if (text == "schema") return Strategy::kSchema;
  if (text == "clean") return Strategy::kClean;
  if (text == "swap") return Strategy::kSwap;
  throw UsageError("--strategy must be schema, clean or swap (got '" + text + "')");
}

const char* ToString(Strategy strategy) {
  switch (strategy) {
    case Strategy::kSchema: return "schema";
    case Strategy::kClean: return "clean";
    case Strategy::kSwap: return "swap";
  }
  return "schema";
}

}  // namespace dbrefresh
