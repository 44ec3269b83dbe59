#pragma once
// Broadcasts (docs/api.md, "Broadcasts"): one staff message to many contacts. What a request asks
// for, whom it reaches on which URN and channel, which text each contact gets (their language's,
// else the base language's), what it costs in SMS segments, and when each message may go out
// (after the quiet hours on the contact's own clock). No clock is read and the store is not
// touched here except by `save`, inside the caller's write job: a preview and a send are the same
// plan, so the preview's figures are what the send queues.

#include <utility>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/types.hpp"
#include "config/config.hpp"
#include "gateway/store.hpp"

namespace flowgate::gateway::broadcasts {

// A POST /api/v1/broadcasts body, validated.
struct request {
    flows::lang_text text;  // by language; the base language (the config's first) always there
    broadcast_audience audience;
    nlohmann::json audience_json;  // as stored and shown: URNs masked
    std::string channel_id;        // "" for each contact's own channel
    std::optional<timestamp> send_at;
    bool preview = false;
};

// Reads a body; nullopt with the problems, each naming its field ("/audience/group: ..."). That a
// workshop exists is the store's to say, not checked here.
std::optional<request> parse_request(const nlohmann::json& body, const config::config& cfg, problems& out);

// Whether a channel of this provider type sends to this URN's scheme: SMS providers to "tel:",
// Twilio to "tel:" and "whatsapp:", Telegram to "telegram:", WhatsApp to "whatsapp:", Messenger to
// "facebook:", the generic external channel to "tel:" and "ext:".
bool reaches(std::string_view channel_type, std::string_view urn);

// The URN and channel a broadcast reaches a contact on, or nullopt (unreachable). On a given
// channel: the contact's URN last used on it, else their first URN the channel's type reaches
// (a phone number also as the same number under the other scheme, SMS ⇄ WhatsApp). On their own
// channel (channel_id ""): their first URN whose channel is configured, else their first URN some
// configured channel reaches, on the first such channel.
std::optional<std::pair<std::string, std::string>> address_of(const broadcast_contact& c,
                                                              std::string_view channel_id,
                                                              const config::config& cfg);

// The time zone of a country (ISO 3166 alpha-2) when it has exactly one (ICU's canonical
// locations: "JO" → "Asia/Amman"); nullopt for countries with several ("US") or none.
std::optional<std::string> region_time_zone(std::string_view region);

// Time zones of contacts, each looked up once per plan.
class zone_finder {
   public:
    explicit zone_finder(const config::config& cfg) : cfg_(cfg) {}
    // The contact's "timezone" field when it names a zone; else the zone of the country of their
    // phone number (`urn` first, then their other URNs) when it has one; else the config's.
    std::string zone_of(const broadcast_contact& c, std::string_view urn);

   private:
    const config::config& cfg_;
    std::map<std::string, bool> valid_;                         // field value → is a zone
    std::map<std::string, std::optional<std::string>> region_;  // region → its one zone
};

struct recipient {
    std::int64_t contact_id = 0;
    std::string urn;
    std::string channel_id;
    std::string text_language;
    std::string timezone;
    timestamp not_before{};  // send_at, or the end of the quiet hours in `timezone`
};

struct language_figures {
    std::string language;  // the contacts' own ("" for contacts whose language is not known)
    std::int64_t recipients = 0;
    std::string text_language;   // the text they get
    std::string encoding;        // "GSM-7" | "UCS-2"
    std::size_t characters = 0;  // as the encoding counts them (septets / UTF-16 units)
    std::size_t segments = 0;    // per message
};

struct zone_figures {
    std::string timezone;
    std::int64_t recipients = 0;
    timestamp not_before{};
};

struct plan {
    timestamp send_at{};  // the request's time, or now when it is past or not given
    std::vector<recipient> recipients;
    std::int64_t opted_out = 0;    // in the audience, but opted out: left out
    std::int64_t unreachable = 0;  // no URN the channel can use: left out
    std::int64_t unknown = 0;      // URNs given that no contact has: left out
    std::vector<language_figures> languages;
    std::vector<zone_figures> timezones;
    std::int64_t total_segments = 0;  // Σ recipients × segments
    // Texts too long for a recipient's channel to carry as one message ("/text/ar: ...").
    problems too_long;
};

plan make_plan(const request& r,
               const broadcast_audience_rows& audience,
               const config::config& cfg,
               timestamp now);

// The figures as the API shows them: recipients, opted_out, unreachable, unknown, languages,
// timezones, total_segments.
nlohmann::json figures_json(const plan& p);

// What the store keeps of a broadcast about to be sent.
broadcast_record record_of(const request& r, const plan& p, const api_token& who, timestamp now);

// Stores the broadcast and queues one message per recipient, in the caller's transaction. Sets
// b.id.
void save(write_tx& tx, broadcast_record& b, const plan& p, timestamp now);

enum class status { scheduled, sending, done, cancelled };
const char* to_string(status s);
// Cancelled once cancelled; scheduled while its time is to come; sending while any of its
// messages is queued or being sent; done after.
status status_of(const broadcast_record& b, timestamp now);

// Its messages by what became of them. They add up to the recipients: a message being sent counts
// as queued; unknown, expired and refused (contact_stopped, ...) ones as failed; a cancelled one as
// cancelled; a message erased with its contact as failed.
struct progress {
    std::int64_t queued = 0;
    std::int64_t sent = 0;
    std::int64_t delivered = 0;
    std::int64_t failed = 0;
    std::int64_t cancelled = 0;
};
progress progress_of(const broadcast_record& b);

}  // namespace flowgate::gateway::broadcasts
