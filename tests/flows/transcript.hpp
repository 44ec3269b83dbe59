#pragma once
// What the flow engine's transcript tests share: steps in virtual time (a message, a timeout, a
// start, a webhook's answer, an expiry), effects as one readable line each, and the loop that
// plays the steps, keeping the contact and the session as the gateway would between two inputs.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "flows/engine.hpp"
#include "tests/support/print.hpp"

namespace flowgate::flows::playback {

enum class kind { message, timeout, start, webhook, expire };

struct step {
    kind what;
    std::string text;  // the message, the flow to start, or the webhook's response body
    int minute;        // virtual time
    std::vector<std::string> effects;
    bool waiting;    // the contact is in a flow afterwards
    int status = 0;  // a webhook's HTTP status
};

inline step msg(std::string text, int minute, std::vector<std::string> effects, bool waiting) {
    return {kind::message, std::move(text), minute, std::move(effects), waiting};
}
inline step timeout(int minute, std::vector<std::string> effects, bool waiting) {
    return {kind::timeout, "", minute, std::move(effects), waiting};
}
inline step start(std::string flow, int minute, std::vector<std::string> effects, bool waiting) {
    return {kind::start, std::move(flow), minute, std::move(effects), waiting};
}
inline step webhook(
    int status, std::string body, int minute, std::vector<std::string> effects, bool waiting) {
    return {kind::webhook, std::move(body), minute, std::move(effects), waiting, status};
}
inline step expire(int minute, std::vector<std::string> effects, bool waiting) {
    return {kind::expire, "", minute, std::move(effects), waiting};
}

inline const timestamp t0 = from_millis(1'700'000'000'000);  // 2023-11-14T22:13:20Z
inline timestamp at(int minute) { return t0 + std::chrono::minutes(minute); }

inline std::string names(const std::vector<group_ref>& groups) {
    std::string out;
    for (const auto& g : groups) {
        out += (out.empty() ? "" : ",") + g.name;
    }
    return out;
}

// Effects as one readable line each; with `flows`, flows by name instead of id (RapidPro's UUIDs).
inline std::vector<std::string> describe(const std::vector<effect>& effects,
                                         const flow_set* flows = nullptr) {
    const auto flow_name = [&](const std::string& id) {
        const flow* f = flows != nullptr ? flows->find(id) : nullptr;
        return f != nullptr ? f->name : id;
    };
    std::vector<std::string> out;
    for (const auto& e : effects) {
        if (const auto* s = std::get_if<send_msg>(&e)) {
            out.push_back("send " + s->text);
        } else if (const auto* r = std::get_if<run_started>(&e)) {
            out.push_back("start " + flow_name(r->flow_id));
        } else if (const auto* v = std::get_if<result_saved>(&e)) {
            out.push_back("save " + v->key + "=" + v->value.value + " (" + v->value.category + ")");
        } else if (const auto* x = std::get_if<run_ended>(&e)) {
            out.push_back("end " + flow_name(x->flow_id) + " " + to_string(x->status));
        } else if (const auto* f = std::get_if<contact_field_changed>(&e)) {
            out.push_back("field " + f->key + "=" + f->value);
        } else if (const auto* n = std::get_if<contact_name_changed>(&e)) {
            out.push_back("name " + n->name);
        } else if (const auto* l = std::get_if<contact_language_changed>(&e)) {
            out.push_back("language " + l->language);
        } else if (const auto* g = std::get_if<contact_groups_changed>(&e)) {
            out.push_back("groups +" + names(g->added) + " -" + (g->removed_all ? "all:" : "") +
                          names(g->removed));
        } else if (const auto* w = std::get_if<webhook_call>(&e)) {
            std::string headers;
            for (const auto& [k, val] : w->headers) {
                headers += (headers.empty() ? "" : "; ") + k + ": " + val;
            }
            out.push_back("webhook " + w->method + " " + w->url + " | " + headers + " | " + w->body);
        }
    }
    return out;
}

inline std::vector<std::string> describe(const flow_set& flows, const std::vector<effect>& effects) {
    return describe(effects, &flows);
}

// What the gateway does with the contact effects between two inputs.
inline void apply_contact(contact_view& c, const std::vector<effect>& effects) {
    for (const auto& e : effects) {
        if (const auto* f = std::get_if<contact_field_changed>(&e)) {
            c.fields[f->key] = f->value;
        } else if (const auto* n = std::get_if<contact_name_changed>(&e)) {
            c.name = n->name;
        } else if (const auto* l = std::get_if<contact_language_changed>(&e)) {
            c.language = l->language;
        } else if (const auto* g = std::get_if<contact_groups_changed>(&e)) {
            if (g->removed_all) {
                c.groups.clear();
            }
            std::erase_if(c.groups, [&](const group_ref& x) {
                return std::find(g->removed.begin(), g->removed.end(), x) != g->removed.end();
            });
            for (const auto& a : g->added) {
                if (std::find(c.groups.begin(), c.groups.end(), a) == c.groups.end()) {
                    c.groups.push_back(a);
                }
            }
        }
    }
}

// Plays the steps, checking each one's effects, whether it was handled and whether the contact
// is still in a flow. Between two inputs the session goes through the store's JSON.
inline void play(const flow_set& flows,
                 const engine& eng,
                 contact_view contact,
                 std::optional<session> current,
                 const std::vector<step>& steps) {
    for (const auto& s : steps) {
        SCOPED_TRACE("minute " + std::to_string(s.minute) + ": " +
                     (s.what == kind::timeout ? "timeout" : s.text));
        step_output out;
        switch (s.what) {
            case kind::message:
                out = eng.on_message(current, contact, s.text, at(s.minute));
                break;
            case kind::timeout:
                ASSERT_TRUE(current);
                out = eng.on_timeout(*current, contact, at(s.minute));
                break;
            case kind::start:
                out = eng.start(s.text, current, contact, at(s.minute));
                break;
            case kind::webhook:
                ASSERT_TRUE(current);
                out = eng.on_webhook_result(*current, contact, s.status, s.text, at(s.minute));
                break;
            case kind::expire:
                ASSERT_TRUE(current);
                out = eng.on_expired(*current, contact, at(s.minute));
                break;
        }
        EXPECT_EQ(describe(flows, out.effects), s.effects);
        EXPECT_EQ(out.handled, !s.effects.empty());
        EXPECT_EQ(out.session.has_value(), s.waiting);
        apply_contact(contact, out.effects);
        current = out.session;
        if (current) {
            const session restored = session_from_json(nlohmann::json::parse(to_json(*current).dump()));
            EXPECT_EQ(restored, *current);
            current = restored;
        }
    }
}

}  // namespace flowgate::flows::playback
