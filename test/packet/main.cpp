// Packet tests run a real EAL in --no-huge mode with no PCI bus; ports are net_ring
// (rte_eth_from_rings) and net_null vdevs created by the tests themselves.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <rte_eal.h>

#include <string>
#include <unistd.h>

int main(int argc, char **argv) {
    std::string prefix = "--file-prefix=fulcrum_pkt_" + std::to_string(getpid());
    const char *eal[] = {"packet_test", "--no-huge", "-m", "512", "--no-pci", "-l", "0",
                         prefix.c_str(), "--log-level=lib.eal:error", "--no-telemetry"};
    if (rte_eal_init(sizeof(eal) / sizeof(eal[0]), const_cast<char **>(eal)) < 0) return 1;
    int rc = Catch::Session().run(argc, argv);
    rte_eal_cleanup();
    return rc;
}
