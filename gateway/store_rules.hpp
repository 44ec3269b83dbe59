#pragma once
// Rules every store applies the same way: a message state by name, and which way a status
// callback may move a message.

#include <optional>
#include <string_view>

#include "common/types.hpp"

namespace flowgate::gateway {

inline std::optional<msg_state> state_from_string(std::string_view s) {
    for (auto st : {msg_state::queued,
                    msg_state::sending,
                    msg_state::sent,
                    msg_state::delivered,
                    msg_state::failed,
                    msg_state::unknown,
                    msg_state::expired}) {
        if (s == to_string(st)) {
            return st;
        }
    }
    return std::nullopt;
}

// Whether a status callback may move a message from `from` to `to`: only forward. A report may
// skip states (delivered before sent) and may settle an unknown send; failed, delivered and
// expired are final.
inline bool is_forward(msg_state from, msg_state to) {
    auto rank = [](msg_state s) {
        switch (s) {
            case msg_state::queued:
                return 0;
            case msg_state::sending:
            case msg_state::unknown:
                return 1;
            case msg_state::sent:
                return 2;
            case msg_state::delivered:
            case msg_state::failed:
            case msg_state::expired:
                return 3;
        }
        return 3;
    };
    return rank(to) > rank(from);
}

}  // namespace flowgate::gateway
