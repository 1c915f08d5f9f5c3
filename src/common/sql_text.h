// The one place SQL text is built from names and values: identifier and literal quoting.
//
// Live statements pass values as parameters or COPY data; these functions serve the
// identifiers in every statement and the literals of generated seed SQL, which must be
// replayable by psql with standard_conforming_strings on (the default since 9.1).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace dbrefresh::sql {

// "name" with embedded double quotes doubled. Always quoted, so case and reserved words survive.
std::string QuoteIdent(const std::string& name);

// "schema"."name".
std::string QualifiedName(const std::string& schema, const std::string& name);

// 'value' with embedded single quotes doubled; backslashes stay literal
// (standard_conforming_strings). NULL when the value is absent.
std::string QuoteLiteral(const std::optional<std::string>& value);

// Comma-separated quoted identifiers, optionally each prefixed with `alias.`.
std::string IdentList(const std::vector<std::string>& names, const std::string& alias = "");

// A literal cast to a type as format_type prints it: 'value'::type, or NULL::type.
std::string TypedLiteral(const std::optional<std::string>& value, const std::string& type);

// A format_type name without its typmods, for a cast whose result is then assigned to a column of
// the full type: "character varying(20)[]" -> "character varying[]", "timestamp(3) with time zone" ->
// "timestamp with time zone". An explicit cast to varchar(2) quietly keeps "An" of "Ann", where the
// assignment (like INSERT and COPY) refuses it. character(n) and bit(n) become bpchar and bit
// varying, because a bare "character" or "bit" means a length of 1.
std::string WithoutTypmod(const std::string& type);

// Makes text safe inside a "-- comment" line: newlines and carriage returns become spaces.
std::string CommentText(const std::string& text);

}  // namespace dbrefresh::sql
