#include "handlers/urn.hpp"

#include <phonenumbers/phonenumberutil.h>

#include <algorithm>
#include <array>
#include <list>
#include <mutex>
#include <unordered_map>

#include "handlers/handler.hpp"

namespace flowgate::handlers {

namespace {
using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

constexpr std::array<std::string_view, 5> opaque_schemes = {
    "ext", "telegram", "whatsapp", "facebook", "messenger"};

std::optional<std::string> normalize_phone_by_parse(std::string_view number,
                                                    std::string_view default_country) {
    const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
    PhoneNumber parsed;
    const std::string region = default_country.empty() ? std::string("ZZ") : std::string(default_country);
    if (util.Parse(std::string(number), region, &parsed) != PhoneNumberUtil::NO_PARSING_ERROR) {
        return std::nullopt;
    }
    if (!util.IsPossibleNumber(parsed)) {
        return std::nullopt;
    }
    std::string out;
    util.Format(parsed, PhoneNumberUtil::E164, &out);
    // Leading zeros libphonenumber keeps ("0000627..." in NG) give a number that normalises to
    // another one the next time (one person, two URNs), sometimes past E.164's 15 digits: a result
    // must be its own normal form.
    if (out.size() > 16) {
        return std::nullopt;
    }
    if (out == number) {
        // Given in its normal form (as most providers send it): parsing it again would parse the
        // same text, so there is nothing to check, and the parse is most of the cost.
        return out;
    }
    PhoneNumber again;
    std::string out_again;
    if (util.Parse(out, region, &again) != PhoneNumberUtil::NO_PARSING_ERROR) {
        return std::nullopt;
    }
    util.Format(again, PhoneNumberUtil::E164, &out_again);
    if (out_again != out) {
        return std::nullopt;
    }
    return out;
}

// normalize_phone's answers, shared by every thread: the same participants write again and again,
// on whichever I/O thread takes the request, and libphonenumber's parse (regular expressions) was a
// sixth of a webhook's work on the I/O threads. A pure function's memo: it changes no answer.
// Bounded, in two generations: when the current one is full it becomes the previous one, and an
// answer found there moves back into the current one. So the numbers in use stay, and a
// programme with more participants than one generation holds never sees every number parsed
// again at once (emptying a full memo did that). The parse runs outside the lock.
class phone_memo {
   public:
    using answers = std::unordered_map<std::string, std::optional<std::string>>;

    std::optional<std::string> get(std::string_view number, std::string_view default_country) {
        std::string key;
        key.reserve(default_country.size() + 1 + number.size());
        key.append(default_country);
        key += '\0';
        key.append(number);
        answers retired;  // a generation let go, freed after the unlock
        {
            const std::lock_guard lock(mutex_);
            if (const auto it = current_.find(key); it != current_.end()) {
                return it->second;
            }
            if (const auto it = previous_.find(key); it != previous_.end()) {
                auto answer = it->second;
                remember(std::move(key), answer, retired);
                return answer;
            }
        }
        auto answer = normalize_phone_by_parse(number, default_country);
        const std::lock_guard lock(mutex_);
        remember(std::move(key), answer, retired);
        return answer;
    }

   private:
    void remember(std::string key, const std::optional<std::string>& answer, answers& retired) {
        if (current_.size() >= capacity) {
            retired.swap(previous_);
            previous_.swap(current_);
        }
        current_.emplace(std::move(key), answer);
    }

