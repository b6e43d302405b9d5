#define BOOST_TEST_MODULE crc32c
#include <boost/test/unit_test.hpp>

#include <cstring>
#include <vector>

#include "target/iscsi/crc32c.hpp"

using namespace iscsilab::iscsi;

namespace {
std::vector<std::byte> bytes(std::initializer_list<int> v) {
    std::vector<std::byte> out;
    for (int x : v) out.push_back(static_cast<std::byte>(x));
    return out;
}
std::vector<std::byte> filled(std::size_t n, int (*f)(std::size_t)) {
    std::vector<std::byte> out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::byte>(f(i));
    return out;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(crc32c_suite)

BOOST_AUTO_TEST_CASE(check_value) {
    const char* s = "123456789";
    std::vector<std::byte> b(9);
    std::memcpy(b.data(), s, 9);
    BOOST_TEST(crc32c(b) == 0xe3069283u);  // the Castagnoli check value
    BOOST_TEST(crc32c_table(b) == 0xe3069283u);
}

// RFC 3720 appendix B.4: the CRC travels as bytes aa 36 91 8a etc. (little-endian).
BOOST_AUTO_TEST_CASE(rfc3720_b4_vectors) {
    BOOST_TEST(crc32c(filled(32, [](std::size_t) { return 0; })) == 0x8a9136aau);
    BOOST_TEST(crc32c(filled(32, [](std::size_t) { return 0xff; })) == 0x62a8ab43u);
    BOOST_TEST(crc32c(filled(32, [](std::size_t i) { return int(i); })) == 0x46dd794eu);
    BOOST_TEST(crc32c(filled(32, [](std::size_t i) { return int(31 - i); })) == 0x113fdb5cu);
    auto pdu = bytes({0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                      0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
                      0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
                      0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00});
    BOOST_TEST(crc32c(pdu) == 0xd9963a56u);
}

BOOST_AUTO_TEST_CASE(incremental_equals_whole) {
    auto all = filled(1000, [](std::size_t i) { return int((i * 7 + 3) & 0xff); });
    std::uint32_t whole = crc32c(all);
    for (std::size_t cut : {0, 1, 7, 8, 9, 500, 999, 1000}) {
        std::span<const std::byte> a(all.data(), cut), b(all.data() + cut, all.size() - cut);
        BOOST_TEST(crc32c(b, crc32c(a)) == whole);
    }
}

BOOST_AUTO_TEST_CASE(hardware_matches_table) {
    BOOST_TEST_MESSAGE("SSE4.2 CRC32C: " << (crc32c_has_hardware() ? "yes" : "no"));
    for (std::size_t n = 0; n < 300; ++n) {
        auto v = filled(n, [](std::size_t i) { return int((i * 131 + 17) & 0xff); });
        BOOST_TEST(crc32c(v) == crc32c_table(v));
    }
}

BOOST_AUTO_TEST_SUITE_END()
