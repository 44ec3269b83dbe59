#include "handlers/rotation.hpp"

#include <utility>

namespace flowgate::handlers {

namespace {

class rotating_handler final : public handler {
   public:
    rotating_handler(std::unique_ptr<handler> current, std::unique_ptr<handler> previous)
        : current_(std::move(current)), previous_(std::move(previous)) {}

    bool allows(endpoint e, std::string_view method) const override { return current_->allows(e, method); }

    receive_result receive(endpoint e, const raw_request& request) const override {
        receive_result result = current_->receive(e, request);
        // 403 is every handler's answer to a secret or signature that does not match; any other
        // answer does not depend on which secret is tried.
        if (result.result != receive_result::outcome::rejected || result.http_status != 403) {
            return result;
        }
        receive_result old = previous_->receive(e, request);
        if (old.result == receive_result::outcome::rejected && old.http_status == 403) {
            return result;
        }
        old.previous_secret = true;
        return old;
    }

    http_reply reply(endpoint e, const receive_result& result) const override {
        return current_->reply(e, result);
    }

    send_request build_send(const outgoing_message& message) const override {
        return current_->build_send(message);
    }

    send_result parse_send_response(const outgoing_message& message,
                                    const http_response& response) const override {
        return current_->parse_send_response(message, response);
    }

   private:
    std::unique_ptr<handler> current_;
    std::unique_ptr<handler> previous_;
};

}  // namespace

std::optional<channel_settings> previous_settings(const handler_type& type,
                                                  const channel_settings& settings) {
    channel_settings previous = settings;
    bool any = false;
    for (const auto& spec : type.settings) {
        if (!spec.rotates) {
            continue;
        }
        const auto it = settings.values.find(spec.name + "_previous");
        if (it != settings.values.end() && !it->second.empty()) {
            previous.values[spec.name] = it->second;
            any = true;
        }
    }
    if (!any) {
        return std::nullopt;
    }
    return previous;
}

std::unique_ptr<handler> make_channel_handler(const handler_type& type, const channel_settings& settings) {
    auto current = type.make(settings);
    if (auto previous = previous_settings(type, settings)) {
        return std::make_unique<rotating_handler>(std::move(current), type.make(*previous));
    }
    return current;
}

}  // namespace flowgate::handlers
