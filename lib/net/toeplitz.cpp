#include "net/toeplitz.h"

#include <sys/random.h>

#include <arpa/inet.h>

#include <stdexcept>

namespace fulcrum::net {

unsigned port_rank(unsigned bits, bool v6) {
    // Gaussian elimination over GF(2) of the images of the 16 single-bit ports.
    uint32_t rows[16];
    for (int i = 0; i < 16; i++) {
        uint16_t port = htons(static_cast<uint16_t>(1u << i));
        rows[i] = (v6 ? port_part6(port) : port_part(port)) & ((1u << bits) - 1);
    }
    unsigned rank = 0;
    for (unsigned bit = 0; bit < bits; bit++) {
        int pivot = -1;
        for (int i = int(rank); i < 16; i++)
            if (rows[i] >> bit & 1) {
                pivot = i;
                break;
            }
        if (pivot < 0) continue;
        std::swap(rows[rank], rows[pivot]);
        for (int i = 0; i < 16; i++)
            if (i != int(rank) && (rows[i] >> bit & 1)) rows[i] ^= rows[rank];
        rank++;
    }
    return rank;
}

void randomize_rss_key() {
    for (int attempt = 0; attempt < 64; attempt++) {
        uint8_t k[rss_key_size];
        if (getrandom(k, sizeof k, 0) != ssize_t(sizeof k)) throw std::runtime_error("getrandom failed");
        uint8_t old[rss_key_size];
        std::copy(std::begin(rss_key), std::end(rss_key), old);
        std::copy(std::begin(k), std::end(k), rss_key);
        if (port_rank(12) == 12 && port_rank(12, true) == 12) return;
        std::copy(std::begin(old), std::end(old), rss_key);
    }
}

} // namespace fulcrum::net
