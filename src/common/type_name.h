// A strict parse of the type names format_type() prints, for catalog text read from a snapshot file.
//
// Seed SQL casts literals to a column's type, so a type name taken from a (possibly edited)
// snapshot reaches generated SQL. Only names that cannot be anything but a type name pass.
#pragma once

#include <string>

namespace dbrefresh {

// True when `type` is, in full, one of:
//   - one of SQL's multi-word type names, as format_type spells them: "bit varying(n)",
//     "character varying(n)", "double precision", "time(n) with[out] time zone",
//     "timestamp(n) with[out] time zone", "interval <fields>(n)";
//   - one identifier, optionally schema-qualified, each part plain (letters, digits, _, $,
//     non-ASCII) or "quoted" (with "" for a quote), followed by at most one typmod: a
//     parenthesised list of (signed) integers or plain words ("numeric(10,2)", "geometry(Point,4326)");
// either followed by an optional "[]". Nothing else: no operators, literals, calls or comments.
bool IsFormatTypeName(const std::string& type);

}  // namespace dbrefresh
