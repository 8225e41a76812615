#include "net/checksum.h"

#include <catch2/catch.hpp>

#include <cstring>
#include <random>

using namespace fulcrum::net;

TEST_CASE("incremental update equals full recomputation for random rewrites (RFC 1624)", "[checksum]") {
    std::mt19937 rng(42);
    for (int iter = 0; iter < 20000; iter++) {
        uint8_t buf[40];
        for (auto &b : buf) b = static_cast<uint8_t>(rng());
        buf[10] = buf[11] = 0;
        uint16_t check = static_cast<uint16_t>(~csum_buffer(buf, sizeof buf));
        std::memcpy(buf + 10, &check, 2);
        REQUIRE(csum_buffer(buf, sizeof buf) == 0xffff);

        uint32_t old_a, old_b, new_a = rng(), new_b = rng();
        uint16_t old_p, new_p = static_cast<uint16_t>(rng());
        std::memcpy(&old_a, buf + 12, 4);
        std::memcpy(&old_b, buf + 16, 4);
        std::memcpy(&old_p, buf + 20, 2);
        uint32_t d = csum_replace16(csum_replace32(csum_replace32(0, old_a, new_a), old_b, new_b), old_p, new_p);
        std::memcpy(buf + 12, &new_a, 4);
        std::memcpy(buf + 16, &new_b, 4);
        std::memcpy(buf + 20, &new_p, 2);
        uint16_t updated = csum_apply(check, csum_fold(d));
        std::memcpy(buf + 10, &updated, 2);
        REQUIRE(csum_buffer(buf, sizeof buf) == 0xffff);

        // Applying the negated delta restores the original header and checksum.
        std::memcpy(buf + 12, &old_a, 4);
        std::memcpy(buf + 16, &old_b, 4);
        std::memcpy(buf + 20, &old_p, 2);
        uint16_t back = csum_apply(updated, csum_negate(csum_fold(d)));
        std::memcpy(buf + 10, &back, 2);
        REQUIRE(csum_buffer(buf, sizeof buf) == 0xffff);
    }
}
