// Per-worker memory on the worker's NUMA socket (rte_malloc: hugepage memory when EAL
// has it), zeroed. A failed allocation throws allocation_failed naming what and how
// much; the instance turns it into an error result (instance::create), so it never
// reaches the process's terminate.
#pragma once

#include <rte_malloc.h>

#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace fulcrum::dataplane {

struct allocation_failed : std::runtime_error {
    using std::runtime_error::runtime_error;
};

[[noreturn]] inline void fail_allocation(const char *what, size_t bytes, int socket) {
    throw allocation_failed(std::string("cannot allocate ") + what + " (" + std::to_string(bytes) + " bytes" +
                            (socket >= 0 ? " on NUMA socket " + std::to_string(socket) : std::string()) + ")");
}

template <class T>
T *socket_array(const char *what, size_t n, int socket) {
    static_assert(std::is_trivially_destructible_v<T>); // freed with rte_free, no destructor
    void *p = rte_zmalloc_socket("fulcrum_worker", n * sizeof(T), RTE_CACHE_LINE_SIZE, socket);
    if (!p) fail_allocation(what, n * sizeof(T), socket);
    T *a = static_cast<T *>(p);
    for (size_t i = 0; i < n; i++) new (a + i) T();
    return a;
}

struct rte_free_deleter {
    void operator()(void *p) const { rte_free(p); }
};

} // namespace fulcrum::dataplane
