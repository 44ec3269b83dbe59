// Our flow format (flows/loader.hpp): a flow file as staff write it. Input: the JSON document.

#include "flows/loader.hpp"

#include "fuzz/common.hpp"

using namespace flowgate;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto doc = nlohmann::json::parse(fuzz::as_text(data, size), nullptr, false);
    if (doc.is_discarded()) {
        return 0;
    }
    const flows::load_result result = flows::load_flow(doc);
    fuzz::require(result.loaded.has_value() == result.problems.empty(),
                  "a flow loads iff it has no problems");
    if (result.loaded) {
        fuzz::require(!result.loaded->nodes.empty(), "a loaded flow has a first node");
    }
    return 0;
}
