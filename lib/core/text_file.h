// Reading a file an operator named (a config, a state file, `apply FILE`, `load FILE`):
// only a regular file, and only up to a size, so a FIFO cannot hang the control thread
// and /dev/zero cannot fill memory. Replacing a file Fulcrum keeps (the BGP speaker's
// include files, the lport rotations): whole or not at all.
#pragma once

#include "core/result.h"

#include <cstddef>
#include <string>

namespace fulcrum {

constexpr size_t max_config_file_bytes = size_t(64) << 20;

// The file's text; an error naming `what` (the option or command) otherwise.
result<std::string> read_text_file(const std::string &path, const std::string &what,
                                   size_t max_bytes = max_config_file_bytes);

// `data` into `path` by way of `path`.tmp (opened without following a link someone left
// there), with `mode` whatever the umask, then renamed over `path`; false with
// "cannot write PATH: reason" in `err`.
bool replace_file(const std::string &path, const std::string &data, unsigned mode, std::string &err);

} // namespace fulcrum
