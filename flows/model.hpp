#pragma once
// The flow model: one shape inside for both of our loaders (our JSON format and RapidPro/TextIt
// exports). It follows RapidPro's: a node runs its actions, then its router (if any) picks a
// category, and the category's exit leads to the next node. A router with a wait pauses the run
// until the contact's next message.

#include <chrono>
#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/types.hpp"

namespace flowgate::flows {

// Texts side by side per language code ("en", "ar", ...).
using lang_text = std::map<std::string, std::string>;

// The text in `language`, else the first there is ("" for none): for texts such as a workshop's
// title, which the config fills in for every language it uses.
std::string in_language(const lang_text& text, std::string_view language);

// Several texts per language, e.g. quick replies.
using lang_texts = std::map<std::string, std::vector<std::string>>;

// Members added later have "= {}", which keeps brace initialisations that name only the first
// members free of -Wmissing-field-initializers.
struct send_action {
    lang_text text;
    // Offered answers; SMS has no buttons, so they go out as a numbered list after the text.
    lang_texts quick_replies = {};
};

// The fields below marked "template" are rendered like message texts (docs/flows.md "Templates").
struct set_field_action {
    std::string key;    // the field's key, e.g. "age"
    std::string name;   // its label, e.g. "Age" (may be empty)
    std::string value;  // template
};

struct set_name_action {
    std::string name;  // template
};

// A language code, as a template; ISO 639-3 values ("ara") are mapped to the deployment's
// codes ("ar") when the run renders it (config_language).
struct set_language_action {
    std::string language;
};

struct set_result_action {
    std::string name;
    std::string value;  // template
    std::string category;
};

struct group_ref {
    std::string uuid;  // may be empty (our format refers by name)
    std::string name;

    friend bool operator==(const group_ref&, const group_ref&) = default;
};

struct add_groups_action {
    std::vector<group_ref> groups;
};

struct remove_groups_action {
    std::vector<group_ref> groups;
    bool all = false;  // from every group the contact is in
};

// Runs another flow; the parent resumes when it ends, its router reading the child's status
// (operand_kind::child_status). A terminal one ends the parent first: nothing resumes.
struct enter_flow_action {
    std::string flow_id;
    std::string flow_name;
    bool terminal = false;
};

// An HTTP call the gateway makes for the run, which waits for engine::on_webhook_result.
struct webhook_action {
    std::string method = "GET";
    std::string url;                                           // template
    std::vector<std::pair<std::string, std::string>> headers;  // values are templates
    std::string body;                                          // template
    std::string result_name;  // non-empty: the response is saved as this result
};

// Workshop operations (our format's "workshop" nodes; docs/flows.md "Workshops and reminders").
// They act on the run's workshop (session::workshop_id) and read the gateway's workshop_book.

// Sends `text` followed by the open workshops as a numbered list; the node's router
// (operand_kind::workshop_choice) reads the answer against that list.
struct workshop_menu_action {
    lang_text text;
};

// A place for the contact at the run's workshop if it has room, else the waiting list; the
// node's router (operand_kind::registration) branches on the outcome.
struct register_action {};

// The contact's place (or waiting-list place) at the run's workshop is given up.
struct cancel_registration_action {};

using action = std::variant<send_action,
                            set_field_action,
                            set_name_action,
                            set_language_action,
                            set_result_action,
                            add_groups_action,
                            remove_groups_action,
                            enter_flow_action,
                            webhook_action,
                            workshop_menu_action,
                            register_action,
                            cancel_registration_action>;

struct test_case {
    std::string type;                    // RapidPro's test name, e.g. "has_any_word"
    std::vector<std::string> arguments;  // already strings, as in RapidPro exports
    std::size_t category = 0;            // index into router::categories
    // Arguments by language (RapidPro's localization), chosen like texts; `arguments` otherwise.
    lang_texts localized_arguments = {};
};

struct category {
    std::string name;
    std::size_t exit = 0;           // index into node::exits
    lang_text localized_name = {};  // RapidPro's localized category names (results keep `name`)
};

// What a router tests.
enum class operand_kind {
    text,             // router::operand is a template
    webhook_status,   // the HTTP status of the run's last webhook ("0": no response)
    child_status,     // how the subflow just entered ended: "completed" or "expired"
    contact_groups,   // the contact's group names, ", "-separated (RapidPro's has_group operand)
    workshop_choice,  // the id of the workshop the answer picks from the menu the run sent, or ""
    registration,     // the contact's registration at the run's workshop: "registered", "waitlisted", ...
};

struct wait_spec {
    std::optional<std::chrono::seconds> timeout;
    std::optional<std::size_t> timeout_category;  // index into router::categories
};

struct router {
    std::string operand = "@input.text";
    operand_kind kind = operand_kind::text;
    std::optional<wait_spec> wait;  // set: pause for the contact's next message
    std::vector<test_case> cases;
    std::vector<category> categories;
    std::size_t default_category = 0;
    std::string result_name;  // empty: the router saves no result
    // workshop_choice: taken at once, without waiting, when no workshop is open.
    std::optional<std::size_t> none_category = {};
};

struct exit_spec {
    std::optional<std::size_t> destination;  // index into flow::nodes; empty: the run ends
};

struct node {
    std::string id;  // our format: a readable name; RapidPro: the node UUID
    std::vector<action> actions;
    std::optional<flows::router> router;
    std::vector<exit_spec> exits;
};

struct flow {
    std::string id;           // our format: "workshop-signup"; RapidPro: the flow UUID
    std::string name;         // human name (RapidPro flows may be referred to by it)
    std::string language;     // base language: the fallback for texts
    std::vector<node> nodes;  // nodes[0] is where a run starts
    // A run not finished this long after it started ends as expired (RapidPro's default: 3 days
    // here; RapidPro's own default is 7).
    std::chrono::seconds expire_after{std::chrono::hours(72)};
    // While a contact is in this flow, keywords do not interrupt it (they are answers); the
    // standing keywords STOP/START/HELP still work.
    bool ignore_triggers = false;

