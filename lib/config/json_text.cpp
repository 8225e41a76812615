#include "config/json_text.h"

namespace fulcrum::config {

unsigned json_depth(std::string_view text, unsigned limit) {
    unsigned depth = 0, deepest = 0;
    bool in_string = false, escaped = false;
    for (char ch : text) {
        if (in_string) {
            if (escaped) escaped = false;
            else if (ch == '\\') escaped = true;
            else if (ch == '"') in_string = false;
            continue;
        }
        if (ch == '"') {
            in_string = true;
        } else if (ch == '[' || ch == '{') {
            if (++depth > deepest && (deepest = depth) >= limit) return deepest;
        } else if ((ch == ']' || ch == '}') && depth > 0) {
            depth--;
        }
    }
    return deepest;
}

result<nlohmann::json> parse_json_text(std::string_view text, const std::string &what, size_t max_bytes,
                                       unsigned max_depth) {
    if (text.size() > max_bytes)
        return error{what, "is " + std::to_string(text.size()) + " bytes; at most " + std::to_string(max_bytes)};
    if (json_depth(text, max_depth + 1) > max_depth)
        return error{what, "nests objects and arrays deeper than " + std::to_string(max_depth)};
    auto doc = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
    if (doc.is_discarded()) return error{what, "must be valid JSON (UTF-8)"};
    return doc;
}

} // namespace fulcrum::config
