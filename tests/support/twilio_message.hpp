#pragma once
// An inbound SMS as Twilio posts it: the parameters of a real webhook, in its order. Shared by the
// provider tests and the benchmarks, so every measured or tested request has the real shape.

#include <string>

#include "handlers/form.hpp"

namespace flowgate::test {

inline handlers::form_fields twilio_message(const std::string& sid,
                                            const std::string& account_sid,
                                            const std::string& from,
                                            const std::string& to,
                                            const std::string& text) {
    return {{"ToCountry", "JO"},
            {"ToState", ""},
            {"SmsMessageSid", sid},
            {"NumMedia", "0"},
            {"ToCity", ""},
            {"FromZip", ""},
            {"SmsSid", sid},
            {"FromState", ""},
            {"SmsStatus", "received"},
            {"FromCity", ""},
            {"Body", text},
            {"FromCountry", "JO"},
            {"To", to},
            {"ToZip", ""},
            {"NumSegments", "1"},
            {"MessageSid", sid},
            {"AccountSid", account_sid},
            {"From", from},
            {"ApiVersion", "2010-04-01"}};
}

}  // namespace flowgate::test