    const node* find_node(std::string_view node_id) const;
    std::optional<std::size_t> node_index(std::string_view node_id) const;
};

// Every loaded flow, looked up by id (or by name).
class flow_set {
   public:
    void add(flow f);
    const flow* find(std::string_view id_or_name) const;
    const std::vector<flow>& all() const { return flows_; }

   private:
    std::vector<flow> flows_;
};

// One saved answer, as RapidPro keeps it: the extracted value, its category and the raw input.
struct result_value {
    std::string name;  // as written by the flow author, e.g. "City"
    std::string value;
    std::string category;
    std::string input;
    std::string node_id;
    timestamp created_at{};

    friend bool operator==(const result_value&, const result_value&) = default;
};

// Result keys are RapidPro's snake-cased result names: "Workshop City" → "workshop_city".
std::string result_key(std::string_view name);

// A run that entered a subflow and waits for it to end (enter_flow).
struct parent_run {
    std::string flow_id;
    std::string node_id;          // the node of the enter_flow action
    std::size_t next_action = 0;  // where that node goes on when the child ends
    std::map<std::string, result_value> results;
    timestamp started_at{};

    friend bool operator==(const parent_run&, const parent_run&) = default;
};

// The run waits for the response of the webhook its node called.
struct webhook_wait {
    std::size_t next_action = 0;  // index into the node's actions after the call_webhook
    std::string result_name;
    std::string request;  // "POST https://...": the result's input, as RapidPro saves it

    friend bool operator==(const webhook_wait&, const webhook_wait&) = default;
};

// The last webhook response a run got (@webhook.status in routers).
struct webhook_response {
    int status = 0;  // 0: no response (connection failed, timed out)
    std::string body;

    friend bool operator==(const webhook_response&, const webhook_response&) = default;
};

// Where a contact is in a conversation. Persisted by the store as JSON (to_json/from_json), so a
// conversation continues across a restart. The top-level fields are the innermost run's.
struct session {
    std::string flow_id;
    std::string node_id;  // the node whose router waits for the next message (or whose webhook runs)
    std::map<std::string, result_value> results;  // by result_key
    timestamp started_at{};
    timestamp waiting_since{};
    std::optional<timestamp> wait_expires_at;
    std::optional<webhook_wait> webhook = {};           // set: waiting for a webhook, not a message
    std::optional<webhook_response> last_webhook = {};  // the run's last webhook response
    std::vector<parent_run> parents = {};               // outermost first
    std::string workshop_id = {};                       // the workshop the conversation is about, if any
    std::vector<std::string> menu = {};                 // the workshops a workshop menu listed, in its order
    std::vector<std::string> quick_replies = {};        // the numbered options last sent, as sent

    friend bool operator==(const session&, const session&) = default;
};

nlohmann::json to_json(const session& s);
// Throws nlohmann::json::exception on a malformed document (a store bug, not user input).
session session_from_json(const nlohmann::json& j);

// A workshop as flows see it (the gateway keeps them; config "workshops").
struct workshop {
    std::string id;
    lang_text title;
    lang_text place;
    timestamp starts_at{};
    std::string timezone;  // of the venue: dates and times in texts are its wall clock
    int capacity = 0;
    int taken = 0;  // places given (registered or attended)
    bool open = true;
};

enum class registration_status { registered, waitlisted, cancelled, attended };
const char* to_string(registration_status s);
std::optional<registration_status> registration_status_from(std::string_view s);

// What a step may read of the workshops: the gateway reads them in the step's own transaction, so
// places are counted exactly; tests use a small in-memory one.
class workshop_book {
   public:
    virtual ~workshop_book() = default;
    // Open for registration and not started at `now`, soonest first.
    virtual std::vector<workshop> open_workshops(timestamp now) const = 0;
    virtual std::optional<workshop> find_workshop(std::string_view id) const = 0;
    // The contact's registration at a workshop, if any.
    virtual std::optional<registration_status> registration(std::string_view workshop_id) const = 0;
};

// What the engine knows of the contact it talks to.
struct contact_view {
    std::string uuid;
    std::string name;
    std::string language;  // "" when unknown
    std::map<std::string, std::string> fields;
    std::vector<group_ref> groups = {};        // for has_group and remove_contact_groups' all_groups
    const workshop_book* workshops = nullptr;  // null: no workshops (workshop nodes find none)
};

// A language code as the deployment writes it: ISO 639-3 codes ("ara", "eng", "fra", "hau") become
// the deployment's 2-letter ones ("ar", ...) when it has them; a code the deployment has stays;
// anything else ("base", "und", a language it does not use) is nullopt. With no languages
// configured, known 639-3 codes become 2-letter ones and others stay as they are.
std::optional<std::string> config_language(std::string_view code, const std::vector<std::string>& languages);

}  // namespace flowgate::flows
