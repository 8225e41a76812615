// Errors are values on the control path (and in set-up code the data plane shares): every rejected input names the field and the
// rule it broke, so an operator can fix the request without reading the code.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace fulcrum {

struct error {
    std::string field; // JSON path, e.g. "listeners[0].ListenerPort"
    std::string rule;  // what the value must be, e.g. "must be an integer 1-65535"

    std::string message() const { return "field '" + field + "': " + rule; }
};

template <class T>
class result {
  public:
    result(T value) : _v(std::move(value)) {}
    result(error err) : _v(std::move(err)) {}

    bool ok() const { return std::holds_alternative<T>(_v); }
    explicit operator bool() const { return ok(); }
    T &value() { return std::get<T>(_v); }
    const T &value() const { return std::get<T>(_v); }
    const error &err() const { return std::get<error>(_v); }

  private:
    std::variant<T, error> _v;
};

} // namespace fulcrum
