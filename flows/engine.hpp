#pragma once
// The engine is a pure function of (session, contact, input, now) → (session', effects).
// It never does I/O and never reads a clock; the gateway applies the effects in one transaction.

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "flows/model.hpp"

namespace flowgate::flows {

struct keyword_trigger {
    std::vector<std::string> keywords;
    std::string flow_id;
    enum class match { first_word, only_word } match_type = match::first_word;
};

// Effects, in the order they happened.
struct send_msg {
    std::string text;
    std::string language;  // the language the text was chosen in
};
struct run_started {
    std::string flow_id;
};
struct result_saved {
    std::string flow_id;
    std::string key;  // result_key(value.name)
    result_value value;
};
enum class run_status { completed, interrupted, expired, failed };
const char* to_string(run_status s);
struct run_ended {
    std::string flow_id;
    run_status status = run_status::completed;
};
using effect = std::variant<send_msg, run_started, result_saved, run_ended>;

struct step_output {
    std::optional<flows::session> session;  // empty: the contact is in no flow afterwards
    std::vector<effect> effects;
    // false: no flow took the message (no session, no trigger) and nothing changed. True whenever
    // there are effects, e.g. a session whose flow was removed from the config was ended.
    bool handled = false;
};

struct environment {
    std::vector<std::string> languages;  // the config's languages, first is the default
};

// A run takes at most this many node visits per input before it is ended as failed (a loop guard,
// as RapidPro's 100 steps per sprint).
inline constexpr int max_steps_per_input = 100;

class engine {
   public:
    engine(const flow_set& flows, std::vector<keyword_trigger> triggers, environment env);

    // An inbound message. Order, as RapidPro's: a matching keyword trigger interrupts the current
    // run and starts its flow (the trigger message is the input to a wait on the very first node);
    // otherwise a waiting session resumes with the message; otherwise nothing handles it.
    step_output on_message(const std::optional<session>& current,
                           const contact_view& contact,
                           std::string_view text,
                           timestamp now) const;

    // Starts a flow for a contact (staff start, enter_flow, tests). Interrupts `current`.
    step_output start(std::string_view flow_id,
                      const std::optional<session>& current,
                      const contact_view& contact,
                      timestamp now) const;

    // The wait's timeout fell due: route through the timeout category.
    step_output on_timeout(const session& current, const contact_view& contact, timestamp now) const;

    // The run outlived its flow's expire_after: it ends as expired, nothing is sent.
    step_output on_expired(const session& current) const;

    const keyword_trigger* match_trigger(std::string_view text) const;

   private:
    const flow_set& flows_;
    std::vector<keyword_trigger> triggers_;
    environment env_;
};

}  // namespace flowgate::flows
