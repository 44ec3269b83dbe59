#pragma once
// Our own flow format (docs/flows.md) → the flow model. Pure: the caller reads the file.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/types.hpp"
#include "flows/keywords.hpp"
#include "flows/model.hpp"

namespace flowgate::flows {

struct load_result {
    std::optional<flow> loaded;   // set only when there are no problems
    flowgate::problems problems;  // every problem found, each with a JSON pointer into `doc`
    flowgate::problems warnings;  // the flow loads, but something costs or risks (check shows them)
};

struct load_options {
    // A survey's first message should name one of these, so participants know how to opt out.
    std::vector<std::string> stop_words = standing_keywords{}.stop;
};

load_result load_flow(const nlohmann::json& doc, const load_options& options = {});

}  // namespace flowgate::flows
