#pragma once
// RapidPro/TextIt exports (flow spec 13.x and 14.x) → the flow model. Pure: the caller reads the
// file. The supported subset is in docs/flows.md "RapidPro/TextIt exports"; anything else is a
// problem naming the flow, the node and the type, never skipped.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/types.hpp"
#include "flows/model.hpp"

namespace flowgate::flows {

struct export_result {
    std::vector<flow> flows;      // every flow of the export; empty when there are problems
    flowgate::problems problems;  // each with a JSON pointer into the export, e.g. "/flows/0/nodes/3"
};

// `doc` is an export ({"version": "13", "flows": [...], ...}) or a single flow definition.
// `languages` are the deployment's (config "languages"): the flows' ISO 639-3 codes are mapped to
// them ("ara" → "ar"), and a base language it does not have ("base", "und", ...) becomes the first.
// Each flow's id is its UUID; flow_set::find also finds it by name.
export_result load_rapidpro_export(const nlohmann::json& doc, const std::vector<std::string>& languages);

}  // namespace flowgate::flows
