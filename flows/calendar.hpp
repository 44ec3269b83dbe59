#pragma once
// Wall-clock dates and times in a time zone (ICU's zone data): what a workshop's "10:00 in
// Asia/Amman" is as an instant, when a reminder "2 days before at 10:00" falls, and how a date
// reads in a participant's language. Pure: no clock is read.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/types.hpp"

namespace flowgate::flows {

// True for a zone ICU knows ("Asia/Amman", "Africa/Lagos", "UTC").
bool is_time_zone(std::string_view tz);

// The instant at which the wall clock in `tz` shows `date` at `minutes` after midnight. A time
// that a DST change skips is read as if the clock had not changed yet (ICU's lenient rule).
timestamp from_local(const std::chrono::year_month_day& date, int minutes, std::string_view tz);

// "2027-03-14T10:00" (wall clock in `tz`) → the instant; nullopt when malformed or impossible.
std::optional<timestamp> parse_local(std::string_view text, std::string_view tz);

// `t` as the wall clock in `tz` shows it: "2027-03-14T10:00" (the form parse_local reads).
std::string format_local_iso(timestamp t, std::string_view tz);

// When a reminder `offset` from `start` falls. Whole-day offsets move the date on the wall
// calendar (so DST changes do not shift the hour), and `at` (minutes after midnight) then sets
// the time of that day; other offsets are exact durations.
timestamp reminder_time(timestamp start,
                        std::string_view tz,
                        std::chrono::minutes offset,
                        std::optional<int> at);

// How people read `t` in `tz`, in a language ("en", "ar", "fr"): "Sun 14 Mar" / "dim. 14 mars" /
// Arabic with Arabic-Indic digits, and "10:00" on a 24-hour clock.
std::string format_local_date(timestamp t, std::string_view tz, std::string_view language);
std::string format_local_time(timestamp t, std::string_view tz, std::string_view language);

}  // namespace flowgate::flows
