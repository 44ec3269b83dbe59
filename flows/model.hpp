#pragma once
// The flow model: one shape inside for both of our loaders (our JSON format now, RapidPro/TextIt
// exports next). It follows RapidPro's: a node runs its actions, then its router (if any) picks a
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

struct send_action {
    lang_text text;
};

// Grows with the engine (set_contact_field, enter_flow, call_webhook, ...).
using action = std::variant<send_action>;

struct test_case {
    std::string type;                    // RapidPro's test name, e.g. "has_any_word"
    std::vector<std::string> arguments;  // already strings, as in RapidPro exports
    std::size_t category = 0;            // index into router::categories
};

struct category {
    std::string name;
    std::size_t exit = 0;  // index into node::exits
};

struct wait_spec {
    std::optional<std::chrono::seconds> timeout;
    std::optional<std::size_t> timeout_category;  // index into router::categories
};

struct router {
    std::string operand = "@input.text";
    std::optional<wait_spec> wait;  // set: pause for the contact's next message
    std::vector<test_case> cases;
    std::vector<category> categories;
    std::size_t default_category = 0;
    std::string result_name;  // empty: the router saves no result
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

// Where a contact is in a conversation. Persisted by the store as JSON (to_json/from_json), so a
// conversation continues across a restart.
struct session {
    std::string flow_id;
    std::string node_id;                          // the node whose router waits for the next message
    std::map<std::string, result_value> results;  // by result_key
    timestamp started_at{};
    timestamp waiting_since{};
    std::optional<timestamp> wait_expires_at;

    friend bool operator==(const session&, const session&) = default;
};

nlohmann::json to_json(const session& s);
// Throws nlohmann::json::exception on a malformed document (a store bug, not user input).
session session_from_json(const nlohmann::json& j);

// What the engine knows of the contact it talks to.
struct contact_view {
    std::string uuid;
    std::string name;
    std::string language;  // "" when unknown
    std::map<std::string, std::string> fields;
};

}  // namespace flowgate::flows
