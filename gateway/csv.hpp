#pragma once
// Reading CSV as RFC 4180 writes it, and as spreadsheets export it: fields separated by commas,
// records by CRLF, LF or a lone CR; a field in double quotes may hold commas, line breaks and
// doubled quotes (""). A UTF-8 byte order mark at the start is dropped. Pure: no I/O.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flowgate::gateway::csv {

struct record {
    std::size_t line = 0;  // the line the record starts on, from 1 (a quoted line break counts)
    std::vector<std::string> fields;
};

struct document {
    std::vector<record> records;  // blank lines are left out
    // The first malformed place ("line 4: a quoted field must end with a quote"); records then
    // holds what came before it.
    std::optional<std::string> error;
    bool truncated = false;  // more than max_records records: the rest was not read
};

// Reads up to `max_records` records (the header counts as one).
document parse(std::string_view text, std::size_t max_records = static_cast<std::size_t>(-1));

}  // namespace flowgate::gateway::csv
