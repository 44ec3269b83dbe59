// Inputs the fuzz targets (fuzz/) found mishandled, kept as cases for every handler type. The
// crashing inputs themselves are in fuzz/corpus/, replayed under the sanitizers by the fuzz_* tests.

#include <gtest/gtest.h>

#include "handlers/registry.hpp"

namespace flowgate::handlers {
namespace {

channel_settings settings_for(const handler_type& type) {
    channel_settings s;
    s.id = "c1";
    s.type = type.name;
    s.default_country = "JO";
    for (const auto& spec : type.settings) {
        s.values[spec.name] = spec.type == setting_spec::kind::url ? "https://provider.example.org"
                              : spec.choices.empty()               ? "value-" + spec.name
                                                                   : spec.choices.front();
    }
    s.values["address"] = "+962790000000";
    s.values["public_url"] = "https://gw.example.org";
    return s;
}

// A send request is built for any message the store holds: a text or URN that is not valid UTF-8
// (a byte cut from a sequence) must not throw out of build_send, which would stop the sender.
// JSON bodies carry U+FFFD in its place.
TEST(hostile_input, build_send_takes_text_and_urns_that_are_not_utf8) {
    const struct {
        const char* label;
        std::string urn;
        std::string text;
    } cases[] = {
        {"a cut Arabic letter in the text", "tel:+962791234567", "Hello \xD8"},
        {"a stray byte in the text", "telegram:42", "a\xFFz"},
        {"a stray byte in the URN (found by fuzz_telegram)",
         "tel:+9627912345\xA7"
         "67",
         "Hello"},
        {"a WhatsApp URN read in place (found by fuzz_twilio under ASan)", "whatsapp:962791234567", "Hi"},
    };
    for (const handler_type& type : register_all()) {
        const auto h = type.make(settings_for(type));
        for (const auto& c : cases) {
            SCOPED_TRACE(type.name + ": " + c.label);
            outgoing_message m;
            m.id = "6f1c2f7e-0000-4000-8000-000000000001";
            m.channel_id = "c1";
            m.urn = c.urn;
            m.text = c.text;
            send_request req;
            EXPECT_NO_THROW(req = h->build_send(m));
            if (find_header(req.headers, "Content-Type") == "application/json") {
                EXPECT_TRUE(is_valid_utf8(req.body)) << req.body;
            }
        }
    }
}

}  // namespace
}  // namespace flowgate::handlers
