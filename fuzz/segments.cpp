// SMS segment counting (flows/segments.hpp) and the text splitting for providers that do not join
// parts (handlers::split_text). Input: the first byte is split_text's limit, the rest the text.

#include "flows/segments.hpp"

#include "fuzz/common.hpp"

using namespace flowgate;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    const std::size_t limit = data[0] == 0 ? 4096 : data[0];
    const std::string_view text = fuzz::as_text(data + 1, size - 1);

    const flows::segment_info info = flows::count_segments(text);
    fuzz::require((info.segments == 0) == text.empty(), "only the empty text has no segments");
    fuzz::require((info.units == 0) == text.empty(), "only the empty text has no units");
    const std::size_t single = info.encoding == flows::sms_encoding::gsm7 ? 160 : 70;
    const std::size_t part = info.encoding == flows::sms_encoding::gsm7 ? 153 : 67;
    if (info.units <= single) {
        fuzz::require(info.segments <= 1, "a short text is one segment");
    } else {
        fuzz::require(info.segments * part >= info.units, "the segments hold every unit");
    }

    const std::vector<std::string> parts = handlers::split_text(text, limit);
    std::string joined;
    for (const auto& p : parts) {
        fuzz::require(!p.empty(), "no empty part");
        joined += p;
    }
    fuzz::require(joined == text, "the parts joined give the text back");
    return 0;
}
