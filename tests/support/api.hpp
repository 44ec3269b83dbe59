#pragma once
// Test support for the admin API: a token per role, made as an operator makes them.

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "tests/support/process.hpp"

namespace flowgate::test {

// "viewer", "staff" and "admin" → a token of that role named after it, from
// `flowgate token create --config FILE` (a failure is reported and leaves that role out).
inline std::map<std::string, std::string> make_role_tokens(const std::string& config_file) {
    std::map<std::string, std::string> tokens;
    for (const char* role : {"viewer", "staff", "admin"}) {
        const auto out =
            run_flowgate({"token", "create", "--config", config_file, "--role", role, "--name", role});
        const std::string token = out.output.substr(0, out.output.find('\n'));
        if (out.exit_code != 0 || token.size() != 67) {  // "fg_" and 64 hex characters
            ADD_FAILURE() << "token create --role " << role << ": " << out.output;
            continue;
        }
        tokens[role] = token;
    }
    return tokens;
}

}  // namespace flowgate::test
