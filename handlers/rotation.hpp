#pragma once
// Secret rotation for a channel: while a provider (or the operator's proxy) still signs with the
// old secret and already with the new one, a channel names both — `auth_token` and
// `auth_token_previous` — and a request that passes with either is accepted. Only the secrets that
// check inbound requests rotate this way (setting_spec::rotates); what we send always uses the
// current ones.

#include <memory>

#include "handlers/handler.hpp"

namespace flowgate::handlers {

// The settings with every rotating secret replaced by its `_previous` value; nullopt when the
// channel names no previous secret.
std::optional<channel_settings> previous_settings(const handler_type& type, const channel_settings& settings);

// The channel's handler: the type's own, or — when a previous secret is set — one that tries the
// current secrets first and, on a 403, the previous ones (marking such a result previous_secret).
std::unique_ptr<handler> make_channel_handler(const handler_type& type, const channel_settings& settings);

}  // namespace flowgate::handlers
