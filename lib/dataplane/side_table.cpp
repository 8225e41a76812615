#include "dataplane/side_table.h"

#include "dataplane/headers.h"

#include "dataplane/socket_memory.h"

#include <sys/mman.h>

namespace fulcrum::dataplane {

side_table::side_table(uint32_t capacity) : _capacity(capacity) {
    size_t bytes = size_t(capacity) * sizeof(conn_side);
    void *p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) fail_allocation("the side table (address space)", bytes, -1);
    _e = static_cast<conn_side *>(p);
}

side_table::~side_table() { munmap(_e, size_t(_capacity) * sizeof(conn_side)); }

} // namespace fulcrum::dataplane
