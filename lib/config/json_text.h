// JSON text from outside (requests, files) is measured before it is parsed: its size and
// how deeply it nests. A 100,000-deep array parses, but copying or walking it recurses
// once per level, so a bound here keeps the parser's output safe to handle.
#pragma once

#include "config/result.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string_view>

namespace fulcrum::config {

constexpr size_t max_json_bytes = 1 << 20; // requests; files may be larger (see load_json_file)
constexpr unsigned max_json_depth = 64;    // objects and arrays inside each other

// The deepest nesting of `text` (brackets outside strings), stopping early past `limit`.
unsigned json_depth(std::string_view text, unsigned limit = max_json_depth + 1);

// Size and depth checked, then parsed without exceptions: the document, or an error
// naming `what` and the rule broken.
result<nlohmann::json> parse_json_text(std::string_view text, const std::string &what,
                                       size_t max_bytes = max_json_bytes, unsigned max_depth = max_json_depth);

} // namespace fulcrum::config