    static constexpr std::size_t capacity = 16384;  // a generation's
    std::mutex mutex_;
    answers current_;
    answers previous_;
};

}  // namespace

std::optional<std::string> normalize_phone(std::string_view number, std::string_view default_country) {
    if (number.empty() || number.size() > 64) {
        return std::nullopt;
    }
    static phone_memo& memo = *new phone_memo;  // never destroyed: no thread finds it gone at exit
    return memo.get(number, default_country);
}

bool is_known_region(std::string_view region) {
    return PhoneNumberUtil::GetInstance()->GetCountryCodeForRegion(std::string(region)) != 0;
}

namespace {

// The region of "+<digits>" when its country calling code belongs to one region only (Jordan's,
// Lebanon's, Nigeria's, ...) and a parse would succeed: what GetRegionCodeForNumber says after a
// parse, for a fraction of its cost (a broadcast to 100,000 asked 100,000 times). nullopt: parse.
std::optional<std::string> single_region_of(const PhoneNumberUtil& util, std::string_view number) {
    constexpr std::size_t min_national = 2;   // libphonenumber's kMinLengthForNsn
    constexpr std::size_t max_national = 17;  // and kMaxLengthForNsn
    if (number.size() < 2 || number[0] != '+' || number[1] == '0' ||
        !std::all_of(number.begin() + 1, number.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::nullopt;
    }
    // Calling codes are 1 to 3 digits and none is a prefix of another: the first one known is it.
    for (std::size_t length = 1; length <= 3 && 1 + length < number.size(); ++length) {
        int code = 0;
        for (const char c : number.substr(1, length)) {
            code = code * 10 + (c - '0');
        }
        std::list<std::string> regions;
        util.GetRegionCodesForCountryCallingCode(code, &regions);
        if (regions.empty()) {
            continue;
        }
        const std::size_t national = number.size() - 1 - length;
        if (regions.size() != 1 || national < min_national || national > max_national) {
            return std::nullopt;
        }
        return regions.front();
    }
    return std::nullopt;
}

// "+<digits>" of a tel: or whatsapp: URN; nullopt for other schemes.
std::optional<std::string> phone_number_of(std::string_view urn) {
    if (urn.rfind("tel:", 0) == 0) {
        return std::string(urn.substr(4));
    }
    if (urn.rfind("whatsapp:", 0) == 0) {
        return "+" + std::string(urn.substr(9));
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> phone_region_by_parse(std::string_view urn) {
    const auto number = phone_number_of(urn);
    if (!number || number->size() > 64) {
        return std::nullopt;
    }
    const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
    PhoneNumber parsed;
    if (util.Parse(*number, "ZZ", &parsed) != PhoneNumberUtil::NO_PARSING_ERROR) {
        return std::nullopt;
    }
    std::string region;
    util.GetRegionCodeForNumber(parsed, &region);
    if (region.empty() || region == "ZZ" || region == "001") {
        return std::nullopt;
    }
    return region;
}

std::optional<std::string> phone_region(std::string_view urn) {
    const auto number = phone_number_of(urn);
    if (!number) {
        return std::nullopt;
    }
    if (number->size() <= 64) {
        if (auto region = single_region_of(*PhoneNumberUtil::GetInstance(), *number)) {
            if (*region == "001") {
                return std::nullopt;  // a non-geographic code (satellite, international services)
            }
            return region;
        }
    }
    return phone_region_by_parse(urn);
}

std::optional<std::string> parse_urn(std::string_view text, std::string_view default_country) {
    const auto colon = text.find(':');
    if (colon == std::string_view::npos) {
        auto phone = normalize_phone(text, default_country);
        return phone ? std::optional<std::string>("tel:" + *phone) : std::nullopt;
    }
    const std::string_view scheme = text.substr(0, colon);
    const std::string_view path = text.substr(colon + 1);
    if (scheme == "tel") {
        auto phone = normalize_phone(path, default_country);
        return phone ? std::optional<std::string>("tel:" + *phone) : std::nullopt;
    }
    for (std::string_view s : opaque_schemes) {
        if (scheme == s) {
            // The path is stored and shown as text (JSON in the API): UTF-8 only.
            if (path.empty() || path.size() > 255 || !is_valid_utf8(path)) {
                return std::nullopt;
            }
            for (unsigned char c : path) {
                if (c < 0x21 || c == 0x7f) {
                    return std::nullopt;
                }
            }
            return std::string(text);
        }
    }
    return std::nullopt;
}

std::optional<std::string> same_number_urn(std::string_view urn) {
    const auto digits_only = [](std::string_view s) {
        return !s.empty() && s.size() <= 15 &&
               std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (urn.rfind("whatsapp:", 0) == 0 && digits_only(urn.substr(9))) {
        return "tel:+" + std::string(urn.substr(9));
    }
    if (urn.rfind("tel:+", 0) == 0 && digits_only(urn.substr(5))) {
        return "whatsapp:" + std::string(urn.substr(5));
    }
    return std::nullopt;
}

std::string_view urn_path(std::string_view urn) {
    const auto colon = urn.find(':');
    return colon == std::string_view::npos ? urn : urn.substr(colon + 1);
}

std::string mask_urn(std::string_view urn) {
    const auto colon = urn.find(':');
    std::string out(colon == std::string_view::npos ? std::string_view{} : urn.substr(0, colon + 1));
    const std::string_view path = urn_path(urn);
    out += "\u2026";
    if (path.size() > 6) {
        // The last two characters, not bytes: half of one would be invalid UTF-8 in the API's JSON.
        std::size_t start = path.size();
        for (int chars = 0; chars < 2 && start > 0; ++chars) {
            do {
                --start;
            } while (start > 0 && (static_cast<unsigned char>(path[start]) & 0xC0) == 0x80);
        }
        out += path.substr(start);
    }
    return out;
}

}  // namespace flowgate::handlers
