#include "flows/calendar.hpp"

#include <unicode/calendar.h>
#include <unicode/datefmt.h>
#include <unicode/gregocal.h>
#include <unicode/locid.h>
#include <unicode/timezone.h>

#include <cstdio>
#include <memory>

#include "flows/icu_text.hpp"

namespace flowgate::flows {

namespace {

using icu_text::to_unicode;
using icu_text::to_utf8;

// Unknown zones fall back to UTC (the config refuses them before anything runs).
std::unique_ptr<icu::TimeZone> zone(std::string_view tz) {
    std::unique_ptr<icu::TimeZone> z(icu::TimeZone::createTimeZone(to_unicode(tz)));
    if (!z || *z == icu::TimeZone::getUnknown()) {
        z.reset(icu::TimeZone::getGMT()->clone());
    }
    return z;
}

std::unique_ptr<icu::Calendar> calendar(std::string_view tz) {
    UErrorCode status = U_ZERO_ERROR;
    auto cal = std::make_unique<icu::GregorianCalendar>(zone(tz).release(), status);
    return cal;
}

std::string format(timestamp t, std::string_view tz, std::string_view language, const char* skeleton) {
    UErrorCode status = U_ZERO_ERROR;
    // Participants in Jordan, Lebanon and Nigeria read English dates the British way: "Sun 14 Mar".
    const icu::Locale locale(language == "en" ? "en_GB" : std::string(language).c_str());
    std::unique_ptr<icu::DateFormat> f(
        icu::DateFormat::createInstanceForSkeleton(icu::UnicodeString(skeleton), locale, status));
    if (U_FAILURE(status) || !f) {
        return {};
    }
    f->adoptTimeZone(zone(tz).release());
    icu::UnicodeString out;
    f->format(static_cast<UDate>(to_millis(t)), out);
    return to_utf8(out);
}

}  // namespace

bool is_time_zone(std::string_view tz) {
    std::unique_ptr<icu::TimeZone> z(icu::TimeZone::createTimeZone(to_unicode(tz)));
    return z && *z != icu::TimeZone::getUnknown();
}

timestamp from_local(const std::chrono::year_month_day& date, int minutes, std::string_view tz) {
    auto cal = calendar(tz);
    cal->clear();
    cal->set(static_cast<int32_t>(static_cast<int>(date.year())),
             static_cast<int32_t>(static_cast<unsigned>(date.month())) - 1,
             static_cast<int32_t>(static_cast<unsigned>(date.day())),
             minutes / 60,
             minutes % 60,
             0);
    UErrorCode status = U_ZERO_ERROR;
    const UDate when = cal->getTime(status);
    return from_millis(static_cast<std::int64_t>(when));
}

std::optional<timestamp> parse_local(std::string_view text, std::string_view tz) {
    int y = 0;
    unsigned mo = 0;
    unsigned d = 0;
    int h = 0;
    int mi = 0;
    char tail = 0;
    const std::string s(text);
    if (s.size() != 16 || std::sscanf(s.c_str(), "%4d-%2u-%2uT%2d:%2d%c", &y, &mo, &d, &h, &mi, &tail) != 5) {
        return std::nullopt;
    }
    const std::chrono::year_month_day date{std::chrono::year{y}, std::chrono::month{mo}, std::chrono::day{d}};
    if (!date.ok() || h < 0 || h > 23 || mi < 0 || mi > 59) {
        return std::nullopt;
    }
    return from_local(date, h * 60 + mi, tz);
}

std::string format_local_iso(timestamp t, std::string_view tz) {
    auto cal = calendar(tz);
    UErrorCode status = U_ZERO_ERROR;
    cal->setTime(static_cast<UDate>(to_millis(t)), status);
    char buf[24];
    std::snprintf(buf,
                  sizeof buf,
                  "%04d-%02d-%02dT%02d:%02d",
                  cal->get(UCAL_YEAR, status),
                  cal->get(UCAL_MONTH, status) + 1,
                  cal->get(UCAL_DATE, status),
                  cal->get(UCAL_HOUR_OF_DAY, status),
                  cal->get(UCAL_MINUTE, status));
    return buf;
}

timestamp reminder_time(timestamp start,
                        std::string_view tz,
                        std::chrono::minutes offset,
                        std::optional<int> at) {
    constexpr std::chrono::minutes day{24 * 60};
    if (offset % day != std::chrono::minutes{0}) {
        return start + offset;
    }
    auto cal = calendar(tz);
    UErrorCode status = U_ZERO_ERROR;
    cal->setTime(static_cast<UDate>(to_millis(start)), status);
    cal->add(UCAL_DATE, static_cast<int32_t>(offset / day), status);
    if (at) {
        cal->set(UCAL_HOUR_OF_DAY, *at / 60);
        cal->set(UCAL_MINUTE, *at % 60);
        cal->set(UCAL_SECOND, 0);
        cal->set(UCAL_MILLISECOND, 0);
    }
    const UDate when = cal->getTime(status);
    return U_FAILURE(status) ? start + offset : from_millis(static_cast<std::int64_t>(when));
}

std::string format_local_date(timestamp t, std::string_view tz, std::string_view language) {
    std::string date = format(t, tz, language, "EEEdMMM");
    if (language == "fr") {
        // "août" has the one letter of French dates that GSM-7 lacks; "aout" (the 1990 spelling)
        // keeps an August reminder in 160-character segments rather than 70.
        if (const auto at = date.find("û"); at != std::string::npos) {
            date.replace(at, std::string_view("û").size(), "u");
        }
    }
    return date;
}

std::string format_local_time(timestamp t, std::string_view tz, std::string_view language) {
    return format(t, tz, language, "HHmm");
}

}  // namespace flowgate::flows
