#include "handlers/registry.hpp"

#include <array>

#include "handlers/africastalking.hpp"
#include "handlers/external.hpp"
#include "handlers/infobip.hpp"
#include "handlers/kannel.hpp"
#include "handlers/messenger.hpp"
#include "handlers/telegram.hpp"
#include "handlers/twilio.hpp"
#include "handlers/vonage.hpp"
#include "handlers/whatsapp.hpp"

namespace flowgate::handlers {

std::span<const handler_type> register_all() {
    static const std::array<handler_type, 9> types = {
        external_handler::describe(),
        twilio_handler::describe(),
        vonage_handler::describe(),
        africastalking_handler::describe(),
        infobip_handler::describe(),
        kannel_handler::describe(),
        telegram_handler::describe(),
        whatsapp_handler::describe(),
        messenger_handler::describe(),
    };
    return types;
}

const handler_type* find_handler_type(std::string_view name) {
    for (const auto& t : register_all()) {
        if (t.name == name) {
            return &t;
        }
    }
    return nullptr;
}

}  // namespace flowgate::handlers
