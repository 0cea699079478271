#pragma once
// Which of CTest's parallel slots this test process holds, so that tests running side by side
// (ctest -j) never share a loopback address (and so no address and port). CTest hands each test one "loopback"
// resource from app/test/resources.json (RESOURCE_GROUPS "loopback:1" in app/CMakeLists.txt)
// and names it in CTEST_RESOURCE_GROUP_0_LOOPBACK as "id:N,slots:1"; a test binary run by
// hand has none and takes slot 0.
#include <cstdlib>
#include <string>

namespace redisdr::testing {

inline int testSlot() {
    const char* allocation = std::getenv("CTEST_RESOURCE_GROUP_0_LOOPBACK");
    if (allocation == nullptr) return 0;
    const std::string text = allocation;
    const auto id = text.find("id:");
    return id == std::string::npos ? 0 : std::atoi(text.c_str() + id + 3);
}

// "127.0.X." for a /24 of this slot: BASE for slot 0, twenty further on for each next slot.
inline std::string slotSubnet(int base) { return "127.0." + std::to_string(base + 20 * testSlot()) + "."; }

}  // namespace redisdr::testing
