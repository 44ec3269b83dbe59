#pragma once
// Our own flow format (docs/flows.md) → the flow model. Pure: the caller reads the file.

#include <nlohmann/json.hpp>
#include <optional>

#include "common/types.hpp"
#include "flows/model.hpp"

namespace flowgate::flows {

struct load_result {
    std::optional<flow> loaded;   // set only when there are no problems
    flowgate::problems problems;  // every problem found, each with a JSON pointer into `doc`
};

load_result load_flow(const nlohmann::json& doc);

}  // namespace flowgate::flows
