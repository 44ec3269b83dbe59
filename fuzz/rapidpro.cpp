// RapidPro/TextIt exports (flows/rapidpro.hpp). Input: the JSON export or a single flow.

#include "flows/rapidpro.hpp"

#include "fuzz/common.hpp"

using namespace flowgate;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto doc = nlohmann::json::parse(fuzz::as_text(data, size), nullptr, false);
    if (doc.is_discarded()) {
        return 0;
    }
    const flows::export_result result = flows::load_rapidpro_export(doc, {"en", "ar"});
    fuzz::require(result.problems.empty() || result.flows.empty(), "no flows when there are problems");
    return 0;
}
