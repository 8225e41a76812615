// The config model's errors are the project's one error type (core/result.h).
#pragma once

#include "core/result.h"

namespace fulcrum::config {
using fulcrum::error;
using fulcrum::result;
} // namespace fulcrum::config
