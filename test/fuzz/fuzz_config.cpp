// libFuzzer target: a configuration file's text. Whatever parses must survive
// instance -> JSON -> instance unchanged (the state file depends on it).
#include "config/json_text.h"
#include "config/parse.h"

#include <cstdlib>
#include <string_view>

using namespace fulcrum;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    auto doc = config::parse_json_text(std::string_view(reinterpret_cast<const char *>(data), size), "--config");
    if (!doc) return 0;
    auto cfg = config::parse_instance(doc.value());
    if (!cfg) return 0;
    nlohmann::json once = config::instance_to_json(cfg.value());
    auto again = config::parse_instance(once);
    if (!again || config::instance_to_json(again.value()) != once) std::abort();
    return 0;
}
