#pragma once
// The engine is a pure function of (session, contact, input, now) → (session', effects).
// It never does I/O and never reads a clock; the gateway applies the effects in one transaction.

#include <utility>

#include <chrono>
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
    // catch_all: no keywords; starts its flow for a message from a contact in no flow that no
    // keyword took (RapidPro's catch-all trigger).
    // new_conversation: no keywords; starts its flow when a chat channel reports a new conversation
    // (Telegram's /start, Messenger's Get Started), interrupting any flow the contact is in.
    enum class match { first_word, only_word, catch_all, new_conversation } match_type = match::first_word;
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
// The contact changed; the engine's own view already has the change for the rest of the step.
struct contact_field_changed {
    std::string key;
    std::string name;  // the field's label, may be empty
    std::string value;
};
struct contact_name_changed {
    std::string name;
};
struct contact_language_changed {
    std::string language;  // the deployment's code, e.g. "ar"
};
struct contact_groups_changed {
    std::vector<group_ref> added;
    std::vector<group_ref> removed;
    bool removed_all = false;  // removed from every group (`removed` lists those the engine knew of)
};
// An HTTP request to make for the run, which now waits for it: the gateway makes the call after
// the step commits and passes the outcome to engine::on_webhook_result (status 0 when there is no
// response). If that never happens, the wait times out after webhook_timeout (as a failure).
struct webhook_call {
    std::string flow_id;
    std::string node_id;
    std::string method;
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
};
// The contact's registration at a workshop changed (register or cancel in a "workshop" node). The
// gateway stores it; a cancelled place goes to the first on the waiting list.
struct registration_changed {
    std::string workshop_id;
    registration_status status = registration_status::registered;
};
using effect = std::variant<send_msg,
                            run_started,
                            result_saved,
                            run_ended,
                            contact_field_changed,
                            contact_name_changed,
                            contact_language_changed,
                            contact_groups_changed,
                            webhook_call,
                            registration_changed>;

struct step_output {
    std::optional<flows::session> session;  // empty: the contact is in no flow afterwards
    std::vector<effect> effects;
    // false: no flow took the message (no session, no trigger) and nothing changed. True whenever
    // there are effects, e.g. a session whose flow was removed from the config was ended.
    bool handled = false;
};

struct environment {
    std::vector<std::string> languages;  // the config's languages, first is the default
    // For router tests (flows/matcher.hpp test_context).
    std::string timezone = "UTC";
    std::string default_country = {};
    bool day_first = true;
};

// A run takes at most this many node visits per input before it is ended as failed (a loop guard,
// as RapidPro's 100 steps per sprint).
inline constexpr int max_steps_per_input = 100;

// A run waiting for a webhook's response gives up after this long (session::wait_expires_at):
// on_timeout then routes it as a call without a response (Failure).
inline constexpr std::chrono::seconds webhook_timeout{60};
inline constexpr std::size_t max_webhook_body = 10000;  // as RapidPro's limit on @webhook

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

    // Starts a flow for a contact (a reminder, staff, tests). Interrupts `current`. `workshop_id`:
    // the workshop the run is about (@workshop, register, cancel).
    step_output start(std::string_view flow_id,
                      const std::optional<session>& current,
                      const contact_view& contact,
                      timestamp now,
                      std::string_view workshop_id = {}) const;

    // A chat channel reports that the contact opened a conversation (Telegram /start, Messenger
    // Get Started): the new_conversation trigger's flow starts, interrupting `current`. Not
    // handled when there is no such trigger.
    step_output on_new_conversation(const std::optional<session>& current,
                                    const contact_view& contact,
                                    timestamp now) const;

    // The wait's timeout fell due: route through the timeout category. A run waiting for a
    // webhook goes on as if the call got no response.
    step_output on_timeout(const session& current, const contact_view& contact, timestamp now) const;

    // The webhook that `current` waits for answered: `status` is the HTTP status (0: no response)
    // and `body` the response body (the session keeps its first max_webhook_body bytes). Saves the call's
    // result (value: the status; category: "Success" for 2xx, else "Failure"; input: "METHOD URL") and goes
    // on with the node's remaining actions and its router (@webhook.status). Not handled when the session
    // does not wait for a webhook (e.g. a keyword interrupted it meanwhile): the response is dropped.
    step_output on_webhook_result(const session& current,
                                  const contact_view& contact,
                                  int status,
                                  std::string_view body,
                                  timestamp now) const;

    // The run outlived its flow's expire_after: it ends as expired, nothing is sent. Runs that
    // wait for it in enter_flow end as expired too.
    step_output on_expired(const session& current) const;

    // The same, as RapidPro does for a subflow: the innermost run ends as expired and its parent
    // goes on through its "Expired" category. Without parents, the same as on_expired(current).
    step_output on_expired(const session& current, const contact_view& contact, timestamp now) const;

    const keyword_trigger* match_trigger(std::string_view text) const;

   private:
    const flow_set& flows_;
    std::vector<keyword_trigger> triggers_;
    // Each trigger's keywords, normalised once (a keyword of several words never matches).
    std::vector<std::vector<std::string>> trigger_words_;
    environment env_;
};

}  // namespace flowgate::flows
